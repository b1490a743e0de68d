package gate

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"image"
	_ "image/jpeg" // colour negatives imagedecode refuses are still fitted on
	_ "image/png"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"

	"pneumoscan/imagedecode"
	"pneumoscan/internal/progress"
	"pneumoscan/preprocess"
	"pneumoscan/screen"
	"pneumoscan/sgemm"
	"pneumoscan/training/features"
)

// Features are the pooled features of a list of items, row i for Items[i]; Skipped[i] is
// the reason item i could not be read ("" when it was).
type Features struct {
	Items   []Item
	Dim     int
	X       []float32
	Skipped []string
}

// Row returns the features of item i.
func (f *Features) Row(i int) []float32 { return f.X[i*f.Dim : (i+1)*f.Dim] }

// Extractor computes pooled features with a model's own forward pass (screen.PooledFeatures:
// the screeners run the model as the product does), one screener per worker, and caches them
// in Dir by chunks of Chunk items: a cache file is a features.Set (checksummed, written
// atomically) whose key hashes the model's sha256 and the chunk's items (ID, content hash,
// orientation), so a rerun reads every chunk back and a changed model or list recomputes only
// what changed.
type Extractor struct {
	Screeners []*screen.Screener // one per worker, all of the same model
	Dir       string
	Chunk     int
	Progress  io.Writer // nil: none
}

const cacheFormat = "gate-features-1"

// Extract returns the features of items, named name in the cache file names.
func (e *Extractor) Extract(ctx context.Context, name string, items []Item) (*Features, error) {
	if len(e.Screeners) == 0 {
		return nil, errors.New("gate: no screener to extract features with")
	}
	out := &Features{Items: items, Skipped: make([]string, len(items))}
	chunk := e.Chunk
	if chunk <= 0 {
		chunk = 500
	}
	type todo struct {
		lo, hi int
		path   string
		key    string
	}
	var pending []todo
	sets := make([]*features.Set, (len(items)+chunk-1)/chunk)
	for c := range sets {
		lo, hi := c*chunk, min(len(items), (c+1)*chunk)
		key := e.key(items[lo:hi])
		p := filepath.Join(e.Dir, fmt.Sprintf("%s-%03d-%s.features", name, c, key[:16]))
		s, err := features.Load(p)
		switch {
		case err == nil && s.Key == key:
			sets[c] = s
		case err == nil || errors.Is(err, fs.ErrNotExist):
			pending = append(pending, todo{lo, hi, p, key})
		default:
			return nil, err // damaged: say so rather than silently recompute
		}
	}
	total := 0
	for _, t := range pending {
		total += t.hi - t.lo
	}
	var bar *progress.Bar
	if total > 0 && e.Progress != nil {
		bar = progress.New(e.Progress, "features "+name, total, "img")
		defer bar.Finish()
	}
	for _, t := range pending {
		s, err := e.compute(ctx, items[t.lo:t.hi], bar)
		if err != nil {
			return nil, err
		}
		s.Key = t.key
		if err := os.MkdirAll(e.Dir, 0o755); err != nil {
			return nil, err
		}
		if err := s.Save(t.path); err != nil {
			return nil, err
		}
		sets[t.lo/chunk] = s
	}
	for c, s := range sets {
		if out.Dim == 0 {
			out.Dim = s.Dim
		}
		if s.Dim != out.Dim || len(s.Items) != min(len(items), (c+1)*chunk)-c*chunk {
			return nil, fmt.Errorf("gate: cached features of %s chunk %d do not fit the list: %w", name, c, features.ErrCorrupt)
		}
		out.X = append(out.X, s.X...)
		for _, sk := range s.Skipped {
			var i int
			if _, err := fmt.Sscanf(sk.Item, "%d", &i); err != nil || i < 0 || i >= len(s.Items) {
				return nil, fmt.Errorf("gate: cached features of %s: bad skip entry %q: %w", name, sk.Item, features.ErrCorrupt)
			}
			out.Skipped[c*chunk+i] = sk.Reason
		}
	}
	return out, nil
}

func (e *Extractor) key(items []Item) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\n%s\n", cacheFormat, e.Screeners[0].SHA256())
	for _, it := range items {
		fmt.Fprintln(h, it.Key())
	}
	return hex.EncodeToString(h.Sum(nil))
}

// compute runs the forward pass over items with one goroutine per screener. A skipped item
// keeps zero features and its reason; its Set item is its index, so no file name is stored.
func (e *Extractor) compute(ctx context.Context, items []Item, bar *progress.Bar) (*features.Set, error) {
	workers := min(len(e.Screeners), len(items))
	if workers > 1 {
		defer sgemm.SingleThreaded()()
	}
	rows := make([][]float32, len(items))
	reasons := make([]string, len(items))
	var next atomic.Int64
	var wg sync.WaitGroup
	var failed error
	var once sync.Once
	for w := range workers {
		wg.Add(1)
		go func(s *screen.Screener) {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(items) || ctx.Err() != nil {
					return
				}
				img, err := Load(items[i])
				if err == nil {
					rows[i], _, err = s.PooledFeatures(img)
					if err != nil {
						once.Do(func() { failed = err }) // the model failing is no image's fault
						return
					}
				} else {
					reasons[i] = err.Error()
				}
				if bar != nil {
					bar.Add(1)
				}
			}
		}(e.Screeners[w])
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if failed != nil {
		return nil, failed
	}
	dim := 0
	for _, r := range rows {
		if r != nil {
			dim = len(r)
			break
		}
	}
	if dim == 0 {
		return nil, fmt.Errorf("gate: none of %d images could be read (first: %s)", len(items), reasons[0])
	}
	s := &features.Set{Dim: dim, Items: make([]string, len(items)), Labels: make([]int, len(items)), X: make([]float32, len(items)*dim)}
	for i := range items {
		s.Items[i] = fmt.Sprint(i)
		if reasons[i] != "" {
			s.Skipped = append(s.Skipped, features.Skip{Item: fmt.Sprint(i), Reason: reasons[i]})
			continue
		}
		copy(s.X[i*dim:], rows[i])
	}
	return s, nil
}

// Load returns the item's image as the model will see it: decoded (a colour picture that
// imagedecode refuses is decoded by the standard library instead, for fitting), or drawn for
// a synthetic one, then turned or inverted as the item says.
func Load(it Item) (image.Image, error) {
	var img image.Image
	if it.Synth != nil {
		var err error
		if img, err = it.Synth.Make(); err != nil {
			return nil, err
		}
	} else {
		b, err := os.ReadFile(it.Path)
		if err != nil {
			return nil, err
		}
		img, err = imagedecode.Decode(b)
		var de *imagedecode.Error
		if errors.As(err, &de) && de.Kind == imagedecode.NotXray {
			img, _, err = image.Decode(strings.NewReader(string(b)))
		}
		if err != nil {
			return nil, err
		}
	}
	return preprocess.Orient(img, it.Orient), nil
}
