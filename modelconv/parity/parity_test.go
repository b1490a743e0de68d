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

func TestAUC(t *testing.T) {
	for _, tc := range []struct {
		s    []float64
		p    []bool
		want float64
	}{
		{[]float64{0.1, 0.2, 0.8, 0.9}, []bool{false, false, true, true}, 1},
		{[]float64{0.1, 0.2, 0.8, 0.9}, []bool{true, true, false, false}, 0},
		{[]float64{0.5, 0.5}, []bool{true, false}, 0.5},
		// pairs (pos, neg): (0.4,0.1) win, (0.4,0.6) lose, (0.7,0.1) win, (0.7,0.6) win: 3/4
		{[]float64{0.1, 0.4, 0.6, 0.7}, []bool{false, true, false, true}, 0.75},
	} {
		if got := AUC(tc.s, tc.p); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("AUC(%v, %v) = %v, want %v", tc.s, tc.p, got, tc.want)
		}
	}
	if !math.IsNaN(AUC([]float64{0.1}, []bool{true})) {
		t.Error("AUC of one class must be NaN")
	}
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
