// Package finetune trains the last stages of the ResNet backbone together with the head
// ("the last N stages trainable"): the frozen stem and first 4-N stages run once per image on
// the lean CPU forward pass of package backbone and their outputs are cached on disk in
// float16 (cache.go); the trainable stages, with BatchNorm folded into each convolution, and
// the head are then trained with gorgonia on those cached maps (net.go), class-weighted BCE,
// Adam, optional horizontal flips of the cached maps, validation ROC-AUC every epoch and early
// stopping, the same bookkeeping as package head. All random draws (head initialisation,
// shuffles, flips, dropout masks) come from one PCG stream kept in State, so a stopped run
// resumes exactly.
package finetune

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"pneumoscan/metrics"
	"pneumoscan/resnet"
	"pneumoscan/training/head"
)

// Config is the head's settings (units, dropout, L2 on the hidden layer, Adam, epochs, batch,
// patience, seed, class weights, Standardize) and the fine-tuning's own. With Standardize
// the pooled features are standardised before the head by constants fitted once on the
// training images under the initial stages (FitNorm), folded into the head on export.
type Config struct {
	Head   head.Config `json:"head"`
	Stages int         `json:"trainable_stages"` // 1..4
	Flip   bool        `json:"flip"`             // mirror each cached map left-right with probability 1/2
	// StagesLR is the Adam learning rate of the trainable stages' convolutions; 0 means
	// Head.LR * DefaultStagesLRFactor. The head uses Head.LR.
	StagesLR float64 `json:"stages_lr,omitempty"`
}

// StagesRate is the stages' learning rate c asks for.
func (c Config) StagesRate() float64 {
	if c.StagesLR > 0 {
		return c.StagesLR
	}
	return c.Head.LR * DefaultStagesLRFactor
}

// DefaultStagesLRFactor scales the head's learning rate for the convolutions when
// Config.StagesLR is 0: at the head's rate, Adam moves every weight of a pretrained or
// calibrated stage by about the same step at once and the activations blow up (a
// ResNet50 layer4 run at 1e-3 saw a first-epoch train loss of 7-18).
const DefaultStagesLRFactor = 0.1

// Validate reports an unusable setting.
func (c Config) Validate() error {
	if err := c.Head.Validate(); err != nil {
		return err
	}
	if c.Stages < 1 || c.Stages > 4 {
		return fmt.Errorf("finetune: %d trainable stages: want 1..4", c.Stages)
	}
	if c.StagesLR < 0 || math.IsNaN(c.StagesLR) {
		return fmt.Errorf("finetune: stages learning rate %v must be >= 0", c.StagesLR)
	}
	return nil
}

// State is everything a run needs to continue exactly where it stopped.
type State struct {
	Epoch, Step int
	Params      [][]float32 // in Net.Shapes order
	M, V        [][]float32 // Adam moments
	RNG         []byte
	Norm        head.Norm   // standardisation of the pooled features; empty: none
	Best        [][]float32 // the best epoch's Params
	BestEpoch   int
	BestAUC     float64
	Stale       int
	Stopped     bool
	History     []head.EpochStats
}

func cloneTensors(ts [][]float32) [][]float32 {
	out := make([][]float32, len(ts))
	for i, t := range ts {
		out[i] = append([]float32(nil), t...)
	}
	return out
}

// Clone returns a deep copy.
func (s *State) Clone() *State {
	c := *s
	c.Params, c.M, c.V, c.Best = cloneTensors(s.Params), cloneTensors(s.M), cloneTensors(s.V), cloneTensors(s.Best)
	c.RNG = append([]byte(nil), s.RNG...)
	c.Norm = head.Norm{Mean: append([]float64(nil), s.Norm.Mean...), Std: append([]float64(nil), s.Norm.Std...)}
	c.History = append([]head.EpochStats(nil), s.History...)
	return &c
}

// Done reports whether training has nothing left to do under cfg.
func (s *State) Done(cfg Config) bool { return s.Stopped || s.Epoch >= cfg.Head.Epochs }

// Check reports a state that does not fit the net.
func (s *State) Check(n *Net) error {
	for _, ts := range [][][]float32{s.Params, s.M, s.V} {
		if err := n.check(ts); err != nil {
			return err
		}
	}
	if s.BestEpoch > 0 {
		if err := n.check(s.Best); err != nil {
			return err
		}
	}
	return (&rand.PCG{}).UnmarshalBinary(s.RNG)
}

// NewState starts a run: the trainable convolutions from bb's folded weights, the head drawn
// as head.NewState draws it (Glorot-uniform from the run's stream, zero biases). With
// cfg.Head.Standardize the trainer's FitNorm must run before training.
func NewState(cfg Config, n *Net, bb *resnet.Backbone) (*State, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	hc := cfg.Head
	hc.Dim, hc.Units, hc.Standardize = n.Arch.Features(), n.Units, false
	// head.NewState only looks at the data to check it and fit a standardisation, which
	// FitNorm does here on the stages' own output: one dummy example is enough.
	hs, err := head.NewState(hc, head.Data{Dim: hc.Dim, X: make([]float32, hc.Dim), Labels: []int{0}})
	if err != nil {
		return nil, err
	}
	p := hs.Params
	ps, err := n.InitParams(bb, p.W1, p.B1, p.W2, p.B2)
	if err != nil {
		return nil, err
	}
	st := &State{Params: ps, M: zerosLike(ps), V: zerosLike(ps), RNG: hs.RNG}
	return st, nil
}

// FitNorm fits the standardisation of the pooled features on d (the training images) under
// the current weights, when the configuration standardises and the state has none yet.
func (t *Trainer) FitNorm(ctx context.Context, d *Acts) error {
	if !t.cfg.Head.Standardize || len(t.st.Norm.Mean) > 0 {
		return nil
	}
	_, pooled, err := t.Predict(ctx, d, true)
	if err != nil {
		return err
	}
	t.st.Norm = head.FitNorm(head.Data{Dim: t.net.Arch.Features(), X: pooled, Labels: d.Labels})
	t.eval = nil // built without the standardisation
	return nil
}

func zerosLike(ts [][]float32) [][]float32 {
	out := make([][]float32, len(ts))
	for i, t := range ts {
		out[i] = make([]float32, len(t))
	}
	return out
}

// Hooks are Train's callbacks; nil ones are skipped.
type Hooks struct {
	// OnEpoch sees the state after each epoch (to checkpoint it) and the epoch's numbers.
	OnEpoch func(*State, head.EpochStats) error
	// OnStep is called after each training step with the steps done and the epoch's total.
	OnStep func(done, total int)
}

// Trainer holds the graphs of a run (one training, one evaluation graph), built on first
// use over st.Params' arrays.
type Trainer struct {
	cfg         Config
	net         *Net
	st          *State
	train, eval *graph
}

// NewTrainer checks cfg and st against net.
func NewTrainer(cfg Config, net *Net, st *State) (*Trainer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Stages != net.Stages || cfg.Head.Units != net.Units {
		return nil, fmt.Errorf("finetune: config (%d stages, %d units) and net (%d, %d) differ", cfg.Stages, cfg.Head.Units, net.Stages, net.Units)
	}
	if err := st.Check(net); err != nil {
		return nil, err
	}
	if f := net.Arch.Features(); len(st.Norm.Mean) > 0 && (!cfg.Head.Standardize || len(st.Norm.Mean) != f || len(st.Norm.Std) != f) {
		return nil, errors.New("finetune: the state's feature standardisation does not match the configuration")
	}
	return &Trainer{cfg: cfg, net: net, st: st}, nil
}

func (t *Trainer) checkActs(a *Acts, what string) error {
	if err := a.Validate(); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if a.C != t.net.C || a.S != t.net.S {
		return fmt.Errorf("finetune: %s activations are %dx%dx%d, the trainable stages take %dx%dx%d", what, a.C, a.S, a.S, t.net.C, t.net.S, t.net.S)
	}
	if len(a.Items) == 0 {
		return fmt.Errorf("finetune: no %s examples", what)
	}
	return nil
}

// Train runs epochs until the configured number or early stopping, continuing from the
// trainer's state. When ctx is cancelled it returns ctx's error within one step, with the
// state as it was after the last complete epoch (what OnEpoch last saw).
func (t *Trainer) Train(ctx context.Context, train, val *Acts, hooks Hooks) error {
	if err := t.checkActs(train, "train"); err != nil {
		return err
	}
	if err := t.checkActs(val, "validation"); err != nil {
		return err
	}
	st := t.st
	if t.cfg.Head.Standardize && len(st.Norm.Mean) == 0 {
		return errors.New("finetune: the configuration standardises: call FitNorm before Train")
	}
	cw := t.cfg.Head.ClassWeights
	if cw == [2]float64{} {
		cw = [2]float64{1, 1}
	}
	for !st.Done(t.cfg) {
		start := time.Now()
		before := st.Clone()
		loss, err := t.epoch(ctx, train, cw, hooks.OnStep)
		if err != nil {
			// Back to the last complete epoch, in place: the graphs hold st's arrays.
			for i := range st.Params {
				copy(st.Params[i], before.Params[i])
				copy(st.M[i], before.M[i])
				copy(st.V[i], before.V[i])
			}
			st.Step, st.RNG = before.Step, before.RNG
			return err
		}
		z, _, err := t.Predict(ctx, val, false)
		if err != nil {
			return err
		}
		probs := make([]float64, len(z))
		vloss := 0.0
		for i, v := range z {
			probs[i] = sigmoid(v)
			vloss += cw[val.Labels[i]] * (softplus(v) - float64(val.Labels[i])*v)
		}
		auc, err := metrics.AUC(probs, val.Labels)
		if err != nil {
			return fmt.Errorf("finetune: validation AUC: %w", err)
		}
		st.Epoch++
		es := head.EpochStats{Epoch: st.Epoch, TrainLoss: loss, ValLoss: vloss / float64(len(z)), ValAUC: auc, Seconds: time.Since(start).Seconds()}
		st.History = append(st.History, es)
		if st.BestEpoch == 0 || auc > st.BestAUC {
			st.Best, st.BestEpoch, st.BestAUC, st.Stale = cloneTensors(st.Params), st.Epoch, auc, 0
		} else {
			st.Stale++
			if t.cfg.Head.Patience > 0 && st.Stale >= t.cfg.Head.Patience {
				st.Stopped = true
			}
		}
		if hooks.OnEpoch != nil {
			if err := hooks.OnEpoch(st, es); err != nil {
				return err
			}
		}
	}
	return nil
}

// epoch shuffles, then takes one Adam step per minibatch (the last one padded with weight-0
// examples), and returns the mean training loss (data term).
func (t *Trainer) epoch(ctx context.Context, d *Acts, cw [2]float64, onStep func(int, int)) (float64, error) {
	src := &rand.PCG{}
	if err := src.UnmarshalBinary(t.st.RNG); err != nil {
		return 0, err
	}
	r := rand.New(src)
	B := t.cfg.Head.Batch
	if t.train == nil {
		g, err := t.net.newGraph(t.st.Params, t.st.Norm, B, t.cfg.Head.L2, true)
		if err != nil {
			return 0, err
		}
		t.train = g
	}
	g := t.train
	n := len(d.Labels)
	order := r.Perm(n)
	dim := t.net.InDim()
	steps := (n + B - 1) / B
	total := 0.0
	for s := range steps {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		lo, hi := s*B, min((s+1)*B, n)
		b := hi - lo
		for j := range B {
			x := g.x[j*dim : (j+1)*dim]
			if j >= b {
				clear(x)
				g.y[j], g.w[j] = 0, 0
				continue
			}
			i := order[lo+j]
			flip := t.cfg.Flip && r.Float64() < 0.5
			d.Float32(x, i, flip)
			g.y[j] = float32(d.Labels[i])
			// Mean over B of w*loss = the mean over the b real examples.
			g.w[j] = float32(cw[d.Labels[i]] * float64(B) / float64(b))
		}
		keep := 1 - t.cfg.Head.Dropout
		for k := range g.mask {
			if t.cfg.Head.Dropout > 0 && r.Float64() < t.cfg.Head.Dropout {
				g.mask[k] = 0
			} else {
				g.mask[k] = float32(1 / keep)
			}
		}
		_, loss, grads, err := g.run()
		if err != nil {
			return 0, err
		}
		total += loss * float64(b)
		t.adam(grads)
		if onStep != nil {
			onStep(s+1, steps)
		}
	}
	var err error
	if t.st.RNG, err = src.MarshalBinary(); err != nil {
		return 0, err
	}
	return total / float64(n), nil
}

// adam applies one Adam step (Kingma & Ba, with bias correction), computed in float64.
func (t *Trainer) adam(grads [][]float32) {
	c := t.cfg.Head
	st := t.st
	st.Step++
	tt := float64(st.Step)
	c1 := 1 - math.Pow(c.Beta1, tt)
	c2 := 1 - math.Pow(c.Beta2, tt)
	nConv := len(st.Params) - 4 // the head's W1, B1, W2, B2 come last
	for k := range st.Params {
		p, m, v, g := st.Params[k], st.M[k], st.V[k], grads[k]
		lr := c.LR
		if k < nConv {
			lr = t.cfg.StagesRate()
		}
		for i := range p {
			gi := float64(g[i])
			mi := c.Beta1*float64(m[i]) + (1-c.Beta1)*gi
			vi := c.Beta2*float64(v[i]) + (1-c.Beta2)*gi*gi
			m[i], v[i] = float32(mi), float32(vi)
			p[i] = float32(float64(p[i]) - lr*(mi/c1)/(math.Sqrt(vi/c2)+c.Eps))
		}
	}
}

// Predict runs the current weights (no dropout, no flip) on every image of d and returns
// the logits and, with pooled, the pooled features (len(Items) x Features).
func (t *Trainer) Predict(ctx context.Context, d *Acts, pooled bool) ([]float64, []float32, error) {
	if err := t.checkActs(d, "prediction"); err != nil {
		return nil, nil, err
	}
	B := t.cfg.Head.Batch
	if t.eval == nil {
		g, err := t.net.newGraph(t.st.Params, t.st.Norm, B, 0, false)
		if err != nil {
			return nil, nil, err
		}
		t.eval = g
	}
	g := t.eval
	dim, f := t.net.InDim(), t.net.Arch.Features()
	n := len(d.Labels)
	z := make([]float64, n)
	var feats []float32
	if pooled {
		feats = make([]float32, n*f)
	}
	for lo := 0; lo < n; lo += B {
		if err := ctx.Err(); err != nil {
			return nil, nil, err
		}
		hi := min(lo+B, n)
		for j := range B {
			x := g.x[j*dim : (j+1)*dim]
			if lo+j >= hi {
				clear(x)
				continue
			}
			d.Float32(x, lo+j, false)
		}
		logits, _, _, err := g.run()
		if err != nil {
			return nil, nil, err
		}
		for j := range hi - lo {
			z[lo+j] = float64(logits[j])
		}
		if pooled {
			copy(feats[lo*f:hi*f], g.lastPooled[:(hi-lo)*f])
		}
	}
	return z, feats, nil
}

// State is the trainer's state (shared, not a copy).
func (t *Trainer) State() *State { return t.st }

// ErrNoBest is returned when a model is asked of a run that has not finished an epoch.
var ErrNoBest = errors.New("finetune: no epoch finished yet")

func sigmoid(z float64) float64 { return 1 / (1 + math.Exp(-z)) }

func softplus(z float64) float64 {
	if z > 0 {
		return z + math.Log1p(math.Exp(-z))
	}
	return math.Log1p(math.Exp(z))
}

// Epoch runs one training epoch over d without validation and returns the mean training
// loss: the unit benchtrain times.
func (t *Trainer) Epoch(ctx context.Context, d *Acts) (float64, error) {
	if err := t.checkActs(d, "train"); err != nil {
		return 0, err
	}
	cw := t.cfg.Head.ClassWeights
	if cw == [2]float64{} {
		cw = [2]float64{1, 1}
	}
	return t.epoch(ctx, d, cw, nil)
}
