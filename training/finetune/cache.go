package finetune

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/x448/float16"

	"pneumoscan/dataset"
	"pneumoscan/training/backbone"
	"pneumoscan/training/checksummed"
	"pneumoscan/training/features"
)

// Acts are the cached outputs of the frozen part of the backbone (stem and the first Frozen
// stages) for a list of images, float16: row i ([C, S, S]) belongs to Items[i]. A ResNet50
// layer3 output is 1024x14x14, 392 KiB per image in float16, 2 GB for the train split.
type Acts struct {
	C, S    int
	Frozen  int
	Items   []string
	Labels  []int
	X       []uint16 // IEEE half precision bits
	Key     string   // ActKey.Hash the set was made under
	Skipped []features.Skip
}

// Dim is the number of values per image.
func (a *Acts) Dim() int { return a.C * a.S * a.S }

// Row is image i's float16 values.
func (a *Acts) Row(i int) []uint16 { return a.X[i*a.Dim() : (i+1)*a.Dim()] }

// Float32 writes image i's values into dst, mirrored left to right when flip is set.
func (a *Acts) Float32(dst []float32, i int, flip bool) {
	row := a.Row(i)
	if !flip {
		for k, v := range row {
			dst[k] = float16.Frombits(v).Float32()
		}
		return
	}
	s := a.S
	for line := 0; line < a.C*s; line++ {
		src, d := row[line*s:(line+1)*s], dst[line*s:(line+1)*s]
		for x := range s {
			d[x] = float16.Frombits(src[s-1-x]).Float32()
		}
	}
}

// Validate reports a set whose parts do not fit together.
func (a *Acts) Validate() error {
	if a.C <= 0 || a.S <= 0 {
		return fmt.Errorf("finetune: activation shape %dx%dx%d", a.C, a.S, a.S)
	}
	if len(a.Labels) != len(a.Items) || len(a.X) != len(a.Items)*a.Dim() {
		return fmt.Errorf("finetune: %d items, %d labels, %d values of %d each", len(a.Items), len(a.Labels), len(a.X), a.Dim())
	}
	for i, l := range a.Labels {
		if l != 0 && l != 1 {
			return fmt.Errorf("finetune: item %q has label %d", a.Items[i], l)
		}
	}
	return nil
}

// ActKey is what a cached activation set depends on: the images, backbone and preprocessing
// (a features.Key with draw 0) and how many stages are frozen.
type ActKey struct {
	Features features.Key
	Frozen   int
}

// Hash names the cache file and is stored in it.
func (k ActKey) Hash() string {
	b, _ := json.Marshal(struct {
		Format   int    `json:"format"`
		Kind     string `json:"kind"`
		Frozen   int    `json:"frozen"`
		Features string `json:"features"`
	}{1, "activations-float16", k.Frozen, k.Features.Hash()})
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// Path is the cache file for k in dir.
func (k ActKey) Path(dir string) string {
	split := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			return r
		}
		return '_'
	}, k.Features.Split)
	return filepath.Join(dir, fmt.Sprintf("%s-frozen%d-%s.acts", split, k.Frozen, k.Hash()[:16]))
}

// actFormat is the cache file: magic, JSON header, the float16 values little-endian,
// SHA-256 (package checksummed).
var actFormat = checksummed.Format{Magic: []byte("PNSACTS\x01"), Corrupt: ErrCorrupt}

// ErrCorrupt is wrapped by every refusal of a damaged or foreign activation cache.
var ErrCorrupt = errors.New("corrupt activation cache")

type actHeader struct {
	C       int             `json:"c"`
	S       int             `json:"s"`
	Frozen  int             `json:"frozen"`
	Count   int             `json:"count"`
	Key     string          `json:"key"`
	Items   []string        `json:"items"`
	Labels  []int           `json:"labels"`
	Skipped []features.Skip `json:"skipped,omitempty"`
}

// Save writes the set atomically (package checksummed).
func (a *Acts) Save(path string) error {
	if err := a.Validate(); err != nil {
		return err
	}
	h := actHeader{C: a.C, S: a.S, Frozen: a.Frozen, Count: len(a.Items), Key: a.Key, Items: a.Items, Labels: a.Labels, Skipped: a.Skipped}
	err := actFormat.Write(path, h, func(w io.Writer) error {
		var b [2]byte
		for _, v := range a.X {
			binary.LittleEndian.PutUint16(b[:], v)
			if _, err := w.Write(b[:]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("finetune: %w", err)
	}
	return nil
}

// LoadActs reads a set written by Save, streaming, and verifies its checksum.
func LoadActs(path string) (*Acts, error) {
	var h actHeader
	var a *Acts
	err := actFormat.Read(path, &h, func(r io.Reader, size int64) error {
		n := int64(h.Count) * int64(h.C) * int64(h.S) * int64(h.S)
		if h.C <= 0 || h.S <= 0 || h.Count < 0 || len(h.Items) != h.Count || size != 2*n {
			return fmt.Errorf("%d items of %dx%dx%d do not fill the file", h.Count, h.C, h.S, h.S)
		}
		a = &Acts{C: h.C, S: h.S, Frozen: h.Frozen, Items: h.Items, Labels: h.Labels, Key: h.Key, Skipped: h.Skipped, X: make([]uint16, n)}
		buf := make([]byte, 1<<16)
		for off := int64(0); off < n; {
			k := min(int64(len(buf)/2), n-off)
			if _, err := io.ReadFull(r, buf[:2*k]); err != nil {
				return err
			}
			for j := range k {
				a.X[off+j] = binary.LittleEndian.Uint16(buf[2*j:])
			}
			off += k
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("finetune: %w", err)
	}
	if err := a.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w (%w)", path, err, ErrCorrupt)
	}
	return a, nil
}

// CachedActs loads the set cached for k in dir: (nil, false, nil) when there is none, an
// error when the file is damaged or holds another key.
func CachedActs(dir string, k ActKey) (*Acts, bool, error) {
	path := k.Path(dir)
	a, err := LoadActs(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	if want := k.Hash(); a.Key != want || a.Frozen != k.Frozen {
		return nil, false, fmt.Errorf("finetune: %s holds key %.16s, want %.16s: %w", path, a.Key, want, ErrCorrupt)
	}
	return a, true, nil
}

// Activations returns the frozen part's outputs for items from dir's cache when a valid file
// for exactly this backbone, split, item list and frozen depth is there; otherwise it runs
// the frozen part (backbone.Prefix, with a progress bar on progress) and saves them.
func Activations(ctx context.Context, b *backbone.Backbone, dir, split string, items []dataset.Item, frozen int, progress io.Writer) (*Acts, error) {
	k := ActKey{Features: b.Key(split, items), Frozen: frozen}
	k.Features.Draw = 0
	if a, ok, err := CachedActs(dir, k); err != nil || ok {
		if ok && progress != nil {
			fmt.Fprintf(progress, "frozen activations of %d %s images from cache %s\n", len(a.Items), split, k.Path(dir))
		}
		return a, err
	}
	c, s, err := backbone.PrefixShape(b.Weights().Arch, frozen, b.Config().Size)
	if err != nil {
		return nil, err
	}
	dim := c * s * s
	x := make([]uint16, len(items)*dim)
	ok := make([]bool, len(items))
	skipped, err := b.Prefix(ctx, items, frozen, progress, func(i int, act []float32) error {
		if len(act) != dim {
			return fmt.Errorf("finetune: prefix output of %d values, want %d", len(act), dim)
		}
		row := x[i*dim : (i+1)*dim]
		for j, v := range act {
			row[j] = float16.Fromfloat32(v).Bits()
		}
		ok[i] = true
		return nil
	})
	if err != nil {
		return nil, err
	}
	a := &Acts{C: c, S: s, Frozen: frozen, Key: k.Hash(), Skipped: skipped, X: x[:0]}
	for i, it := range items {
		if !ok[i] {
			continue
		}
		name := it.Rel
		if name == "" {
			name = it.Path
		}
		a.Items = append(a.Items, name)
		a.Labels = append(a.Labels, it.Label)
		a.X = append(a.X, x[i*dim:(i+1)*dim]...) // in place: row i never lies behind the write position
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	if err := a.Save(k.Path(dir)); err != nil {
		return nil, err
	}
	return a, nil
}

// NewActs stores float32 maps [c, s, s] as an activation set (float16), items named by index.
func NewActs(c, s int, rows [][]float32, labels []int) (*Acts, error) {
	a := &Acts{C: c, S: s}
	for i, r := range rows {
		if len(r) != c*s*s {
			return nil, fmt.Errorf("finetune: row %d has %d values, want %dx%dx%d", i, len(r), c, s, s)
		}
		a.Items = append(a.Items, fmt.Sprint(i))
		a.Labels = append(a.Labels, labels[i])
		for _, v := range r {
			a.X = append(a.X, float16.Fromfloat32(v).Bits())
		}
	}
	return a, a.Validate()
}
