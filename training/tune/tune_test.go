package tune

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"pneumoscan/internal/testmodel"
	"pneumoscan/training/head"
)

func TestSampleWithinRangesAndDeterministic(t *testing.T) {
	s := DefaultSpace()
	units := map[int]int{}
	lowLR, lowL2 := 0, 0
	const n = 2000
	for i := 0; i < n; i++ {
		p := s.Sample(42, i)
		if p != s.Sample(42, i) {
			t.Fatalf("trial %d: two draws differ", i)
		}
		if !contains(s.Units, p.Units) || p.Dropout < 0 || p.Dropout > 0.6 || p.LR < 1e-4 || p.LR > 3e-3 || p.L2 < 1e-6 || p.L2 > 1e-2 {
			t.Fatalf("trial %d out of range: %+v", i, p)
		}
		units[p.Units]++
		if p.LR < math.Sqrt(1e-4*3e-3) {
			lowLR++
		}
		if p.L2 < 1e-4 {
			lowL2++
		}
	}
	if len(units) != len(s.Units) {
		t.Errorf("only unit counts %v drawn", units)
	}
	// Log-uniform: half the draws fall below the geometric mean.
	for name, c := range map[string]int{"lr": lowLR, "l2": lowL2} {
		if c < n*4/10 || c > n*6/10 {
			t.Errorf("%s: %d of %d below the geometric mean, want about half", name, c, n)
		}
	}
	if s.Sample(42, 0) == s.Sample(43, 0) {
		t.Error("another seed drew the same settings")
	}
}

func contains(xs []int, x int) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

func TestSpaceValidate(t *testing.T) {
	for _, s := range []Space{
		{Units: nil, Dropout: [2]float64{0, .5}, LR: [2]float64{1e-4, 1e-3}, L2: [2]float64{1e-6, 1e-3}},
		{Units: []int{8}, Dropout: [2]float64{0, 1}, LR: [2]float64{1e-4, 1e-3}, L2: [2]float64{1e-6, 1e-3}},
		{Units: []int{8}, Dropout: [2]float64{0, .5}, LR: [2]float64{1e-3, 1e-4}, L2: [2]float64{1e-6, 1e-3}},
		{Units: []int{8}, Dropout: [2]float64{0, .5}, LR: [2]float64{1e-4, 1e-3}, L2: [2]float64{0, 1e-3}},
	} {
		if s.Validate() == nil {
			t.Errorf("%+v accepted", s)
		}
	}
	if err := DefaultSpace().Validate(); err != nil {
		t.Error(err)
	}
}

func data(n, dim int, seed uint64) head.Data {
	x, labels := testmodel.Separable(n, dim, seed, 0.7, 0.3)
	return head.Data{Dim: dim, X: x, Labels: labels}
}

func options(log string) Options {
	base := head.Default()
	base.Dim, base.Epochs, base.Batch, base.Patience = 6, 3, 16, 0
	s := DefaultSpace()
	s.Units = []int{4, 8}
	return Options{Space: s, Trials: 5, Seed: 7, Base: base, Log: log}
}

func TestResumeContinuesWhereItStopped(t *testing.T) {
	train, val := []head.Data{data(80, 6, 1)}, data(40, 6, 2)
	dir := t.TempDir()

	whole, err := Run(context.Background(), options(filepath.Join(dir, "whole.jsonl")), train, val)
	if err != nil {
		t.Fatal(err)
	}
	if len(whole) != 5 {
		t.Fatalf("%d trials, want 5", len(whole))
	}

	log := filepath.Join(dir, "stopped.jsonl")
	ctx, cancel := context.WithCancel(context.Background())
	o := options(log)
	o.OnTrial = func(tr Trial) {
		if tr.Trial == 1 {
			cancel()
		}
	}
	part, err := Run(ctx, o, train, val)
	if !errors.Is(err, context.Canceled) || len(part) != 2 {
		t.Fatalf("stopped run: %d trials, err %v", len(part), err)
	}
	var ran []int
	o = options(log)
	o.OnTrial = func(tr Trial) { ran = append(ran, tr.Trial) }
	all, err := Run(context.Background(), o, train, val)
	if err != nil {
		t.Fatal(err)
	}
	if len(ran) != 3 || ran[0] != 2 {
		t.Errorf("resumed run trained trials %v, want [2 3 4]", ran)
	}
	logged, err := ReadLog(log)
	if err != nil || len(logged) != 5 {
		t.Fatalf("log holds %d trials (%v)", len(logged), err)
	}
	for i := range whole {
		a, b := whole[i], all[i]
		a.Seconds, b.Seconds = 0, 0
		if a != b {
			t.Errorf("trial %d: uninterrupted %+v, resumed %+v", i, a, b)
		}
	}
	best, _ := Best(all)
	for _, tr := range all {
		if tr.ValAUC > best.ValAUC {
			t.Errorf("best %+v is beaten by %+v", best, tr)
		}
	}
	var sb strings.Builder
	WriteTable(&sb, all)
	if lines := strings.Count(sb.String(), "\n"); lines != 6 {
		t.Errorf("table has %d lines, want 6:\n%s", lines, sb.String())
	}

	// Another seed must not reuse this log.
	o = options(log)
	o.Seed = 8
	if _, err := Run(context.Background(), o, train, val); err == nil {
		t.Error("a log of another search was resumed")
	}
}

func TestTornLastLineIsDropped(t *testing.T) {
	train, val := []head.Data{data(60, 6, 1)}, data(30, 6, 2)
	log := filepath.Join(t.TempDir(), "log.jsonl")
	o := options(log)
	o.Trials = 2
	if _, err := Run(context.Background(), o, train, val); err != nil {
		t.Fatal(err)
	}
	f, _ := os.OpenFile(log, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"trial":2,"units":`)
	f.Close()
	ts, err := ReadLog(log)
	if err != nil || len(ts) != 2 {
		t.Fatalf("%d trials, err %v", len(ts), err)
	}
	f, _ = os.OpenFile(log, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString("garbage\n")
	f.Close()
	if _, err := ReadLog(log); err == nil {
		t.Error("a garbage line was accepted")
	}
}
