package main

import (
	"math"
	"testing"
)

func TestMedianP90(t *testing.T) {
	for _, c := range []struct {
		xs          []float64
		median, p90 float64
	}{
		{[]float64{5}, 5, 5},
		{[]float64{3, 1, 2}, 2, 3},
		{[]float64{4, 1, 3, 2}, 2.5, 4},
		// 20 values 1..20 (shuffled): nearest rank 18 of 20.
		{[]float64{20, 1, 19, 2, 18, 3, 17, 4, 16, 5, 15, 6, 14, 7, 13, 8, 12, 9, 11, 10}, 10.5, 18},
		{[]float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 5.5, 9},
		{[]float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, 6, 10},
	} {
		in := append([]float64(nil), c.xs...)
		if got := median(in); got != c.median {
			t.Errorf("median(%v) = %v, want %v", c.xs, got, c.median)
		}
		if got := p90(in); got != c.p90 {
			t.Errorf("p90(%v) = %v, want %v", c.xs, got, c.p90)
		}
		for i := range in {
			if in[i] != c.xs[i] {
				t.Fatalf("median/p90 reordered their argument: %v", in)
			}
		}
	}
	if !math.IsNaN(median(nil)) || !math.IsNaN(p90(nil)) {
		t.Error("median and p90 of no values should be NaN")
	}
}
