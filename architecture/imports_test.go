// Package architecture holds the test that keeps the import graph the way
// docs/architecture.md draws it: data flows one way (decode -> preprocess -> model ->
// explain -> present), the contract and the model-file library sit below everything that
// runs a model, the screening path never names an engine, the page's UI knows nothing of
// models, no library imports a command, and the product's worker links no onnx-go and no
// protobuf-go beyond protowire.
//
// It asks `go list` for the real graph, so a forbidden import fails `make test` with the
// rule it breaks, and a new package fails until it is placed in a layer here and in the doc.
package architecture

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "pneumoscan"

// layers, lowest first. A library may import project packages of lower layers only, and of
// its own layer where sameLayer allows it. Commands (package main) may import any library.
// A pattern ending in "/..." matches the folder and everything below it.
var layers = []struct {
	name string
	pkgs []string
}{
	{"foundations: no project imports", []string{"onnxpb/...", "atomicfile", "sgemm", "quant", "resnet", "imagedecode", "internal/...", "cli"}},
	{"the model contract and the data layout", []string{"model", "dataset"}},
	{"the model-file library", []string{"modelfile", "modelfile/torchvision"}},
	{"preprocess, explain and measure", []string{"filmcheck", "preprocess", "gradcam", "metrics"}},
	{"engines", []string{"convnet", "inference"}},
	{"the screening path", []string{"screen"}},
	{"services, UI and tools", []string{"web", "wasm/bridge", "server/...", "modelconv/parity", "training/...", "bench/internal/..."}},
}

// sameLayer lists the imports allowed inside one layer.
var sameLayer = map[string][]string{
	"modelfile/torchvision": {"modelfile"},
	"server/...":            {"server/...", "web"}, // the server's parts; the site generator prerenders the page
	"training/...":          {"training/..."},      // the trainer's libraries build on each other
}

// forbidden are imports no layer order would catch.
var forbidden = []struct{ from, to, why string }{
	{"screen", "convnet", "screen takes its engine as a value (model.Engine); each main picks one"},
	{"screen", "inference", "screen takes its engine as a value (model.Engine); each main picks one"},
	{"web", "...", "the page's UI talks to the worker by messages; models and screening live in the worker"},
	{"foundations", "...", "foundation packages stand alone"},
	{"...", "onnxpb/internal/pbgen", "the generated protobuf code is the onnxpb codec tests' reference only: linking it brings protobuf-go's runtime back"},
}

type pkg struct {
	ImportPath string
	Name       string
	Imports    []string
	GoFiles    []string
}

func goList(t *testing.T, env []string, args ...string) []pkg {
	t.Helper()
	cmd := exec.Command("go", append([]string{"list", "-json"}, args...)...)
	cmd.Dir = ".."
	cmd.Env = append(os.Environ(), env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list %v: %v\n%s", args, err, stderr.String())
	}
	var pkgs []pkg
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p pkg
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

func rel(importPath string) (string, bool) {
	if importPath == module {
		return "", true
	}
	r, ok := strings.CutPrefix(importPath, module+"/")
	return r, ok
}

func match(pattern, p string) bool {
	if pattern == "..." {
		return true
	}
	if base, ok := strings.CutSuffix(pattern, "/..."); ok {
		return p == base || strings.HasPrefix(p, base+"/")
	}
	return pattern == p
}

// layerOf returns the layer index and the pattern that places p, or -1.
func layerOf(p string) (int, string) {
	for i, l := range layers {
		for _, pat := range l.pkgs {
			if match(pat, p) {
				return i, pat
			}
		}
	}
	return -1, ""
}

// check is the whole rule set for one package's imports; it returns the broken rules.
func check(p string, isMain bool, imports []string, commands map[string]bool) []string {
	var errs []string
	li, pat := layerOf(p)
	if !isMain && li < 0 {
		return []string{fmt.Sprintf("%s is in no layer: place it in docs/architecture.md and in architecture/imports_test.go", p)}
	}
	for _, imp := range imports {
		q, ok := rel(imp)
		if !ok {
			continue
		}
		if commands[q] {
			errs = append(errs, fmt.Sprintf("%s imports the command %s: commands are never imported", p, q))
			continue
		}
		if match("modelconv/...", q) && !match("modelconv/...", p) {
			errs = append(errs, fmt.Sprintf("%s imports %s: what lives under a command serves that command only", p, q))
		}
		if match("training/...", q) && !match("training/...", p) {
			errs = append(errs, fmt.Sprintf("%s imports %s: the trainer's libraries serve the trainer only", p, q))
		}
		for _, f := range forbidden {
			from := f.from
			if from == "foundations" {
				if li != 0 {
					continue
				}
			} else if !match(from, p) {
				continue
			}
			if match(f.to, q) {
				errs = append(errs, fmt.Sprintf("%s imports %s: %s", p, q, f.why))
			}
		}
		if isMain {
			continue
		}
		qi, qpat := layerOf(q)
		switch {
		case qi < 0:
			errs = append(errs, fmt.Sprintf("%s imports %s, which is in no layer", p, q))
		case qi > li:
			errs = append(errs, fmt.Sprintf("%s (%s) imports %s (%s): imports go down the layers only", p, layers[li].name, q, layers[qi].name))
		case qi == li:
			allowed := false
			for _, a := range sameLayer[pat] {
				if match(a, q) {
					allowed = true
				}
			}
			if !allowed && qpat != "" {
				errs = append(errs, fmt.Sprintf("%s imports %s in its own layer (%s) without a sameLayer entry", p, q, layers[li].name))
			}
		}
	}
	return errs
}

func TestImportRules(t *testing.T) {
	pkgs := goList(t, nil, "./...")
	commands := map[string]bool{}
	for _, p := range pkgs {
		if r, ok := rel(p.ImportPath); ok && p.Name == "main" {
			commands[r] = true
		}
	}
	for _, p := range pkgs {
		r, ok := rel(p.ImportPath)
		if !ok || len(p.GoFiles) == 0 { // test-only packages (e2e, this one) are not linked anywhere
			continue
		}
		for _, e := range check(r, p.Name == "main", p.Imports, commands) {
			t.Error(e)
		}
	}
	// The browser binaries are built for GOOS=js, where go list ./... skips them.
	for _, p := range goList(t, []string{"GOOS=js", "GOARCH=wasm"}, "./wasm/...") {
		r, _ := rel(p.ImportPath)
		for _, e := range check(r, p.Name == "main", p.Imports, commands) {
			t.Error(e)
		}
	}
}

// TestBrowserBinariesLinkNoReferenceEngine: every visitor downloads app.wasm and worker.wasm,
// so neither may link onnx-go, gorgonia or gonum (the reference engine has its own binary,
// refworker, loaded on request), and the UI links no model code at all.
func TestBrowserBinariesLinkNoReferenceEngine(t *testing.T) {
	heavy := []string{"github.com/owulveryck/onnx-go", "gorgonia.org/", "gonum.org/"}
	for _, c := range []struct {
		pkg     string
		banned  []string
		mustUse []string
	}{
		{"./wasm/worker", heavy, []string{module + "/convnet", module + "/screen"}},
		{"./wasm/app", append(heavy, module+"/model", module+"/screen", module+"/convnet"), []string{module + "/web"}},
		{"./wasm/refworker", nil, []string{"github.com/owulveryck/onnx-go", module + "/inference"}},
	} {
		deps := map[string]bool{}
		for _, p := range goList(t, []string{"GOOS=js", "GOARCH=wasm"}, "-deps", c.pkg) {
			deps[p.ImportPath] = true
		}
		for d := range deps {
			for _, b := range c.banned {
				if strings.HasPrefix(d, b) {
					t.Errorf("%s links %s", c.pkg, d)
				}
			}
		}
		for _, m := range c.mustUse {
			if !deps[m] {
				t.Errorf("%s does not link %s: the test would pass for the wrong reason", c.pkg, m)
			}
		}
	}
}

// protowire is the one part of protobuf-go the product's worker may link (with what it
// imports): onnxpb's codec is written on it, and the rest (reflection, the generated code's
// runtime) cost the worker about 0.9 MB gzip.
const (
	protobufModule = "google.golang.org/protobuf/"
	protowire      = protobufModule + "encoding/protowire"
)

// protobufBeyondWire returns the protobuf-go packages among deps that are neither protowire
// nor what protowire links (allowed).
func protobufBeyondWire(deps []string, allowed map[string]bool) []string {
	var bad []string
	for _, d := range deps {
		if strings.HasPrefix(d, protobufModule) && !allowed[d] {
			bad = append(bad, d)
		}
	}
	return bad
}

// TestWorkerLinksOnlyProtowire: the product's worker decodes models with onnxpb, on protowire
// alone. (The reference worker's onnx-go brings gogo protobuf, which is its own affair.)
func TestWorkerLinksOnlyProtowire(t *testing.T) {
	js := []string{"GOOS=js", "GOARCH=wasm"}
	allowed := map[string]bool{}
	for _, p := range goList(t, js, "-deps", protowire) {
		allowed[p.ImportPath] = true
	}
	var deps []string
	for _, p := range goList(t, js, "-deps", "./wasm/worker") {
		deps = append(deps, p.ImportPath)
	}
	if !slices.Contains(deps, protowire) || !slices.Contains(deps, module+"/onnxpb") {
		t.Fatalf("./wasm/worker does not link onnxpb on %s: the test would pass for the wrong reason", protowire)
	}
	for _, d := range protobufBeyondWire(deps, allowed) {
		t.Errorf("./wasm/worker links %s: only %s may be linked (onnxpb's codec)", d, protowire)
	}
	if bad := protobufBeyondWire([]string{protowire, protobufModule + "proto", "fmt"}, allowed); !slices.Equal(bad, []string{protobufModule + "proto"}) {
		t.Errorf("the rule finds %v in a worker linking proto, want only proto", bad)
	}
}

// TestRulesCatchViolations feeds check imports that break each rule, so the rules above
// cannot silently stop matching anything.
func TestRulesCatchViolations(t *testing.T) {
	commands := map[string]bool{"modelconv": true, "server": true}
	for _, c := range []struct {
		pkg     string
		imports []string
		want    string
	}{
		{"web", []string{module + "/model"}, "talks to the worker by messages"},
		{"screen", []string{module + "/convnet"}, "engine as a value"},
		{"model", []string{module + "/screen"}, "go down the layers"},
		{"modelfile", []string{module + "/modelconv"}, "commands are never imported"},
		{"training/gpu", []string{module + "/modelconv/parity"}, "serves that command only"},
		{"server/api", []string{module + "/training/head"}, "serve the trainer only"},
		{"quant", []string{module + "/onnxpb"}, "stand alone"},
		{"modelfile", []string{module + "/onnxpb/internal/pbgen"}, "codec tests' reference"},
		{"newpackage", nil, "in no layer"},
		{"convnet", []string{module + "/inference"}, "own layer"},
	} {
		errs := check(c.pkg, false, c.imports, commands)
		if !strings.Contains(strings.Join(errs, "\n"), c.want) {
			t.Errorf("%s importing %v: errors %q, want one saying %q", c.pkg, c.imports, errs, c.want)
		}
	}
	if errs := check("screen", false, []string{module + "/model", module + "/gradcam", "fmt"}, commands); len(errs) > 0 {
		t.Errorf("allowed imports refused: %v", errs)
	}
}
