// Package metrics scores a binary classifier from its scores p_i (higher
// means more likely positive, here PNEUMONIA) and labels y_i in {0, 1}:
// confusion counts, ROC and PR curves, ROC-AUC with a bootstrap interval,
// operating thresholds, temperature scaling and calibration.
package metrics

import (
	"errors"
	"fmt"
	"math"
	"sort"
)

// ErrOneClass is returned (wrapped) by measures that need both classes.
var ErrOneClass = errors.New("metrics: needs both classes among the labels")

// check validates scores and labels and returns the class counts.
func check(scores []float64, labels []int) (pos, neg int, err error) {
	if len(scores) != len(labels) {
		return 0, 0, fmt.Errorf("metrics: %d scores but %d labels", len(scores), len(labels))
	}
	if len(scores) == 0 {
		return 0, 0, errors.New("metrics: no scores")
	}
	for i, s := range scores {
		if math.IsNaN(s) || math.IsInf(s, 0) {
			return 0, 0, fmt.Errorf("metrics: score %d is %v", i, s)
		}
		switch labels[i] {
		case 1:
			pos++
		case 0:
			neg++
		default:
			return 0, 0, fmt.Errorf("metrics: label %d is %d, want 0 or 1", i, labels[i])
		}
	}
	return pos, neg, nil
}

// checkBoth is check that also requires both classes.
func checkBoth(scores []float64, labels []int) (pos, neg int, err error) {
	pos, neg, err = check(scores, labels)
	if err == nil && (pos == 0 || neg == 0) {
		err = fmt.Errorf("%w: %d positive, %d negative", ErrOneClass, pos, neg)
	}
	return pos, neg, err
}

// checkProbs additionally requires every score to be a probability.
func checkProbs(probs []float64) error {
	for i, p := range probs {
		if p < 0 || p > 1 {
			return fmt.Errorf("metrics: score %d is %v, not a probability in [0, 1]", i, p)
		}
	}
	return nil
}

// Confusion holds the counts of a thresholded classifier.
type Confusion struct {
	TP int `json:"tp"`
	FP int `json:"fp"`
	TN int `json:"tn"`
	FN int `json:"fn"`
}

// ConfusionAt counts predictions with "positive" meaning score >= threshold,
// the same rule as the screening decision.
func ConfusionAt(scores []float64, labels []int, threshold float64) (Confusion, error) {
	if _, _, err := check(scores, labels); err != nil {
		return Confusion{}, err
	}
	var c Confusion
	for i, s := range scores {
		switch pred := s >= threshold; {
		case pred && labels[i] == 1:
			c.TP++
		case pred:
			c.FP++
		case labels[i] == 1:
			c.FN++
		default:
			c.TN++
		}
	}
	return c, nil
}

// ratio is a / b, and 0 when b is 0 (sklearn's zero_division=0), so a
// report never holds NaN.
func ratio(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// Total is the number of cases.
func (c Confusion) Total() int { return c.TP + c.FP + c.TN + c.FN }

// Accuracy is (TP + TN) / total.
func (c Confusion) Accuracy() float64 { return ratio(c.TP+c.TN, c.Total()) }

// Precision is TP / (TP + FP), 0 when nothing is predicted positive.
func (c Confusion) Precision() float64 { return ratio(c.TP, c.TP+c.FP) }

// Recall (sensitivity) is TP / (TP + FN), 0 without positives.
func (c Confusion) Recall() float64 { return ratio(c.TP, c.TP+c.FN) }

// Specificity is TN / (TN + FP), 0 without negatives.
func (c Confusion) Specificity() float64 { return ratio(c.TN, c.TN+c.FP) }

// F1 is the harmonic mean of precision and recall, 2TP / (2TP + FP + FN).
func (c Confusion) F1() float64 { return ratio(2*c.TP, 2*c.TP+c.FP+c.FN) }

// Point is one point of a ROC or PR curve: the classifier "score >=
// Threshold". For ROC, X is the false positive rate and Y the true positive
// rate; for PR, X is recall and Y precision.
type Point struct {
	Threshold float64 `json:"threshold"`
	X         float64 `json:"x"`
	Y         float64 `json:"y"`
}

// sweep returns, for each distinct score from the highest down, the
// cumulative counts of positives and negatives scoring at least that much.
func sweep(scores []float64, labels []int) (thr []float64, tp, fp []int) {
	idx := make([]int, len(scores))
	for i := range idx {
		idx[i] = i
	}
	sort.Slice(idx, func(a, b int) bool { return scores[idx[a]] > scores[idx[b]] })
	t, f := 0, 0
	for k, i := range idx {
		if labels[i] == 1 {
			t++
		} else {
			f++
		}
		// Emit once per distinct score, after all of its ties are counted.
		if k == len(idx)-1 || scores[idx[k+1]] != scores[i] {
			thr = append(thr, scores[i])
			tp = append(tp, t)
			fp = append(fp, f)
		}
	}
	return thr, tp, fp
}

// ROC returns the ROC curve from (0, 0) (threshold +Inf, as sklearn) to
// (1, 1), one point per distinct score.
func ROC(scores []float64, labels []int) ([]Point, error) {
	pos, neg, err := checkBoth(scores, labels)
	if err != nil {
		return nil, err
	}
	thr, tp, fp := sweep(scores, labels)
	pts := []Point{{Threshold: math.Inf(1)}}
	for k := range thr {
		pts = append(pts, Point{thr[k], ratio(fp[k], neg), ratio(tp[k], pos)})
	}
	return pts, nil
}

// AUC is the area under the ROC curve computed as the Mann-Whitney U
// statistic: the share of (positive, negative) pairs that the scores order
// correctly, a tied pair counting 1/2. It equals the trapezoidal area of ROC.
func AUC(scores []float64, labels []int) (float64, error) {
	pos, neg, err := checkBoth(scores, labels)
	if err != nil {
		return 0, err
	}
	return auc(scores, labels, pos, neg), nil
}

func auc(scores []float64, labels []int, pos, neg int) float64 {
	idx := make([]int, len(scores))
	for i := range idx {
		idx[i] = i
	}
	sort.Slice(idx, func(a, b int) bool { return scores[idx[a]] < scores[idx[b]] })
	// Sum of the (1-based, tie-averaged) ranks of the positives.
	var rankSum float64
	for k := 0; k < len(idx); {
		j := k
		for j < len(idx) && scores[idx[j]] == scores[idx[k]] {
			j++
		}
		mid := float64(k+1+j) / 2 // mean of ranks k+1 .. j
		for _, i := range idx[k:j] {
			if labels[i] == 1 {
				rankSum += mid
			}
		}
		k = j
	}
	u := rankSum - float64(pos)*float64(pos+1)/2
	return u / (float64(pos) * float64(neg))
}

// PR returns the precision-recall curve, one point per distinct score from
// the highest down, and the average precision AP = sum_k (R_k - R_{k-1}) P_k
// (sklearn's step-wise definition, no interpolation).
func PR(scores []float64, labels []int) (curve []Point, ap float64, err error) {
	pos, _, err := checkBoth(scores, labels)
	if err != nil {
		return nil, 0, err
	}
	thr, tp, fp := sweep(scores, labels)
	prev := 0.0
	for k := range thr {
		r, p := ratio(tp[k], pos), ratio(tp[k], tp[k]+fp[k])
		curve = append(curve, Point{thr[k], r, p})
		ap += (r - prev) * p
		prev = r
	}
	return curve, ap, nil
}

// ThresholdForSensitivity returns the largest threshold (one of the scores)
// at which the sensitivity reaches minSens: the screening operating point
// that misses as few cases as asked while flagging as few healthy ones as
// it can.
func ThresholdForSensitivity(scores []float64, labels []int, minSens float64) (float64, error) {
	pos, _, err := checkBoth(scores, labels)
	if err != nil {
		return 0, err
	}
	if !(minSens > 0 && minSens <= 1) {
		return 0, fmt.Errorf("metrics: minimum sensitivity %v not in (0, 1]", minSens)
	}
	thr, tp, _ := sweep(scores, labels)
	for k := range thr {
		// Compare counts, not rates, so 0.95 * 20 = 19 is met exactly.
		if float64(tp[k]) >= minSens*float64(pos)-1e-9 {
			return thr[k], nil
		}
	}
	return thr[len(thr)-1], nil // unreachable: the last point has all positives
}

// YoudenThreshold returns the threshold (one of the scores) maximising
// Youden's J = sensitivity + specificity - 1, the largest one on ties, and J.
func YoudenThreshold(scores []float64, labels []int) (threshold, j float64, err error) {
	pos, neg, err := checkBoth(scores, labels)
	if err != nil {
		return 0, 0, err
	}
	thr, tp, fp := sweep(scores, labels)
	j = math.Inf(-1)
	for k := range thr {
		if jk := ratio(tp[k], pos) - ratio(fp[k], neg); jk > j+1e-12 {
			threshold, j = thr[k], jk
		}
	}
	return threshold, j, nil
}
