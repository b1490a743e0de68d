package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestHelpAndUnknownCommand(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"help"}, &out, &errb); code != 0 || !strings.Contains(errb.String(), "parity") {
		t.Errorf("help: code %d, %q", code, errb.String())
	}
	errb.Reset()
	if code := run([]string{"frobnicate"}, &out, &errb); code != 2 || !strings.Contains(errb.String(), `unknown command "frobnicate"`) {
		t.Errorf("unknown: code %d, %q", code, errb.String())
	}
	errb.Reset()
	if code := run([]string{"quantize", "-h"}, &out, &errb); code != 0 || !strings.Contains(errb.String(), "in.onnx -o out.onnx") {
		t.Errorf("quantize -h: code %d, %q", code, errb.String())
	}
	errb.Reset()
	if code := run([]string{"build"}, &out, &errb); code != 2 || !strings.Contains(errb.String(), "--backbone") {
		t.Errorf("build without flags: code %d, %q", code, errb.String())
	}
}

// The shipped demonstration model must be exactly what "demo" writes: the generator is
// deterministic, and a change to it must come with a regenerated models/default.onnx.
func TestDemoReproducesShippedModel(t *testing.T) {
	if testing.Short() {
		t.Skip("writes a 24 MB model")
	}
	shipped, err := os.ReadFile("../models/default.onnx")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "demo.onnx")
	var out, errb bytes.Buffer
	if code := run([]string{"demo", "-o", path}, &out, &errb); code != 0 {
		t.Fatalf("demo: code %d: %s", code, errb.String())
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, shipped) {
		t.Fatalf("demo wrote %d bytes differing from models/default.onnx (%d bytes): regenerate it with go run ./modelconv demo", len(got), len(shipped))
	}
	if len(got) > 26e6 {
		t.Errorf("demo model is %d bytes, over the 26 MB budget", len(got))
	}
	out.Reset()
	if code := run([]string{"inspect", path}, &out, &errb); code != 0 {
		t.Fatalf("inspect: %s", errb.String())
	}
	for _, want := range []string{"pneumoscan-demo", "trained: false", "Conv x53", "DequantizeLinear x55", "features FLOAT [1,2048,7,7]", "sha256"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("inspect output lacks %q:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), "Gemm") {
		t.Error("the model must not use Gemm")
	}
}
