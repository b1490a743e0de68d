package parity

import (
	"bytes"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The AUC itself is metrics.AUC, tested there (hand-worked cases, ties included).
func TestCompareAUCOfOneClassIsNaN(t *testing.T) {
	same := func([]byte) (float64, error) { return 0.3, nil }
	ims := []Image{{Path: writeTemp(t, "a")}, {Path: writeTemp(t, "b")}}
	r, err := Compare(ims, []Pair{{same, same}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !math.IsNaN(r.AUCFloat) || !math.IsNaN(r.AUCInt8) {
		t.Errorf("AUC of one class = %v, %v; want NaN", r.AUCFloat, r.AUCInt8)
	}
}

func writeTemp(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), content+".jpeg")
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestCompare(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"NORMAL/a.jpeg", "NORMAL/b.jpeg", "PNEUMONIA/c.jpeg", "PNEUMONIA/d.jpeg", "other/e.jpeg", "NORMAL/notes.txt"} {
		os.MkdirAll(filepath.Join(dir, filepath.Dir(f)), 0o755)
		os.WriteFile(filepath.Join(dir, f), []byte(f), 0o644)
	}
	ims, err := Images(dir, 0)
	if err != nil || len(ims) != 4 {
		t.Fatalf("Images = %v, %v; want the 4 labelled images", ims, err)
	}
	// Scores from the file contents, so each image keeps its own score.
	score := map[string]float64{"NORMAL/a.jpeg": 0.2, "NORMAL/b.jpeg": 0.6, "PNEUMONIA/c.jpeg": 0.5, "PNEUMONIA/d.jpeg": 0.9}
	fp32 := func(b []byte) (float64, error) { return score[string(b)], nil }
	int8 := func(b []byte) (float64, error) { return score[string(b)] + 0.05, nil }
	var progress bytes.Buffer
	r, err := Compare(ims, []Pair{{fp32, int8}, {fp32, int8}}, &progress)
	if err != nil {
		t.Fatal(err)
	}
	if r.N != 4 || r.Positives != 2 || math.Abs(r.MaxAbsDiff-0.05) > 1e-9 || math.Abs(r.AUCFloat-0.75) > 1e-12 || r.AUCInt8 != r.AUCFloat {
		t.Errorf("report %+v", r)
	}
	if !strings.Contains(progress.String(), "4/4 images") || !strings.Contains(progress.String(), "ETA") {
		t.Errorf("progress %q", progress.String())
	}
	bad := func([]byte) (float64, error) { return 0, errors.New("boom") }
	if _, err := Compare(ims, []Pair{{fp32, bad}}, nil); err == nil || !strings.Contains(err.Error(), "int8 model: boom") {
		t.Errorf("Compare with a failing model: %v", err)
	}
	if ims, _ := Images(dir, 2); len(ims) != 2 || ims[0].Positive == ims[1].Positive {
		t.Errorf("Images(limit 2) = %v, want one of each class", ims)
	}
	if _, err := Images(t.TempDir(), 0); err == nil {
		t.Error("an empty folder must be an error")
	}
}
