package metrics

import (
	"fmt"
	"math/rand/v2"
	"sort"
)

// Interval is a confidence interval.
type Interval struct {
	Lo    float64 `json:"lo"`
	Hi    float64 `json:"hi"`
	Level float64 `json:"level"` // e.g. 0.95
	B     int     `json:"resamples"`
	Seed  uint64  `json:"seed"`
}

// BootstrapAUC returns the percentile bootstrap interval of the ROC-AUC at
// the given level from b resamples. The resampling is stratified: positives
// and negatives are drawn with replacement separately, keeping their counts,
// so every resample has both classes and the AUC is always defined. The
// same seed gives the same interval.
func BootstrapAUC(scores []float64, labels []int, b int, level float64, seed uint64) (Interval, error) {
	pos, neg, err := checkBoth(scores, labels)
	if err != nil {
		return Interval{}, err
	}
	if b < 10 {
		return Interval{}, fmt.Errorf("metrics: %d bootstrap resamples; use at least 10 (1000 or more for a 95%% interval)", b)
	}
	if !(level > 0 && level < 1) {
		return Interval{}, fmt.Errorf("metrics: confidence level %v not in (0, 1)", level)
	}
	var pi, ni []int
	for i, y := range labels {
		if y == 1 {
			pi = append(pi, i)
		} else {
			ni = append(ni, i)
		}
	}
	r := rand.New(rand.NewPCG(seed, 0))
	s := make([]float64, len(scores))
	l := make([]int, len(scores))
	aucs := make([]float64, b)
	for k := range aucs {
		n := 0
		for _, group := range [][]int{pi, ni} {
			for range group {
				i := group[r.IntN(len(group))]
				s[n], l[n] = scores[i], labels[i]
				n++
			}
		}
		aucs[k] = auc(s, l, pos, neg)
	}
	sort.Float64s(aucs)
	alpha := (1 - level) / 2
	return Interval{Lo: quantile(aucs, alpha), Hi: quantile(aucs, 1-alpha), Level: level, B: b, Seed: seed}, nil
}

// quantile of sorted x with linear interpolation between order statistics
// (numpy's default "linear" method).
func quantile(x []float64, q float64) float64 {
	h := q * float64(len(x)-1)
	lo := int(h)
	if lo >= len(x)-1 {
		return x[len(x)-1]
	}
	return x[lo] + (h-float64(lo))*(x[lo+1]-x[lo])
}
