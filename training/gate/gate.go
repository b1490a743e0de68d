package gate

import (
	"errors"
	"fmt"
	"math"

	"pneumoscan/model"
)

// Fitted is what Fit makes: the file's gate and how it was chosen and did.
type Fitted struct {
	Params model.GateParams
	Spec   model.GateSpec
	Gate   *model.Gate
	Report *Report
}

// Thresholds are the rules the validation split sets the gate's thresholds by.
type Thresholds struct {
	// FalseRefusals is the share of validation films the classifier threshold may refuse.
	FalseRefusals float64
	// AcceptCap: the classifier threshold is at most this P(frontal).
	AcceptCap float64
	// Population: the share of validation films the population warning keeps inside.
	Population float64
	// DistanceMargin: the refusal distance is this times the largest validation distance.
	DistanceMargin float64
	// CorrectFloor: the orientation threshold is at least this, and above every non-upright
	// probability an upright validation film got.
	CorrectFloor float64
}

// DefaultThresholds are the rules the command uses.
var DefaultThresholds = Thresholds{FalseRefusals: 0.005, AcceptCap: 0.5, Population: 0.99, DistanceMargin: 1.5, CorrectFloor: 0.9}

// rows returns the feature rows of f that were read, with their items.
func rows(f *Features, keep func(i int) bool) ([]float32, []Item) {
	var x []float32
	var items []Item
	for i, it := range f.Items {
		if f.Skipped[i] != "" || (keep != nil && !keep(i)) {
			continue
		}
		x = append(x, f.Row(i)...)
		items = append(items, it)
	}
	return x, items
}

// Fit fits the gate classifier (frontal films against the fit sources' negatives and the
// fit synthetic ones), the orientation head (upright films and their turned and inverted
// copies) and the distance (principal directions of the upright training films), then sets
// the thresholds on the validation split by th.
func Fit(s *Sets, cfg Config, th Thresholds) (*Fitted, error) {
	if s.TrainUp == nil || s.Val == nil {
		return nil, errors.New("gate: no training or validation features")
	}
	d := s.TrainUp.Dim
	up, _ := rows(s.TrainUp, nil)
	nUp := len(up) / d
	// Gate classifier.
	x := append([]float32(nil), up...)
	labels := make([]int, nUp)
	negX, negItems := rows(s.Negatives, func(i int) bool { return !s.Held[i] })
	x = append(x, negX...)
	for _, it := range negItems {
		labels = append(labels, it.Class)
	}
	synX, synItems := rows(s.Synthetic, func(i int) bool { return !s.SyntheticHeld[i] })
	x = append(x, synX...)
	for _, it := range synItems {
		labels = append(labels, it.Class)
	}
	present := map[int]bool{}
	for _, l := range labels {
		present[l] = true
	}
	// A class with no example (a small data set, a category all refused before the model)
	// is left out of the file rather than fitted on nothing.
	var classes []string
	remap := map[int]int{}
	for c, name := range Classes {
		if present[c] {
			remap[c] = len(classes)
			classes = append(classes, name)
		}
	}
	for i, l := range labels {
		labels[i] = remap[l]
	}
	if len(classes) < 2 || classes[0] != model.FrontalClass {
		return nil, fmt.Errorf("gate: fit data has classes %q; want frontal films and at least one kind of negative", classes)
	}
	w, b, err := Softmax(x, d, labels, len(classes), cfg.L2, 1000)
	if err != nil {
		return nil, err
	}
	// Orientation head.
	ox := append([]float32(nil), up...)
	olabels := make([]int, nUp)
	rx, ritems := rows(s.TrainOrient, nil)
	ox = append(ox, rx...)
	for _, it := range ritems {
		olabels = append(olabels, int(it.Orient))
	}
	// The orientation head's L2 penalty is chosen on the validation films and their turned
	// and inverted copies (mean log-loss, classes weighted equally).
	vx, vitems := rows(s.Val, nil)
	vlabels := make([]int, len(vitems))
	if s.ValOrient != nil {
		rx, ritems := rows(s.ValOrient, nil)
		vx = append(vx, rx...)
		for _, it := range ritems {
			vlabels = append(vlabels, int(it.Orient))
		}
	}
	var ow, ob []float32
	best := math.Inf(1)
	var orientL2 float64
	for _, l2 := range []float64{1e-4, 1e-3, 1e-2, 1e-1} {
		w, b, err := Softmax(ox, d, olabels, int(model.Orientations), l2, 1000)
		if err != nil {
			return nil, err
		}
		if loss := logLoss(vx, d, vlabels, int(model.Orientations), w, b); loss < best {
			best, ow, ob, orientL2 = loss, w, b, l2
		}
	}
	mean, basis, variance, err := Principal(up, d, min(cfg.Components, nUp-2, d-1))
	if err != nil {
		return nil, err
	}
	p := model.GateParams{Dim: d, Mean: mean, Basis: basis, Variance: variance, Weight: w, Bias: b, OrientWeight: ow, OrientBias: ob}
	// A provisional spec, to measure with before the thresholds are set.
	spec := model.GateSpec{Classes: classes, Accept: 0.5, Correct: 1, Warn: 1, Quantiles: make([]float64, 101)}

	g, err := model.NewGate(p, spec)
	if err != nil {
		return nil, err
	}
	var trainDist []float64
	for i := range nUp {
		trainDist = append(trainDist, g.Distance(up[i*d:(i+1)*d]))
	}
	for q := range 101 {
		spec.Quantiles[q] = Quantile(trainDist, float64(q)/100)
	}
	// Thresholds, on validation only.
	valX, _ := rows(s.Val, nil)
	var frontal, dist, uprightWorst, uprightP []float64
	worst := 0.0
	for i := range len(valX) / d {
		f := valX[i*d : (i+1)*d]
		v := g.Check(f)
		frontal = append(frontal, v.Frontal)
		dist = append(dist, v.Distance)
		o := g.Orient(f)
		uprightP = append(uprightP, o.Probs[model.Upright])
		if o.Most != model.Upright {
			worst = math.Max(worst, o.Probs[o.Most])
			uprightWorst = append(uprightWorst, o.Probs[o.Most])
		}
	}
	spec.Accept = math.Min(th.AcceptCap, Quantile(frontal, th.FalseRefusals))
	spec.Accept = math.Max(spec.Accept, 1e-6)
	maxDist := 0.0
	for _, v := range dist {
		maxDist = math.Max(maxDist, v)
	}
	spec.RefuseDistance = th.DistanceMargin * maxDist
	spec.Warn = Quantile(dist, th.Population)
	spec.Correct = math.Max(th.CorrectFloor, math.Min(1, math.Nextafter(worst, 2)))
	spec.Unsure = math.Min(0.5, Quantile(uprightP, th.FalseRefusals))
	spec.Criteria = map[string]string{
		"accept":          fmt.Sprintf("the %.1f%% quantile of P(frontal) over %d validation films, at most %.2f", 100*th.FalseRefusals, len(frontal), th.AcceptCap),
		"refuse_distance": fmt.Sprintf("%.2f x the largest distance of %d validation films", th.DistanceMargin, len(dist)),
		"warn":            fmt.Sprintf("the %.0f%% quantile of the distance over %d validation films (keeps %.0f%% inside)", 100*th.Population, len(dist), 100*th.Population),
		"correct":         fmt.Sprintf("at least %.2f and above the largest non-upright probability of any of %d validation films (%d of them had one most likely)", th.CorrectFloor, len(frontal), len(uprightWorst)),
		"unsure":          fmt.Sprintf("the %.1f%% quantile of P(upright) over %d validation films, at most 0.5", 100*th.FalseRefusals, len(uprightP)),
		"orientation_l2":  fmt.Sprintf("%g, of 1e-4..0.1, by the log-loss on the validation films and their turned and inverted copies", orientL2),
		"quantiles":       fmt.Sprintf("distances of the %d training films fitted on", nUp),
	}
	g, err = model.NewGate(p, spec)
	if err != nil {
		return nil, err
	}
	return &Fitted{Params: p, Spec: spec, Gate: g}, nil
}

// logLoss is the mean negative log-likelihood of labels under the softmax of x·W + b, each
// class weighted equally.
func logLoss(x []float32, d int, labels []int, classes int, w, b []float32) float64 {
	count := make([]int, classes)
	for _, l := range labels {
		count[l]++
	}
	total := 0.0
	for i, l := range labels {
		logits := make([]float64, classes)
		for c := range classes {
			logits[c] = float64(b[c])
		}
		for j, v := range x[i*d : (i+1)*d] {
			for c := range classes {
				logits[c] += float64(v) * float64(w[j*classes+c])
			}
		}
		p := model.Softmax(logits)
		total += -math.Log(math.Max(p[l], 1e-12)) / float64(count[l])
	}
	return total / float64(classes)
}
