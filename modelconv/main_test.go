package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// run runs modelconv on args as main does (main runs it with a plain context too).
func run(args []string, stdout, stderr io.Writer) int {
	return program.Run(context.Background(), args, stdout, stderr)
}

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
	if code := run([]string{"parity", "--model", "m.onnx", "--fp32", "a.onnx", "--data", "d"}, &out, &errb); code != 2 || !strings.Contains(errb.String(), "--engines") {
		t.Errorf("parity mixing --model and --fp32: code %d, %q", code, errb.String())
	}
	errb.Reset()
	if code := run([]string{"build"}, &out, &errb); code != 2 || !strings.Contains(errb.String(), "--backbone") {
		t.Errorf("build without flags: code %d, %q", code, errb.String())
	}
}

// demoSHA256 is what "demo" wrote when the demonstration model was the shipped
// models/default.onnx (until a trained model replaced it): the generator is deterministic,
// so a change to it must come with a new digest, knowingly.
const demoSHA256 = "2e252a676087fa25107e9eb703b8b59f9ca9e2483b36d1127a51f2ddf3c496e5"

// TestDemoDeterministic: "demo" writes the same bytes as ever, within the size budget, and
// inspect describes it as untrained.
func TestDemoDeterministic(t *testing.T) {
	if testing.Short() {
		t.Skip("writes a 24 MB model")
	}
	path := filepath.Join(t.TempDir(), "demo.onnx")
	var out, errb bytes.Buffer
	// Without -o it must refuse rather than overwrite the shipped model.
	if code := run([]string{"demo"}, &out, &errb); code != 2 || !strings.Contains(errb.String(), "demo needs -o") {
		t.Fatalf("demo without -o: code %d, stderr %q; want a usage error", code, errb.String())
	}
	out.Reset()
	errb.Reset()
	if code := run([]string{"demo", "-o", path}, &out, &errb); code != 0 {
		t.Fatalf("demo: code %d: %s", code, errb.String())
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if sum := sha256.Sum256(got); hex.EncodeToString(sum[:]) != demoSHA256 {
		t.Fatalf("demo wrote %d bytes with sha256 %x, want %s: the generator changed", len(got), sum, demoSHA256)
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
