# pneumoscan: build the two wasm binaries, generate the static site, serve it, test it.
# Only Go (/usr/local/go) is needed for `make run`; `make test` also installs Chromium
# for the browser test when it is missing.

GO      ?= $(shell command -v go 2>/dev/null || echo /usr/local/go/bin/go)
# Go 1.27 (go.mod): the go command fetches this toolchain from the module proxy once per
# machine (about 76 MB), whatever Go is installed. GOEXPERIMENT=simd builds the SIMD
# micro-kernels (sgemm: WebAssembly SIMD128 in the page's worker, AVX2/AVX-512 natively,
# picked from the CPU's features at start); `make test` also tests the scalar build.
export GOTOOLCHAIN  := go1.27.3
export GOEXPERIMENT := simd
# The toolchain's own wasm runner (node + its wasm_exec.js, which must match the toolchain).
WASM_EXEC = $(shell GOTOOLCHAIN=$(GOTOOLCHAIN) $(GO) env GOROOT)/lib/wasm/go_js_wasm_exec
# -s -w: no symbol table or DWARF in the wasm the page downloads (tracebacks keep their
# function names, which come from the pclntab); 2.5 MB gzip instead of 2.45 for the worker.
WASMFLAGS = -trimpath -ldflags="-s -w"
# make run listens on loopback only; serve the clinic's network with e.g.
#   make run ADDR=0.0.0.0:8443 TLS_DIR=.cache/tls TLS_HOSTS=scanner.clinic.lan,192.168.1.20
# TLS_DIR: serve HTTPS with a self-signed certificate kept there (made once, then reused);
# SERVER_FLAGS: any other server flags, e.g. "-tls-cert c.pem -tls-key k.pem -max-inflight 2".
ADDR    ?= 127.0.0.1:8080
TLS_DIR ?=
TLS_HOSTS ?=
SERVER_FLAGS ?=
MODEL   ?= models/default.onnx
STATIC  ?= static
BIN     ?= bin
SUDO    := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

GOFILES := $(shell find . -name '*.go' -not -path './node_modules/*' -not -path './static/*') go.mod go.sum
WEBASSETS := $(wildcard web/assets/*)

.PHONY: run build static test clean

run: static
	$(GO) run ./server -addr $(ADDR) -model $(MODEL) -static $(STATIC)$(if $(TLS_DIR), -tls-self-signed $(TLS_DIR))$(if $(TLS_HOSTS), -tls-host $(TLS_HOSTS)) $(SERVER_FLAGS)

build: static

static: $(STATIC)/index.html

$(BIN)/app.wasm: $(GOFILES)
	@mkdir -p $(BIN)
	GOOS=js GOARCH=wasm $(GO) build $(WASMFLAGS) -o $@ ./wasm/app

$(BIN)/worker.wasm: $(GOFILES)
	@mkdir -p $(BIN)
	GOOS=js GOARCH=wasm $(GO) build $(WASMFLAGS) -o $@ ./wasm/worker

$(BIN)/refworker.wasm: $(GOFILES)
	@mkdir -p $(BIN)
	GOOS=js GOARCH=wasm $(GO) build $(WASMFLAGS) -o $@ ./wasm/refworker

# The site embeds the model: a stamp named after the model's sha256 makes `make run MODEL=x`
# regenerate it whenever x is another model than the one static/ was made for, whatever the
# files' dates.
MODEL_SHA := $(shell sha256sum $(MODEL) 2>/dev/null | cut -c1-16)
$(BIN)/model-$(MODEL_SHA).stamp: $(MODEL)
	@mkdir -p $(BIN)
	@rm -f $(BIN)/model-*.stamp
	@touch $@

# The model's Markdown card (x.md beside x.onnx), when it has one, is rendered into the site too.
MODEL_CARD := $(wildcard $(basename $(MODEL)).md)
$(STATIC)/index.html: $(BIN)/app.wasm $(BIN)/worker.wasm $(BIN)/refworker.wasm $(BIN)/model-$(MODEL_SHA).stamp $(MODEL) $(MODEL_CARD) $(WEBASSETS) $(GOFILES)
	$(GO) run ./server -gen -wasm $(BIN) -model $(MODEL) -static $(STATIC)

# axe-core (npm) for the browser test's accessibility checks: its own prefix, so that the
# --no-save installs of ort-web and of axe never remove each other's packages.
AXE_VERSION := 4.14.1
AXE_DIR     := .cache/axe
axe:
	@command -v npm >/dev/null || { echo "installing npm for axe-core"; $(SUDO) apt-get update && $(SUDO) apt-get install -y npm; }
	@grep -qs '"version": "$(AXE_VERSION)"' $(AXE_DIR)/node_modules/axe-core/package.json || \
		npm install --prefix $(AXE_DIR) --no-save --no-package-lock --no-audit --no-fund --ignore-scripts axe-core@$(AXE_VERSION)

test:
	@if [ ! -x /usr/bin/chromium ]; then \
		echo "installing chromium for the browser test"; \
		$(SUDO) apt-get update && $(SUDO) apt-get install -y chromium chromium-driver; \
	fi
	@if ! command -v node >/dev/null; then \
		echo "installing node.js for the WebAssembly kernel tests"; \
		$(SUDO) apt-get update && $(SUDO) apt-get install -y nodejs; \
	fi
	@$(MAKE) --no-print-directory axe
	$(GO) test ./...
	@echo "the scalar fallback (no GOEXPERIMENT=simd), natively and in WebAssembly; the SIMD kernels in WebAssembly:"
	GOEXPERIMENT= $(GO) test ./sgemm/ ./convnet/
	GOEXPERIMENT= GOOS=js GOARCH=wasm $(GO) test -exec $(WASM_EXEC) ./sgemm/
	GOOS=js GOARCH=wasm $(GO) test -exec $(WASM_EXEC) ./sgemm/

clean:
	rm -rf $(BIN) testout
	find $(STATIC) -mindepth 1 -maxdepth 1 ! -name README.md -exec rm -rf {} +

# bench: the engine on one thread against onnxruntime-node (1 intra-op thread) on the same
# input tensors, each sgemm micro-kernel of this build (bench/native), then the GEMM rates
# on ResNet50's layer shapes. onnxruntime-node is installed (exact version, without its
# install script, which fetches CUDA binaries) into the git-ignored node_modules/ for the
# benchmark only. BENCH_ARGS e.g. "-n 10 -runs 5".
ORT_NODE_VERSION := 1.30.0
BENCH_ARGS ?=
# fuzz: every `go test -fuzz` target in turn, FUZZTIME each (docs/fuzzing.md has the runs and
# findings). One worker by default (FUZZ_PARALLEL), so the machine stays usable. A crasher is
# written under <package>/testdata/fuzz/<target>/ (make test then runs it as a seed); the other
# targets still run, and make fuzz fails at the end naming the targets that found one.
FUZZTIME ?= 10m
FUZZ_PARALLEL ?= 1
FUZZ_TARGETS := imagedecode:FuzzDecode imagedecode:FuzzDICOM imagedecode:FuzzJPEGLossless \
	preprocess:FuzzTensor model:FuzzParseMetadata modelfile:FuzzReadModel server/api:FuzzScreen \
	onnxpb:FuzzCrossCheck

.PHONY: fuzz
fuzz:
	@failed=; for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; name=$${t##*:}; \
		echo "== $$name (./$$pkg, $(FUZZTIME), $$(date -u +%FT%TZ))"; \
		$(GO) test ./$$pkg -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) -parallel $(FUZZ_PARALLEL) || failed="$$failed $$name"; \
	done; \
	if [ -n "$$failed" ]; then echo "fuzz: found something in:$$failed"; exit 1; fi

.PHONY: bench bench-train ort-node axe
ort-node: ort-web

bench: ort-node
	$(GO) run ./bench/native $(BENCH_ARGS)
	$(GO) test ./sgemm/ -run XXX -bench Mul -benchtime 3x

# BENCH_TAGS=openblas runs the gorgonia fine-tuning rows on OpenBLAS (needs cgo and
# libopenblas-dev); BENCH_TRAIN_FLAGS e.g. "-frozen=false -full-steps 0" limits the rows.
BENCH_TAGS ?=
BENCH_TRAIN_FLAGS ?=
bench-train:
	$(GO) run $(if $(BENCH_TAGS),-tags $(BENCH_TAGS)) ./training/cmd/benchtrain $(BENCH_TRAIN_FLAGS)

# bench-web: the page's own worker vs onnxruntime-web in one headless Chromium run, then
# the native engine figures (see bench/web/main.go). Not part of `make test` or CI: it
# takes minutes and its numbers depend on the machine. Pass flags with
# BENCH_WEB_ARGS, e.g. `make bench-web BENCH_WEB_ARGS="-n 4 -onnxgo 1"`.
# onnxruntime-web is installed (exact version) into the git-ignored node_modules/ only for
# the benchmark page; the product never loads it.
ORT_VERSION   := 1.30.0
BENCH_WEB_OUT ?= runs/bench-web.md
BENCH_WEB_ARGS ?=

.PHONY: bench-web ort-web
# Both onnxruntime packages in one npm call: a --no-save install removes what it did not name.
ort-web:
	@grep -qs '"version": "$(ORT_VERSION)"' node_modules/onnxruntime-web/package.json && \
	grep -qs '"version": "$(ORT_NODE_VERSION)"' node_modules/onnxruntime-node/package.json || \
		npm install --prefix . --no-save --no-package-lock --no-audit --no-fund --ignore-scripts \
			onnxruntime-web@$(ORT_VERSION) onnxruntime-node@$(ORT_NODE_VERSION)

bench-web: static ort-web
	$(GO) run ./bench/web -static $(STATIC) -model $(MODEL) -out $(BENCH_WEB_OUT) $(BENCH_WEB_ARGS)
	@echo "native engine figures: go test ./convnet/ -run XXX -bench ResNet50 -benchtime 3x (about a minute)"
	@$(GO) test ./convnet/ -run XXX -bench ResNet50 -benchtime 3x > $(BENCH_WEB_OUT).native 2>&1; status=$$?; \
		{ printf '\n## native engine figures: go test ./convnet/ -run XXX -bench ResNet50 -benchtime 3x\n\n```\n'; \
		  cat $(BENCH_WEB_OUT).native; printf '```\n'; } | tee -a $(BENCH_WEB_OUT); \
		rm -f $(BENCH_WEB_OUT).native; exit $$status

# bench-server: a bounded load test of the native server on loopback (bench/server): 1,000
# requests from 8 clients mixing valid films and hostile files, p50/p99 per kind, the
# server's peak resident set (fails over 1 GiB), every valid answer checked against the
# film's answer alone. About 5 minutes on 2 cores; not part of `make test` (its smoke test,
# tiny model, is). Flags via BENCH_SERVER_ARGS, e.g. BENCH_SERVER_ARGS="-n 200 -slow 0".
BENCH_SERVER_OUT ?= runs/bench-server.md
BENCH_SERVER_ARGS ?=

.PHONY: bench-server
bench-server:
	$(GO) run ./bench/server -go $(GO) -model $(MODEL) -out $(BENCH_SERVER_OUT) $(BENCH_SERVER_ARGS)
