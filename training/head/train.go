package head

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"pneumoscan/metrics"
)

// EpochStats is what one epoch measured.
type EpochStats struct {
	Epoch     int     `json:"epoch"` // 1-based
	TrainLoss float64 `json:"train_loss"`
	ValLoss   float64 `json:"val_loss"`
	ValAUC    float64 `json:"val_auc"`
	Seconds   float64 `json:"seconds"`
}

// State is everything a run needs to continue exactly where it stopped.
type State struct {
	Epoch  int    // epochs completed
	Step   int    // Adam steps taken
	Params Params // current weights
	M, V   Params // Adam first and second moments
	RNG    []byte // the PCG stream, marshalled
	Norm   Norm

	Best      Params // weights of the epoch with the best validation AUC
	BestEpoch int    // 0 before the first epoch
	BestAUC   float64
	Stale     int  // epochs since BestEpoch
	Stopped   bool // early stopping fired
	History   []EpochStats
}

// Clone returns a deep copy.
func (s *State) Clone() *State {
	c := *s
	c.Params, c.M, c.V, c.Best = s.Params.Clone(), s.M.Clone(), s.V.Clone(), s.Best.Clone()
	c.RNG = append([]byte(nil), s.RNG...)
	c.History = append([]EpochStats(nil), s.History...)
	return &c
}

// Done reports whether training has nothing left to do under cfg.
func (s *State) Done(cfg Config) bool { return s.Stopped || s.Epoch >= cfg.Epochs }

// Check reports a state that does not fit cfg (for example a checkpoint of
// another configuration).
func (s *State) Check(cfg Config) error {
	for _, p := range []Params{s.Params, s.M, s.V} {
		if err := p.check(cfg.Dim, cfg.Units); err != nil {
			return err
		}
	}
	if s.BestEpoch > 0 {
		if err := s.Best.check(cfg.Dim, cfg.Units); err != nil {
			return err
		}
	}
	if cfg.Standardize != (len(s.Norm.Mean) > 0) || (len(s.Norm.Mean) > 0 && (len(s.Norm.Mean) != cfg.Dim || len(s.Norm.Std) != cfg.Dim)) {
		return errors.New("head: the state's feature standardisation does not match the configuration")
	}
	if _, err := s.rng(); err != nil {
		return err
	}
	return nil
}

func (s *State) rng() (*rand.PCG, error) {
	p := &rand.PCG{}
	if err := p.UnmarshalBinary(s.RNG); err != nil {
		return nil, fmt.Errorf("head: random state: %w", err)
	}
	return p, nil
}

// NewState starts a run: the standardisation fitted on train (when cfg asks)
// and Glorot-uniform weights (Keras' default) drawn from the run's stream.
func NewState(cfg Config, train Data) (*State, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := train.Check(cfg.Dim); err != nil {
		return nil, err
	}
	src := rand.NewPCG(cfg.Seed, 0x9e3779b97f4a7c15)
	r := rand.New(src)
	s := &State{Params: newParams(cfg.Dim, cfg.Units), M: newParams(cfg.Dim, cfg.Units), V: newParams(cfg.Dim, cfg.Units)}
	glorot := func(w []float64, fanIn, fanOut int) {
		lim := math.Sqrt(6 / float64(fanIn+fanOut))
		for i := range w {
			w[i] = (2*r.Float64() - 1) * lim
		}
	}
	glorot(s.Params.W1, cfg.Dim, cfg.Units)
	glorot(s.Params.W2, cfg.Units, 1)
	if cfg.Standardize {
		s.Norm = fitNorm(train)
	}
	var err error
	if s.RNG, err = src.MarshalBinary(); err != nil {
		return nil, err
	}
	return s, nil
}

// Train runs epochs until cfg.Epochs or early stopping, continuing from st
// (new or resumed), and calls onEpoch after each epoch with the updated state
// (to checkpoint it). Epoch e trains on train[e % len(train)], so several
// augmentation draws of the same examples take turns. When ctx is cancelled
// Train returns ctx's error within one batch and st is left as it was after
// the last complete epoch, the state onEpoch last saw.
func Train(ctx context.Context, cfg Config, st *State, train []Data, val Data, onEpoch func(*State, EpochStats) error) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	if err := st.Check(cfg); err != nil {
		return err
	}
	if len(train) == 0 {
		return errors.New("head: no training data")
	}
	for i, d := range train {
		if err := d.Check(cfg.Dim); err != nil {
			return fmt.Errorf("training view %d: %w", i, err)
		}
		if len(d.Labels) != len(train[0].Labels) {
			return fmt.Errorf("head: training view %d has %d examples, view 0 has %d", i, len(d.Labels), len(train[0].Labels))
		}
	}
	if err := val.Check(cfg.Dim); err != nil {
		return fmt.Errorf("validation: %w", err)
	}
	cw := cfg.classWeights()
	graphs := map[int]*batchGraph{}
	for !st.Done(cfg) {
		start := time.Now()
		before := st.Clone()
		loss, err := runEpoch(ctx, cfg, st, train[st.Epoch%len(train)], cw, graphs)
		if err != nil {
			// Back to the last complete epoch, in place: the graphs hold st's slices.
			st.Params.copyFrom(before.Params)
			st.M.copyFrom(before.M)
			st.V.copyFrom(before.V)
			st.Step, st.RNG = before.Step, before.RNG
			return err
		}
		z := logits(st.Params, st.Norm, cfg.Units, val)
		probs := make([]float64, len(z))
		for i, v := range z {
			probs[i] = sigmoid(v)
		}
		auc, err := metrics.AUC(probs, val.Labels)
		if err != nil {
			return fmt.Errorf("head: validation AUC: %w", err)
		}
		st.Epoch++
		es := EpochStats{Epoch: st.Epoch, TrainLoss: loss, ValLoss: weightedBCE(z, val.Labels, cw), ValAUC: auc, Seconds: time.Since(start).Seconds()}
		st.History = append(st.History, es)
		if st.BestEpoch == 0 || auc > st.BestAUC {
			st.Best, st.BestEpoch, st.BestAUC, st.Stale = st.Params.Clone(), st.Epoch, auc, 0
		} else {
			st.Stale++
			if cfg.Patience > 0 && st.Stale >= cfg.Patience {
				st.Stopped = true
			}
		}
		if onEpoch != nil {
			if err := onEpoch(st, es); err != nil {
				return err
			}
		}
	}
	return nil
}

// runEpoch shuffles, then takes one Adam step per minibatch, and returns the
// mean training loss (data term, without L2).
func runEpoch(ctx context.Context, cfg Config, st *State, d Data, cw [2]float64, graphs map[int]*batchGraph) (float64, error) {
	src, err := st.rng()
	if err != nil {
		return 0, err
	}
	r := rand.New(src)
	n := len(d.Labels)
	order := r.Perm(n)
	total := 0.0
	for lo := 0; lo < n; lo += cfg.Batch {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		hi := min(lo+cfg.Batch, n)
		b := hi - lo
		g := graphs[b]
		if g == nil {
			if g, err = newBatchGraph(cfg, st.Params, b); err != nil {
				return 0, err
			}
			graphs[b] = g
		}
		for j, i := range order[lo:hi] {
			st.Norm.row(g.x[j*cfg.Dim:(j+1)*cfg.Dim], d, i)
			g.y[j] = float64(d.Labels[i])
			g.w[j] = cw[d.Labels[i]]
		}
		keep := 1 - cfg.Dropout
		for k := range g.mask {
			if cfg.Dropout > 0 && r.Float64() < cfg.Dropout {
				g.mask[k] = 0
			} else {
				g.mask[k] = 1 / keep
			}
		}
		loss, grads, err := g.step()
		if err != nil {
			return 0, err
		}
		total += loss * float64(b)
		adam(cfg, st, grads)
	}
	if st.RNG, err = src.MarshalBinary(); err != nil {
		return 0, err
	}
	return total / float64(n), nil
}

// adam applies one Adam step (Kingma & Ba, with bias correction).
func adam(cfg Config, st *State, grads [4][]float64) {
	st.Step++
	t := float64(st.Step)
	c1 := 1 - math.Pow(cfg.Beta1, t)
	c2 := 1 - math.Pow(cfg.Beta2, t)
	ps, ms, vs := st.Params.slices(), st.M.slices(), st.V.slices()
	for k := range ps {
		p, m, v, g := ps[k], ms[k], vs[k], grads[k]
		for i := range p {
			m[i] = cfg.Beta1*m[i] + (1-cfg.Beta1)*g[i]
			v[i] = cfg.Beta2*v[i] + (1-cfg.Beta2)*g[i]*g[i]
			p[i] -= cfg.LR * (m[i] / c1) / (math.Sqrt(v[i]/c2) + cfg.Eps)
		}
	}
}
