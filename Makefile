# pneumoscan: build the two wasm binaries, generate the static site, serve it, test it.
# Only Go (/usr/local/go) is needed for `make run`; `make test` also installs Chromium
# for the browser test when it is missing.

GO      ?= $(shell command -v go 2>/dev/null || echo /usr/local/go/bin/go)
ADDR    ?= :8080
MODEL   ?= models/default.onnx
STATIC  ?= static
BIN     ?= bin
SUDO    := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

GOFILES := $(shell find . -name '*.go' -not -path './node_modules/*' -not -path './static/*') go.mod go.sum
WEBASSETS := $(wildcard web/assets/*)

.PHONY: run build static test clean

run: static
	$(GO) run ./server -addr $(ADDR) -model $(MODEL) -static $(STATIC)

build: static

static: $(STATIC)/index.html

$(BIN)/app.wasm: $(GOFILES)
	@mkdir -p $(BIN)
	GOOS=js GOARCH=wasm $(GO) build -trimpath -o $@ ./wasm/app

$(BIN)/worker.wasm: $(GOFILES)
	@mkdir -p $(BIN)
	GOOS=js GOARCH=wasm $(GO) build -trimpath -o $@ ./wasm/worker

$(STATIC)/index.html: $(BIN)/app.wasm $(BIN)/worker.wasm $(MODEL) $(WEBASSETS) $(GOFILES)
	$(GO) run ./server -gen -wasm $(BIN) -model $(MODEL) -static $(STATIC)

test:
	@if [ ! -x /usr/bin/chromium ]; then \
		echo "installing chromium for the browser test"; \
		$(SUDO) apt-get update && $(SUDO) apt-get install -y chromium chromium-driver; \
	fi
	$(GO) test ./...

clean:
	rm -rf $(STATIC) $(BIN) testout

.PHONY: bench bench-train
bench:
	$(GO) test ./convnet/ ./sgemm/ -run XXX -bench . -benchtime 2x

bench-train:
	$(GO) run ./training/cmd/benchtrain
