// Package testmodel reads the model fixtures that the tests of several packages share: the
// tiny contract model in screen/testdata (made by tools/tiny_model.py) with PyTorch's
// reference answers, the X-ray fixtures in testdata/xray and the shipped models/default.onnx.
// Paths are found from this file, so a test in any folder can use them. For tests only.
package testmodel

import (
	"encoding/json"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// Root is the module's root folder.
var Root = func() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}()

// Reference is PyTorch's answer for one fixture image of the tiny model.
type Reference struct {
	JPEG        string    `json:"jpeg"`       // the X-ray fixture the PNG was decoded from
	ModelProb   float64   `json:"model_prob"` // the graph's output
	Prob        float64   `json:"prob"`       // after the metadata's temperature
	HeatmapSize int       `json:"heatmap_size"`
	Stride      int       `json:"stride"` // the heatmap is sampled every Stride pixels
	Heatmap     []float32 `json:"heatmap"`
}

// Read returns a file under the module root, failing the test when it cannot be read.
func Read(t testing.TB, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(Root, filepath.FromSlash(rel)))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Tiny returns the tiny contract model's bytes.
func Tiny(t testing.TB) []byte {
	t.Helper()
	return Read(t, "screen/testdata/tiny.onnx")
}

// Image returns one of the tiny model's fixture images (screen/testdata), by file name.
func Image(t testing.TB, name string) []byte {
	t.Helper()
	return Read(t, "screen/testdata/"+name)
}

// XRay returns an X-ray fixture of testdata/xray, by file name.
func XRay(t testing.TB, name string) []byte {
	t.Helper()
	return Read(t, "testdata/xray/"+name)
}

// References returns PyTorch's answers for the tiny model, by fixture image name; the test
// fails unless there are the two images.
func References(t testing.TB) map[string]Reference {
	t.Helper()
	var ref map[string]Reference
	if err := json.Unmarshal(Read(t, "screen/testdata/reference.json"), &ref); err != nil {
		t.Fatal(err)
	}
	if len(ref) != 2 {
		t.Fatalf("reference has %d images, want 2", len(ref))
	}
	return ref
}

// Shipped returns models/default.onnx, skipping the test or benchmark when it is not built.
func Shipped(t testing.TB) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(Root, "models", "default.onnx"))
	if errors.Is(err, os.ErrNotExist) {
		t.Skip("models/default.onnx not built (make model)")
	}
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Separable draws n rows of dim standard-normal features and labels them 1 where the first
// feature plus noise times a uniform draw exceeds cut: a data set a linear head can learn,
// the same for a seed.
func Separable(n, dim int, seed uint64, noise, cut float32) ([]float32, []int) {
	r := rand.New(rand.NewPCG(seed, 3))
	x, labels := make([]float32, n*dim), make([]int, n)
	for i := range n {
		for k := range dim {
			x[i*dim+k] = float32(r.NormFloat64())
		}
		if x[i*dim]+noise*r.Float32() > cut {
			labels[i] = 1
		}
	}
	return x, labels
}
