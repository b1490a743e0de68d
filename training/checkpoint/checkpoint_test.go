package checkpoint

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"pneumoscan/internal/testmodel"
	"pneumoscan/training/head"
)

func data(n, dim int, seed uint64) head.Data {
	x, labels := testmodel.Separable(n, dim, seed, 0.5, 0.2)
	return head.Data{Dim: dim, X: x, Labels: labels}
}

func config() head.Config {
	c := head.Default()
	c.Dim, c.Units, c.Epochs, c.Batch, c.Patience, c.LR = 6, 8, 5, 10, 0, 0.01
	return c
}

func TestRoundTrip(t *testing.T) {
	cfg := config()
	train, val := data(60, cfg.Dim, 1), data(30, cfg.Dim, 2)
	st, err := head.NewState(cfg, train)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Epochs = 2
	if err := head.Train(context.Background(), cfg, st, []head.Data{train}, val, nil); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "run.ckpt")
	in := &Checkpoint{Config: cfg, State: st, Inputs: map[string]string{"split": "abc"}, Run: []byte(`{"x":1}`)}
	if err := Save(path, in); err != nil {
		t.Fatal(err)
	}
	out, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(in, out) {
		t.Fatal("loaded checkpoint differs from the saved one")
	}
	if err := out.CheckInputs(map[string]string{"split": "abd"}); err == nil {
		t.Error("changed input accepted")
	}
	if err := out.CheckInputs(map[string]string{"split": "abc"}); err != nil {
		t.Error(err)
	}
	if m, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".*tmp*")); len(m) != 0 {
		t.Errorf("temporary files left: %v", m)
	}
}

func TestCorruptFileIsRefused(t *testing.T) {
	cfg := config()
	st, _ := head.NewState(cfg, data(20, cfg.Dim, 1))
	dir := t.TempDir()
	path := filepath.Join(dir, "run.ckpt")
	if err := Save(path, &Checkpoint{Config: cfg, State: st}); err != nil {
		t.Fatal(err)
	}
	good, _ := os.ReadFile(path)
	cases := map[string][]byte{
		"flipped byte":     func() []byte { b := append([]byte(nil), good...); b[len(b)-40] ^= 1; return b }(),
		"truncated":        good[:len(good)-10],
		"not a checkpoint": []byte("hello\nworld\n"),
		"empty":            {},
	}
	for name, b := range cases {
		p := filepath.Join(dir, "bad.ckpt")
		os.WriteFile(p, b, 0o644)
		if _, err := Load(p); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: got %v, want ErrCorrupt", name, err)
		}
	}
}

// Stopping after epoch k, saving, loading and going on gives the same bits
// as a run that was never stopped.
func TestResumeFromFileIsBitIdentical(t *testing.T) {
	cfg := config()
	train, val := data(80, cfg.Dim, 1), data(40, cfg.Dim, 2)
	full, _ := head.NewState(cfg, train)
	if err := head.Train(context.Background(), cfg, full, []head.Data{train}, val, nil); err != nil {
		t.Fatal(err)
	}

	path := filepath.Join(t.TempDir(), "run.ckpt")
	st, _ := head.NewState(cfg, train)
	ctx, cancel := context.WithCancel(context.Background())
	err := head.Train(ctx, cfg, st, []head.Data{train}, val, func(s *head.State, es head.EpochStats) error {
		if err := Save(path, &Checkpoint{Config: cfg, State: s}); err != nil {
			return err
		}
		if es.Epoch == 2 {
			cancel() // as Ctrl-C would, in the middle of epoch 3
		}
		return nil
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if c.State.Epoch != 2 {
		t.Fatalf("checkpoint at epoch %d, want 2", c.State.Epoch)
	}
	if err := head.Train(context.Background(), c.Config, c.State, []head.Data{train}, val, nil); err != nil {
		t.Fatal(err)
	}
	for name, pair := range map[string][2]head.Params{"weights": {full.Params, c.State.Params}, "best": {full.Best, c.State.Best}, "adam m": {full.M, c.State.M}, "adam v": {full.V, c.State.V}} {
		a, b := pair[0], pair[1]
		for k, s := range [][2][]float64{{a.W1, b.W1}, {a.B1, b.B1}, {a.W2, b.W2}, {a.B2, b.B2}} {
			for i := range s[0] {
				if math.Float64bits(s[0][i]) != math.Float64bits(s[1][i]) {
					t.Fatalf("%s tensor %d [%d]: %v uninterrupted, %v resumed", name, k, i, s[0][i], s[1][i])
				}
			}
		}
	}
	if full.BestEpoch != c.State.BestEpoch || full.Step != c.State.Step {
		t.Errorf("best epoch %d/%d, steps %d/%d", full.BestEpoch, c.State.BestEpoch, full.Step, c.State.Step)
	}
}

// A checkpoint may carry only Extra (a fine-tuning run's state); it is checksummed too.
func TestExtraOnly(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.ckpt")
	if err := Save(path, &Checkpoint{Config: config()}); err == nil {
		t.Error("saved a checkpoint with neither State nor Extra")
	}
	extra := []byte("fine-tuning state")
	if err := Save(path, &Checkpoint{Config: config(), Extra: extra, Run: []byte(`{}`)}); err != nil {
		t.Fatal(err)
	}
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if c.State != nil || string(c.Extra) != string(extra) {
		t.Errorf("loaded State %v Extra %q", c.State, c.Extra)
	}
	raw, _ := os.ReadFile(path)
	raw[len(raw)-3] ^= 1
	os.WriteFile(path, raw, 0o644)
	if _, err := Load(path); !errors.Is(err, ErrCorrupt) {
		t.Errorf("damaged: %v, want ErrCorrupt", err)
	}
}
