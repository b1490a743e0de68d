package head

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"pneumoscan/metrics"
)

// synthetic makes n examples whose label depends on a nonlinear function of
// a few of dim features, so a hidden layer is needed to score them well.
func synthetic(n, dim int, seed uint64) Data {
	r := rand.New(rand.NewPCG(seed, 1))
	d := Data{Dim: dim, X: make([]float32, n*dim), Labels: make([]int, n)}
	for i := 0; i < n; i++ {
		row := d.X[i*dim : (i+1)*dim]
		for k := range row {
			row[k] = float32(r.NormFloat64()*3 + 5) // offset and scale: standardisation matters
		}
		a, b := float64(row[0]-5)/3, float64(row[1]-5)/3
		if a*a+b*b+0.3*r.NormFloat64() > 1.2 {
			d.Labels[i] = 1
		}
	}
	return d
}

func testConfig() Config {
	c := Default()
	c.Dim, c.Units, c.Epochs, c.Batch, c.Patience = 8, 16, 6, 16, 0
	c.LR, c.Dropout, c.L2 = 0.01, 0.2, 1e-3
	return c
}

// cost is the graph's cost written out in plain Go, for the gradient check.
func cost(cfg Config, p Params, x, y, w, mask []float64, b int) float64 {
	s := 0.0
	for i := 0; i < b; i++ {
		z := p.B2[0]
		for u := 0; u < cfg.Units; u++ {
			h := p.B1[u]
			for k := 0; k < cfg.Dim; k++ {
				h += x[i*cfg.Dim+k] * p.W1[k*cfg.Units+u]
			}
			z += math.Max(h, 0) * mask[i*cfg.Units+u] * p.W2[u]
		}
		s += w[i] * (softplus(z) - y[i]*z)
	}
	l2 := 0.0
	for _, v := range p.W1 {
		l2 += v * v
	}
	return s/float64(b) + cfg.L2*l2
}

func TestGradientsMatchFiniteDifferences(t *testing.T) {
	cfg := testConfig()
	st, err := NewState(cfg, synthetic(10, cfg.Dim, 1))
	if err != nil {
		t.Fatal(err)
	}
	const b = 5
	g, err := newBatchGraph(cfg, st.Params, b)
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(7, 7))
	for i := range g.x {
		g.x[i] = r.NormFloat64()
	}
	for i := range g.y {
		g.y[i] = float64(i % 2)
		g.w[i] = 0.5 + float64(i%2)
	}
	for i := range g.mask {
		g.mask[i] = float64(r.IntN(2)) * 2
	}
	_, grads, err := g.step()
	if err != nil {
		t.Fatal(err)
	}
	ps := st.Params.slices()
	for k, p := range ps {
		for i := range p {
			if k == 0 && i%7 != 0 {
				continue // a sample of W1 is enough
			}
			old := p[i]
			const h = 1e-6
			p[i] = old + h
			up := cost(cfg, st.Params, g.x, g.y, g.w, g.mask, b)
			p[i] = old - h
			down := cost(cfg, st.Params, g.x, g.y, g.w, g.mask, b)
			p[i] = old
			num := (up - down) / (2 * h)
			if math.Abs(num-grads[k][i]) > 1e-6*math.Max(1, math.Abs(num)) {
				t.Fatalf("param %d[%d]: gradient %v, finite difference %v", k, i, grads[k][i], num)
			}
		}
	}
}

func TestTrainLearnsAndKeepsBest(t *testing.T) {
	cfg := testConfig()
	train, val := synthetic(400, cfg.Dim, 1), synthetic(200, cfg.Dim, 2)
	st, err := NewState(cfg, train)
	if err != nil {
		t.Fatal(err)
	}
	init := st.Params.Clone()
	p0, _ := init.Probs(st.Norm, cfg.Units, val)
	auc0, _ := metrics.AUC(p0, val.Labels)
	var seen []EpochStats
	if err := Train(context.Background(), cfg, st, []Data{train}, val, func(s *State, es EpochStats) error {
		seen = append(seen, es)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(seen) != cfg.Epochs || st.Epoch != cfg.Epochs {
		t.Fatalf("saw %d epochs, state at %d, want %d", len(seen), st.Epoch, cfg.Epochs)
	}
	if seen[len(seen)-1].TrainLoss >= seen[0].TrainLoss {
		t.Errorf("training loss did not fall: %+v", seen)
	}
	best := 0.0
	for _, es := range seen {
		best = math.Max(best, es.ValAUC)
	}
	if st.BestAUC != best || seen[st.BestEpoch-1].ValAUC != best {
		t.Errorf("best AUC %v at epoch %d, history max %v", st.BestAUC, st.BestEpoch, best)
	}
	if best < 0.9 || best < auc0+0.1 {
		t.Errorf("validation AUC %v (initial %v): the head did not learn", best, auc0)
	}
	// The exported float32 head on raw features agrees with the float64
	// head on standardised ones.
	h, err := st.Best.Head(st.Norm, cfg.Dim, cfg.Units)
	if err != nil {
		t.Fatal(err)
	}
	pb, _ := st.Best.Probs(st.Norm, cfg.Units, val)
	for i := 0; i < 20; i++ {
		z, err := h.Logit(val.X[i*cfg.Dim : (i+1)*cfg.Dim])
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(sigmoid(z)-pb[i]) > 1e-4 {
			t.Fatalf("example %d: exported head %v, trained head %v", i, sigmoid(z), pb[i])
		}
	}
}

func TestEarlyStopping(t *testing.T) {
	cfg := testConfig()
	cfg.Epochs, cfg.Patience = 50, 2
	cfg.LR = 0.05
	train, val := synthetic(200, cfg.Dim, 1), synthetic(100, cfg.Dim, 2)
	st, _ := NewState(cfg, train)
	if err := Train(context.Background(), cfg, st, []Data{train}, val, nil); err != nil {
		t.Fatal(err)
	}
	if !st.Stopped || st.Epoch != st.BestEpoch+cfg.Patience {
		t.Fatalf("stopped=%v at epoch %d, best %d, patience %d", st.Stopped, st.Epoch, st.BestEpoch, cfg.Patience)
	}
}

func equalParams(a, b Params) bool {
	as, bs := a.slices(), b.slices()
	for k := range as {
		if len(as[k]) != len(bs[k]) {
			return false
		}
		for i := range as[k] {
			if math.Float64bits(as[k][i]) != math.Float64bits(bs[k][i]) {
				return false
			}
		}
	}
	return true
}

// Stopping after k epochs and going on from the state (through a deep copy,
// as a checkpoint would) gives bit-identical weights, with two augmentation
// views taking turns.
func TestResumeIsExact(t *testing.T) {
	cfg := testConfig()
	views := []Data{synthetic(300, cfg.Dim, 1), synthetic(300, cfg.Dim, 1)}
	views[1].X = append([]float32(nil), views[1].X...)
	for i := range views[1].X {
		views[1].X[i] += 0.1
	}
	val := synthetic(100, cfg.Dim, 2)
	full, _ := NewState(cfg, views[0])
	if err := Train(context.Background(), cfg, full, views, val, nil); err != nil {
		t.Fatal(err)
	}
	part, _ := NewState(cfg, views[0])
	short := cfg
	short.Epochs = 3
	if err := Train(context.Background(), short, part, views, val, nil); err != nil {
		t.Fatal(err)
	}
	resumed := part.Clone()
	if err := Train(context.Background(), cfg, resumed, views, val, nil); err != nil {
		t.Fatal(err)
	}
	if !equalParams(full.Params, resumed.Params) || !equalParams(full.Best, resumed.Best) || !equalParams(full.M, resumed.M) {
		t.Fatal("resumed run differs from the uninterrupted one")
	}
}

// A cancelled epoch leaves the state of the last complete one.
func TestCancelKeepsLastEpoch(t *testing.T) {
	cfg := testConfig()
	train, val := synthetic(300, cfg.Dim, 1), synthetic(100, cfg.Dim, 2)
	st, _ := NewState(cfg, train)
	ctx, cancel := context.WithCancel(context.Background())
	var saved *State
	err := Train(ctx, cfg, st, []Data{train}, val, func(s *State, es EpochStats) error {
		saved = s.Clone()
		if es.Epoch == 2 {
			cancel()
		}
		return nil
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
	if st.Epoch != 2 || !equalParams(st.Params, saved.Params) || st.Step != saved.Step || string(st.RNG) != string(saved.RNG) {
		t.Fatalf("state after cancel is not the last saved epoch (epoch %d)", st.Epoch)
	}
}

func TestBadInputIsRefused(t *testing.T) {
	cfg := testConfig()
	d := synthetic(10, cfg.Dim, 1)
	d.Labels[3] = 2
	if _, err := NewState(cfg, d); err == nil {
		t.Error("label 2 accepted")
	}
	bad := cfg
	bad.Dropout = 1
	if _, err := NewState(bad, synthetic(10, cfg.Dim, 1)); err == nil {
		t.Error("dropout 1 accepted")
	}
	if _, err := NewState(cfg, synthetic(10, cfg.Dim+1, 1)); err == nil {
		t.Error("wrong dimension accepted")
	}
}
