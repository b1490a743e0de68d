package metrics

import (
	"errors"
	"math"
	"math/rand/v2"
	"pneumoscan/model"
	"testing"
)

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol }

func TestConfusionAndRates(t *testing.T) {
	// score:  .9 .8 .7 .6 .55 .4 .3 .2 .1 .05
	// label:   1  1  0  1  1   0  1  0  0  0
	// At 0.5 (positive when >= .5): predicted positive .9 .8 .7 .6 .55
	// -> TP 4 (.9 .8 .6 .55), FP 1 (.7); below: FN 1 (.3), TN 4.
	s := []float64{.9, .8, .7, .6, .55, .4, .3, .2, .1, .05}
	y := []int{1, 1, 0, 1, 1, 0, 1, 0, 0, 0}
	c, err := ConfusionAt(s, y, 0.5)
	if err != nil {
		t.Fatal(err)
	}
	if c != (Confusion{TP: 4, FP: 1, TN: 4, FN: 1}) {
		t.Fatalf("confusion = %+v", c)
	}
	// accuracy 8/10, precision 4/5, recall 4/5, specificity 4/5, F1 8/10.
	for name, got := range map[string]float64{"accuracy": c.Accuracy(), "precision": c.Precision(),
		"recall": c.Recall(), "specificity": c.Specificity(), "f1": c.F1()} {
		if !near(got, 0.8, 1e-12) {
			t.Errorf("%s = %v, want 0.8", name, got)
		}
	}
	// The threshold itself counts as positive: at 0.55, .55 is still TP.
	if c, _ := ConfusionAt(s, y, 0.55); c.TP != 4 {
		t.Errorf("score == threshold not positive: %+v", c)
	}
	// Nothing predicted positive: precision and F1 are 0, not NaN.
	c, _ = ConfusionAt(s, y, 2)
	if c.Precision() != 0 || c.F1() != 0 || c.Specificity() != 1 || c.Recall() != 0 {
		t.Errorf("at threshold 2: %+v p=%v f1=%v", c, c.Precision(), c.F1())
	}
	// Asymmetric case: TP 3, FP 1, TN 2, FN 2 -> precision 3/4, recall 3/5,
	// F1 = 2*3/(2*3+1+2) = 6/9, specificity 2/3.
	c = Confusion{TP: 3, FP: 1, TN: 2, FN: 2}
	if !near(c.Precision(), .75, 1e-12) || !near(c.Recall(), .6, 1e-12) || !near(c.F1(), 6.0/9, 1e-12) || !near(c.Specificity(), 2.0/3, 1e-12) {
		t.Errorf("rates of %+v wrong", c)
	}
}

func TestInputErrors(t *testing.T) {
	if _, err := ConfusionAt([]float64{.1}, []int{1, 0}, .5); err == nil {
		t.Error("length mismatch accepted")
	}
	if _, err := ConfusionAt(nil, nil, .5); err == nil {
		t.Error("empty input accepted")
	}
	if _, err := AUC([]float64{.1, .2}, []int{1, 2}); err == nil {
		t.Error("label 2 accepted")
	}
	if _, err := AUC([]float64{math.NaN(), .2}, []int{1, 0}); err == nil {
		t.Error("NaN score accepted")
	}
	one := []int{1, 1, 1}
	s := []float64{.2, .5, .9}
	for name, err := range map[string]error{
		"AUC":         second(AUC(s, one)),
		"ROC":         second(ROC(s, one)),
		"PR":          third(PR(s, one)),
		"bootstrap":   second(BootstrapAUC(s, one, 100, .95, 1)),
		"sensitivity": second(ThresholdForSensitivity(s, one, .95)),
		"youden":      third(YoudenThreshold(s, one)),
		"temperature": second(FitTemperature(s, one)),
	} {
		if !errors.Is(err, ErrOneClass) {
			t.Errorf("%s on one class: %v, want ErrOneClass", name, err)
		}
	}
	// A confusion matrix is fine with one class.
	if _, err := ConfusionAt(s, one, .5); err != nil {
		t.Error(err)
	}
	if _, _, err := Reliability([]float64{1.2}, []int{1}, 10); err == nil {
		t.Error("probability 1.2 accepted")
	}
}

func second[T any](_ T, err error) error        { return err }
func third[T, U any](_ T, _ U, err error) error { return err }

func TestAUCHandWorked(t *testing.T) {
	for _, c := range []struct {
		name string
		s    []float64
		y    []int
		want float64
	}{
		// Pairs (pos, neg): .35>.1 yes, .35>.4 no, .8>.1 yes, .8>.4 yes -> 3/4.
		{"sklearn doc example", []float64{.1, .4, .35, .8}, []int{0, 0, 1, 1}, .75},
		// pos .5 ties both negatives .5 (2 x 1/2), pos .9 beats both (2) -> 3/4.
		{"ties", []float64{.5, .5, .5, .9}, []int{0, 1, 0, 1}, .75},
		{"all tied", []float64{.3, .3, .3, .3}, []int{0, 1, 0, 1}, .5},
		{"perfect", []float64{.1, .2, .8, .9}, []int{0, 0, 1, 1}, 1},
		{"reversed", []float64{.9, .8, .2, .1}, []int{0, 0, 1, 1}, 0},
		// 3 pos x 2 neg = 6 pairs: pos .6 beats .5, ties .6 (1.5); pos .7
		// beats both (2); pos .4 beats none (0) -> 3.5/6.
		{"mixed ties", []float64{.6, .5, .6, .7, .4}, []int{1, 0, 0, 1, 1}, 3.5 / 6},
	} {
		got, err := AUC(c.s, c.y)
		if err != nil || !near(got, c.want, 1e-12) {
			t.Errorf("%s: AUC = %v, %v; want %v", c.name, got, err, c.want)
		}
		// The trapezoidal area of the ROC curve must agree (ties included).
		roc, _ := ROC(c.s, c.y)
		var area float64
		for k := 1; k < len(roc); k++ {
			area += (roc[k].X - roc[k-1].X) * (roc[k].Y + roc[k-1].Y) / 2
		}
		if !near(area, c.want, 1e-12) {
			t.Errorf("%s: ROC trapezoid area %v, want %v", c.name, area, c.want)
		}
	}
}

// binormal draws n negatives from N(0,1) and n positives from N(d,1).
func binormal(n int, d float64, seed uint64) ([]float64, []int) {
	r := rand.New(rand.NewPCG(seed, 1))
	s := make([]float64, 2*n)
	y := make([]int, 2*n)
	for i := range n {
		s[i] = r.NormFloat64()
		s[n+i], y[n+i] = d+r.NormFloat64(), 1
	}
	return s, y
}

func TestAUCKnownBinormal(t *testing.T) {
	// For N(0,1) vs N(1,1), AUC = P(X1 > X0) = Phi(1/sqrt 2) = 0.76025.
	// With 20000 per class its standard error is about 0.003.
	s, y := binormal(20000, 1, 3)
	got, err := AUC(s, y)
	if err != nil {
		t.Fatal(err)
	}
	want := 0.5 * math.Erfc(-1/math.Sqrt2/math.Sqrt2)
	if !near(got, want, 0.01) || !near(want, 0.76025, 1e-4) {
		t.Errorf("AUC = %v, want %v +- 0.01", got, want)
	}
}

func TestROCAndPRCurves(t *testing.T) {
	// s: .9(1) .8(0) .8(1) .3(0); 2 pos, 2 neg.
	s := []float64{.9, .8, .8, .3}
	y := []int{1, 0, 1, 0}
	roc, err := ROC(s, y)
	if err != nil {
		t.Fatal(err)
	}
	// Distinct thresholds .9, .8, .3: TPR 1/2, 1, 1; FPR 0, 1/2, 1.
	want := []Point{{math.Inf(1), 0, 0}, {.9, 0, .5}, {.8, .5, 1}, {.3, 1, 1}}
	if len(roc) != len(want) {
		t.Fatalf("ROC = %v, want %v", roc, want)
	}
	for k := range want {
		if roc[k] != want[k] {
			t.Errorf("ROC[%d] = %v, want %v", k, roc[k], want[k])
		}
	}
	pr, ap, err := PR(s, y)
	if err != nil {
		t.Fatal(err)
	}
	// Recall/precision: .9 -> 1/2, 1/1; .8 -> 2/2, 2/3; .3 -> 1, 2/4.
	// AP = (1/2)(1) + (1/2)(2/3) + 0 = 5/6.
	wantPR := []Point{{.9, .5, 1}, {.8, 1, 2.0 / 3}, {.3, 1, .5}}
	for k := range wantPR {
		if pr[k].Threshold != wantPR[k].Threshold || !near(pr[k].X, wantPR[k].X, 1e-12) || !near(pr[k].Y, wantPR[k].Y, 1e-12) {
			t.Errorf("PR[%d] = %v, want %v", k, pr[k], wantPR[k])
		}
	}
	if !near(ap, 5.0/6, 1e-12) {
		t.Errorf("AP = %v, want 5/6", ap)
	}
}

func TestThresholds(t *testing.T) {
	// 20 positives scored .50 .. .69 step .01 (well, i/100 for i=50..69) and
	// 20 negatives scored .30 .. .49 plus overlap: negatives .55 and .65.
	var s []float64
	var y []int
	for i := 50; i < 70; i++ {
		s, y = append(s, float64(i)/100), append(y, 1)
	}
	for i := 30; i < 48; i++ {
		s, y = append(s, float64(i)/100), append(y, 0)
	}
	s, y = append(s, .555, .655), append(y, 0, 0)
	// Sensitivity >= .95 needs 19 of 20 positives: every positive but the
	// lowest (.50), so the largest such threshold is .51.
	th, err := ThresholdForSensitivity(s, y, .95)
	if err != nil || th != .51 {
		t.Errorf("ThresholdForSensitivity = %v, %v; want 0.51", th, err)
	}
	// 100% sensitivity needs the lowest positive, .50.
	if th, _ := ThresholdForSensitivity(s, y, 1); th != .50 {
		t.Errorf("sensitivity 1: %v, want 0.50", th)
	}
	// Youden: at .50, TPR 1, FPR 2/20 -> J .9; at .56 (above .555), TPR
	// 14/20, FPR 1/20 -> .65; at .66, TPR 4/20, FPR 0 -> .2. Max is .50.
	th, j, err := YoudenThreshold(s, y)
	if err != nil || th != .50 || !near(j, .9, 1e-12) {
		t.Errorf("Youden = %v (J %v), %v; want 0.50 (J 0.9)", th, j, err)
	}
	if _, err := ThresholdForSensitivity(s, y, 0); err == nil {
		t.Error("sensitivity 0 accepted")
	}
}

func TestBootstrapAUC(t *testing.T) {
	s, y := binormal(300, 1, 5)
	a, err := BootstrapAUC(s, y, 400, .95, 11)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := BootstrapAUC(s, y, 400, .95, 11)
	if a != b {
		t.Errorf("same seed, different intervals: %+v %+v", a, b)
	}
	c, _ := BootstrapAUC(s, y, 400, .95, 12)
	if c == a {
		t.Error("another seed gave the very same interval")
	}
	auc, _ := AUC(s, y)
	// Normal-theory standard error for AUC .76 with 300+300 (Hanley &
	// McNeil) is about 0.019, so the 95% interval is about 0.075 wide.
	if !(a.Lo < auc && auc < a.Hi) || a.Hi-a.Lo < 0.05 || a.Hi-a.Lo > 0.11 {
		t.Errorf("interval %+v around AUC %v has an implausible width", a, auc)
	}
	if _, err := BootstrapAUC(s, y, 5, .95, 1); err == nil {
		t.Error("5 resamples accepted")
	}
	if _, err := BootstrapAUC(s, y, 100, 1, 1); err == nil {
		t.Error("level 1 accepted")
	}
}

func TestTemperatureHandWorked(t *testing.T) {
	// Logits +1 (3 positives, 1 negative) and -1 (3 negatives, 1 positive):
	// the best calibrated probability at logit +1 is 3/4, so
	// sigmoid(1/T) = 3/4 -> 1/T = ln 3 -> T = 1/ln 3 = 0.91024.
	p1, p0 := 1/(1+math.Exp(-1)), 1/(1+math.Exp(1))
	probs := []float64{p1, p1, p1, p1, p0, p0, p0, p0}
	labels := []int{1, 1, 1, 0, 0, 0, 0, 1}
	T, err := FitTemperature(probs, labels)
	if err != nil {
		t.Fatal(err)
	}
	if !near(T, 1/math.Log(3), 1e-6) {
		t.Errorf("T = %v, want 1/ln3 = %v", T, 1/math.Log(3))
	}
	if got := model.ApplyTemperature(p1, T); !near(got, .75, 1e-6) {
		t.Errorf("calibrated p = %v, want 0.75", got)
	}
	if model.ApplyTemperature(0, 2) != 0 || model.ApplyTemperature(1, 2) != 1 || !near(model.ApplyTemperature(.5, 3), .5, 1e-15) {
		t.Error("0, 1/2 and 1 must be fixed points")
	}
}

func TestTemperatureRecoversOverconfidence(t *testing.T) {
	// Labels drawn from sigmoid(z); the model reports sigmoid(2z), twice
	// too confident, so the fitted T should be near 2.
	r := rand.New(rand.NewPCG(9, 9))
	n := 20000
	probs := make([]float64, n)
	labels := make([]int, n)
	for i := range n {
		z := 2 * r.NormFloat64()
		if r.Float64() < sigmoid(z) {
			labels[i] = 1
		}
		probs[i] = sigmoid(2 * z)
	}
	T, err := FitTemperature(probs, labels)
	if err != nil {
		t.Fatal(err)
	}
	if !near(T, 2, 0.1) {
		t.Errorf("T = %v, want about 2", T)
	}
	scaled := ApplyTemperatureAll(probs, T)
	_, before, _ := Reliability(probs, labels, 10)
	_, after, _ := Reliability(scaled, labels, 10)
	if !(after < before/2) || NLL(scaled, labels, 1) >= NLL(probs, labels, 1) {
		t.Errorf("ECE %v -> %v, NLL %v -> %v: scaling did not calibrate", before, after, NLL(probs, labels, 1), NLL(scaled, labels, 1))
	}
	// Perfectly separated scores have no finite optimum.
	if _, err := FitTemperature([]float64{.1, .2, .8, .9}, []int{0, 0, 1, 1}); err == nil {
		t.Error("perfect separation gave a temperature")
	}
}

func TestReliabilityHandWorked(t *testing.T) {
	// 2 bins. [0, .5): .1(0) .2(1): mean .15, observed .5.
	// [.5, 1]: .7(1) 1.0(1): mean .85, observed 1.
	// ECE = 2/4 * .35 + 2/4 * .15 = .25.
	bins, ece, err := Reliability([]float64{.1, .2, .7, 1}, []int{0, 1, 1, 1}, 2)
	if err != nil {
		t.Fatal(err)
	}
	want := []Bin{{0, .5, .15, .5, 2}, {.5, 1, .85, 1, 2}}
	for k := range want {
		b := bins[k]
		if b.Lo != want[k].Lo || b.Hi != want[k].Hi || b.Count != want[k].Count || !near(b.MeanPredicted, want[k].MeanPredicted, 1e-12) || !near(b.Observed, want[k].Observed, 1e-12) {
			t.Errorf("bin %d = %+v, want %+v", k, b, want[k])
		}
	}
	if !near(ece, .25, 1e-12) {
		t.Errorf("ECE = %v, want 0.25", ece)
	}
	bins, _, _ = Reliability([]float64{.05}, []int{1}, 10)
	if bins[0].Count != 1 || bins[5].Count != 0 || bins[5].MeanPredicted != 0 {
		t.Errorf("empty bins: %+v", bins)
	}
}
