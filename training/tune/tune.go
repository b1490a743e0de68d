// Package tune searches the head's hyperparameters at random over declared
// ranges: each trial trains a head on cached features and is scored by its
// best validation ROC-AUC. Every finished trial is appended to a JSON-lines
// log, so a stopped search resumes where it stopped: trial i's settings are
// drawn from its own seeded stream, the same on every run.
package tune

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"pneumoscan/training/head"
)

// Space is the declared search space. Dropout is uniform, LR and L2
// log-uniform over [lo, hi].
type Space struct {
	Units   []int      `json:"units"`
	Dropout [2]float64 `json:"dropout"`
	LR      [2]float64 `json:"lr"`
	L2      [2]float64 `json:"l2"`
}

// DefaultSpace is the search space.
func DefaultSpace() Space {
	return Space{
		Units:   []int{64, 128, 256, 512},
		Dropout: [2]float64{0, 0.6},
		LR:      [2]float64{1e-4, 3e-3},
		L2:      [2]float64{1e-6, 1e-2},
	}
}

// Validate reports an unusable space.
func (s Space) Validate() error {
	if len(s.Units) == 0 {
		return errors.New("tune: no unit counts to choose from")
	}
	for _, u := range s.Units {
		if u <= 0 {
			return fmt.Errorf("tune: unit count %d must be positive", u)
		}
	}
	switch {
	case !(s.Dropout[0] >= 0 && s.Dropout[0] <= s.Dropout[1] && s.Dropout[1] < 1):
		return fmt.Errorf("tune: dropout range %v must lie in [0, 1)", s.Dropout)
	case !(s.LR[0] > 0 && s.LR[0] <= s.LR[1]):
		return fmt.Errorf("tune: learning-rate range %v must be positive and ordered", s.LR)
	case !(s.L2[0] > 0 && s.L2[0] <= s.L2[1]):
		return fmt.Errorf("tune: L2 range %v must be positive and ordered (log-uniform)", s.L2)
	}
	return nil
}

// Params are one trial's settings.
type Params struct {
	Units   int     `json:"units"`
	Dropout float64 `json:"dropout"`
	LR      float64 `json:"lr"`
	L2      float64 `json:"l2"`
}

// Sample draws trial i's settings from a stream of its own, so they depend
// only on seed and i, not on which trials ran before.
func (s Space) Sample(seed uint64, i int) Params {
	r := rand.New(rand.NewPCG(seed, uint64(i)))
	logU := func(b [2]float64) float64 {
		return math.Exp(math.Log(b[0]) + r.Float64()*(math.Log(b[1])-math.Log(b[0])))
	}
	p := Params{Units: s.Units[r.IntN(len(s.Units))]}
	p.Dropout = s.Dropout[0] + r.Float64()*(s.Dropout[1]-s.Dropout[0])
	p.LR = logU(s.LR)
	p.L2 = logU(s.L2)
	return p
}

// Apply returns base with p's settings.
func (p Params) Apply(base head.Config) head.Config {
	base.Units, base.Dropout, base.LR, base.L2 = p.Units, p.Dropout, p.LR, p.L2
	return base
}

// Trial is one finished trial, one line of the log.
type Trial struct {
	Trial int `json:"trial"`
	Params
	ValAUC    float64 `json:"val_auc"`
	ValLoss   float64 `json:"val_loss"` // at the best epoch
	BestEpoch int     `json:"best_epoch"`
	Epochs    int     `json:"epochs"`
	Seconds   float64 `json:"seconds"`
	// Setup fingerprints the space, seed and base configuration; a log is
	// only resumed by the same setup.
	Setup string `json:"setup"`
}

// Options configure a search.
type Options struct {
	Space  Space
	Trials int
	Seed   uint64
	Base   head.Config // everything but the searched settings; Seed is offset per trial
	Log    string      // JSON-lines file, appended to
	// OnTrial, when set, is called after each trial is logged (progress).
	OnTrial func(Trial)
}

func (o Options) setup() (string, error) {
	b, err := json.Marshal(struct {
		Space Space
		Seed  uint64
		Base  head.Config
	}{o.Space, o.Seed, o.Base})
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8]), nil
}

// Run performs the trials not yet in the log and returns every trial, logged
// ones included, in trial order. On cancellation it returns the trials
// finished so far with ctx's error; the trial in flight is not logged.
func Run(ctx context.Context, o Options, train []head.Data, val head.Data) ([]Trial, error) {
	if err := o.Space.Validate(); err != nil {
		return nil, err
	}
	if o.Trials <= 0 {
		return nil, fmt.Errorf("tune: trials %d must be positive", o.Trials)
	}
	setup, err := o.setup()
	if err != nil {
		return nil, err
	}
	done, err := ReadLog(o.Log)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	byIndex := map[int]Trial{}
	for _, t := range done {
		if t.Setup != setup {
			return nil, fmt.Errorf("tune: %s holds trials of another search (space, seed or base settings differ); use a new log", o.Log)
		}
		if t.Params != o.Space.Sample(o.Seed, t.Trial) {
			return nil, fmt.Errorf("tune: %s trial %d has settings %+v, not the ones its seed draws", o.Log, t.Trial, t.Params)
		}
		byIndex[t.Trial] = t
	}
	for i := 0; i < o.Trials; i++ {
		if _, ok := byIndex[i]; ok {
			continue
		}
		p := o.Space.Sample(o.Seed, i)
		cfg := p.Apply(o.Base)
		cfg.Seed = o.Base.Seed + uint64(i)
		start := time.Now()
		st, err := head.NewState(cfg, train[0])
		if err != nil {
			return sorted(byIndex), err
		}
		if err := head.Train(ctx, cfg, st, train, val, nil); err != nil {
			return sorted(byIndex), err
		}
		t := Trial{Trial: i, Params: p, ValAUC: st.BestAUC, ValLoss: st.History[st.BestEpoch-1].ValLoss,
			BestEpoch: st.BestEpoch, Epochs: st.Epoch, Seconds: time.Since(start).Seconds(), Setup: setup}
		if err := appendLine(o.Log, t); err != nil {
			return sorted(byIndex), err
		}
		byIndex[i] = t
		if o.OnTrial != nil {
			o.OnTrial(t)
		}
	}
	return sorted(byIndex), nil
}

func sorted(m map[int]Trial) []Trial {
	ts := make([]Trial, 0, len(m))
	for _, t := range m {
		ts = append(ts, t)
	}
	slices.SortFunc(ts, func(a, b Trial) int { return a.Trial - b.Trial })
	return ts
}

// appendLine writes one trial as a line and syncs it, so a crash loses at
// most the line being written (ReadLog drops a torn last line).
func appendLine(path string, t Trial) error {
	b, err := json.Marshal(t)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("tune: %w", err)
	}
	if _, err := f.Write(append(b, '\n')); err != nil {
		f.Close()
		return fmt.Errorf("tune: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("tune: %w", err)
	}
	return f.Close()
}

// ReadLog reads the trials of a log. A last line without its newline is a
// write cut short by a crash: it is cut off the file and ignored. Any other
// bad line is an error.
func ReadLog(path string) ([]Trial, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if i := bytes.LastIndexByte(data, '\n'); i+1 < len(data) {
		if err := os.Truncate(path, int64(i+1)); err != nil {
			return nil, fmt.Errorf("tune: dropping the torn last line of %s: %w", path, err)
		}
		data = data[:i+1]
	}
	var ts []Trial
	seen := map[int]bool{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		var t Trial
		dec := json.NewDecoder(strings.NewReader(line))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&t); err != nil {
			return nil, fmt.Errorf("tune: %s line %d: %w", path, n, err)
		}
		if seen[t.Trial] {
			return nil, fmt.Errorf("tune: %s line %d: trial %d is logged twice", path, n, t.Trial)
		}
		seen[t.Trial] = true
		ts = append(ts, t)
	}
	return ts, sc.Err()
}

// Best returns the trial with the highest validation AUC (the lowest trial
// number on ties).
func Best(ts []Trial) (Trial, error) {
	if len(ts) == 0 {
		return Trial{}, errors.New("tune: no trials")
	}
	best := ts[0]
	for _, t := range ts[1:] {
		if t.ValAUC > best.ValAUC || (t.ValAUC == best.ValAUC && t.Trial < best.Trial) {
			best = t
		}
	}
	return best, nil
}

// WriteTable prints the trials ranked by validation AUC, best first.
func WriteTable(w io.Writer, ts []Trial) error {
	ranked := slices.Clone(ts)
	slices.SortStableFunc(ranked, func(a, b Trial) int {
		switch {
		case a.ValAUC > b.ValAUC:
			return -1
		case a.ValAUC < b.ValAUC:
			return 1
		}
		return a.Trial - b.Trial
	})
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "rank\ttrial\tunits\tdropout\tlr\tl2\tval AUC\tval loss\tbest epoch\tepochs\tseconds\t")
	for i, t := range ranked {
		fmt.Fprintf(tw, "%d\t%d\t%d\t%.3f\t%.2e\t%.2e\t%.4f\t%.4f\t%d\t%d\t%.1f\t\n",
			i+1, t.Trial, t.Units, t.Dropout, t.LR, t.L2, t.ValAUC, t.ValLoss, t.BestEpoch, t.Epochs, t.Seconds)
	}
	return tw.Flush()
}
