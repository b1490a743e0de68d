package backbone

import (
	"context"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"pneumoscan/dataset"
	"pneumoscan/resnet"
	"pneumoscan/training/features"

	"pneumoscan/sgemm"
)

// Extract computes the pooled features of items under the backbone's draw (Config.Draw): each
// image is decoded, augmented (draw > 0), preprocessed and run through the backbone, and its
// last stage is averaged over space. An image that cannot be read or decoded is left out,
// named in the set's Skipped list and counted on progress; it never stops the run. progress
// (nil for none) gets a progress line with rate and ETA. Cancelling ctx stops within one
// image per goroutine and returns ctx's error.
func (b *Backbone) Extract(ctx context.Context, items []dataset.Item, progress io.Writer) (*features.Set, error) {
	dim := b.weights.Arch.Features()
	workers := max(1, min(b.cfg.Workers, len(items)))
	set := &features.Set{Dim: dim, Draw: b.cfg.Draw}
	if len(items) == 0 {
		return set, nil
	}
	engines, err := b.takeEngines(workers)
	if err != nil {
		return nil, err
	}
	defer b.putEngines(engines)

	x := make([]float32, len(items)*dim)
	reasons := make([]string, len(items)) // non-empty: skipped
	var next atomic.Int64
	var failed error
	var failOnce sync.Once
	bar := newProgress(progress, fmt.Sprintf("features (draw %d)", b.cfg.Draw), len(items))
	if workers > 1 {
		defer sgemm.SingleThreaded()() // one BLAS thread per worker
	}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func(e engine) {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(items) || ctx.Err() != nil {
					return
				}
				in, err := b.input(items[i], b.cfg.Draw)
				if err != nil {
					reasons[i] = err.Error()
					bar.add(1, true)
					continue
				}
				_, f, err := e.Run(in)
				if err != nil { // the engine refusing a tensor we built is a bug, not bad data
					failOnce.Do(func() { failed = fmt.Errorf("backbone: %s: %w", itemName(items[i]), err) })
					next.Store(int64(len(items)))
					return
				}
				copy(x[i*dim:(i+1)*dim], resnet.Pool(f, dim))
				bar.add(1, false)
			}
		}(engines[w])
	}
	wg.Wait()
	bar.finish()
	if failed != nil {
		return nil, failed
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	set.X = x[:0]
	for i, it := range items {
		if reasons[i] != "" {
			set.Skipped = append(set.Skipped, features.Skip{Item: itemName(it), Reason: reasons[i]})
			continue
		}
		set.Items = append(set.Items, itemName(it))
		set.Labels = append(set.Labels, it.Label)
		set.X = append(set.X, x[i*dim:(i+1)*dim]...) // in place: row i never lies behind the write position
	}
	if n := len(set.Skipped); n > 0 && progress != nil {
		fmt.Fprintf(progress, "skipped %d unreadable image(s):\n", n)
		for _, s := range set.Skipped {
			fmt.Fprintf(progress, "  %s: %s\n", s.Item, s.Reason)
		}
	}
	return set, set.Validate()
}

// Extract builds the backbone cfg describes and extracts the features of items with it.
func Extract(ctx context.Context, cfg Config, calib, items []dataset.Item, progress io.Writer) (*features.Set, error) {
	b, err := NewContext(ctx, cfg, calib, progress)
	if err != nil {
		return nil, err
	}
	return b.Extract(ctx, items, progress)
}

// Key is the cache key of items of a split under this backbone and its draw.
func (b *Backbone) Key(split string, items []dataset.Item) features.Key {
	return features.Key{
		Backbone: b.id, Preprocess: b.preprocess, Split: split, Items: items,
		Draw: b.cfg.Draw, Seed: b.cfg.Seed, Augment: b.cfg.Augment,
	}
}

// Cached returns the features of items from the cache folder dir when a valid file for
// exactly this backbone, split, item list and draw is there, and otherwise extracts and
// saves them. A damaged cache file is an error, not silently recomputed.
func (b *Backbone) Cached(ctx context.Context, dir, split string, items []dataset.Item, progress io.Writer) (*features.Set, error) {
	key := b.Key(split, items)
	s, ok, err := features.Cached(dir, key)
	if err != nil {
		return nil, err
	}
	if ok {
		if progress != nil {
			fmt.Fprintf(progress, "features (draw %d) of %d %s images from cache %s\n", b.cfg.Draw, len(s.Items), split, key.Path(dir))
		}
		return s, nil
	}
	if s, err = b.Extract(ctx, items, progress); err != nil {
		return nil, err
	}
	s.Key = key.Hash()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("backbone: %w", err)
	}
	if err := s.Save(key.Path(dir)); err != nil {
		return nil, err
	}
	return s, nil
}

// progress prints "label done/total  rate img/s  ETA" on one line, at most once a second.
type progress struct {
	w            io.Writer
	label        string
	total        int
	start, shown time.Time
	mu           sync.Mutex
	done, skip   int
}

func newProgress(w io.Writer, label string, total int) *progress {
	return &progress{w: w, label: label, total: total, start: time.Now()}
}

func (p *progress) add(n int, skipped bool) {
	if p.w == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done += n
	if skipped {
		p.skip += n
	}
	if now := time.Now(); now.Sub(p.shown) >= time.Second || p.done == p.total {
		p.shown = now
		p.print(now)
	}
}

func (p *progress) print(now time.Time) {
	el := now.Sub(p.start).Seconds()
	rate := float64(p.done) / max(el, 1e-9)
	eta := "?"
	if p.done > 0 {
		eta = time.Duration(float64(p.total-p.done) / rate * float64(time.Second)).Round(time.Second).String()
	}
	fmt.Fprintf(p.w, "\r%s %d/%d  %.2f img/s  ETA %s  skipped %d ", p.label, p.done, p.total, rate, eta, p.skip)
}

func (p *progress) finish() {
	if p.w == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.print(time.Now())
	fmt.Fprintln(p.w)
}
