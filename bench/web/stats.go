package main

import (
	"math"
	"slices"
)

// median is the middle of xs (the mean of the two middle values when len(xs) is even);
// NaN for no values, so an empty row shows as such instead of as a fast 0 ms.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Sorted(slices.Values(xs))
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// p90 is the nearest-rank 90th percentile: the smallest value that at least 90% of xs do
// not exceed. Nearest rank never invents a time no image took, and with the 20 images of
// a full run it is the 18th fastest.
func p90(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Sorted(slices.Values(xs))
	rank := int(math.Ceil(0.9 * float64(len(s)))) // 1-based
	return s[max(rank, 1)-1]
}
