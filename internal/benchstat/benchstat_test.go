package benchstat

import (
	"math"
	"testing"
)

func TestMedianNearestRank(t *testing.T) {
	for _, c := range []struct {
		xs               []float64
		median, p90, p99 float64
	}{
		{[]float64{5}, 5, 5, 5},
		{[]float64{3, 1, 2}, 2, 3, 3},
		{[]float64{4, 1, 3, 2}, 2.5, 4, 4},
		// 20 values 1..20 (shuffled): nearest rank 18 of 20.
		{[]float64{20, 1, 19, 2, 18, 3, 17, 4, 16, 5, 15, 6, 14, 7, 13, 8, 12, 9, 11, 10}, 10.5, 18, 20},
		{[]float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 5.5, 9, 10},
		{[]float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, 6, 10, 11},
	} {
		in := append([]float64(nil), c.xs...)
		if got := Median(in); got != c.median {
			t.Errorf("Median(%v) = %v, want %v", c.xs, got, c.median)
		}
		if got := NearestRank(in, 0.9); got != c.p90 {
			t.Errorf("NearestRank(%v, 0.9) = %v, want %v", c.xs, got, c.p90)
		}
		if got := NearestRank(in, 0.99); got != c.p99 {
			t.Errorf("NearestRank(%v, 0.99) = %v, want %v", c.xs, got, c.p99)
		}
		for i := range in {
			if in[i] != c.xs[i] {
				t.Fatalf("Median/NearestRank reordered their argument: %v", in)
			}
		}
	}
	// 1000 values 1..1000: p50 is the 500th, p99 the 990th.
	xs := make([]float64, 1000)
	for i := range xs {
		xs[i] = float64(1000 - i)
	}
	if p50, p99 := NearestRank(xs, 0.5), NearestRank(xs, 0.99); p50 != 500 || p99 != 990 {
		t.Errorf("1..1000: p50 %v p99 %v, want 500 990", p50, p99)
	}
	if !math.IsNaN(Median(nil)) || !math.IsNaN(NearestRank(nil, 0.5)) {
		t.Error("Median and NearestRank of no values should be NaN")
	}
}

func TestReadMachine(t *testing.T) {
	m := ReadMachine()
	if m.Cores < 1 || m.CPU == "" || m.Load == "" {
		t.Errorf("%+v", m)
	}
}
