// Package features holds a frozen backbone's pooled features for a list of images, and caches
// them on disk so that tuning and head training never run the backbone again.
//
// A cache file is float32, little-endian, after a JSON header, and ends with the SHA-256 of
// everything before it; Load refuses a file whose checksum, header or length is wrong. Features
// are kept in float32 rather than float16: a ResNet50 train split is 5,216 x 2048 x 4 bytes =
// 43 MB per augmentation draw, small enough, and a head trained on cached features then sees
// exactly the numbers a fresh extraction gives (resumed runs stay bit for bit).
package features

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"pneumoscan/atomicfile"
)

// Set is the pooled features of a list of images: row i of X (Dim values) belongs to Items[i].
type Set struct {
	Dim    int
	Items  []string // slash-separated paths relative to the data root
	Labels []int
	Draw   int // augmentation draw, 0 = none
	X      []float32
	// Key is the cache key the set was computed under (see Key.Hash); empty when unknown.
	Key string
	// Skipped lists the images left out because they could not be read or decoded.
	Skipped []Skip
}

// Skip is one image Extract left out, and why.
type Skip struct {
	Item   string `json:"item"`
	Reason string `json:"reason"`
}

// Row returns the features of item i.
func (s *Set) Row(i int) []float32 { return s.X[i*s.Dim : (i+1)*s.Dim] }

// Validate reports a set whose parts do not fit together.
func (s *Set) Validate() error {
	if s.Dim <= 0 {
		return fmt.Errorf("features: dimension %d must be positive", s.Dim)
	}
	if len(s.Labels) != len(s.Items) {
		return fmt.Errorf("features: %d labels for %d items", len(s.Labels), len(s.Items))
	}
	if len(s.X) != len(s.Items)*s.Dim {
		return fmt.Errorf("features: %d values for %d items x %d dimensions", len(s.X), len(s.Items), s.Dim)
	}
	if s.Draw < 0 {
		return fmt.Errorf("features: augmentation draw %d is negative", s.Draw)
	}
	for i, l := range s.Labels {
		if l != 0 && l != 1 {
			return fmt.Errorf("features: item %q has label %d, want 0 or 1", s.Items[i], l)
		}
	}
	return nil
}

// magic starts every cache file; its last byte is the format version.
var magic = []byte("PNSFEAT\x01")

// header is the JSON part of a cache file.
type header struct {
	Dim     int      `json:"dim"`
	Count   int      `json:"count"`
	Draw    int      `json:"draw"`
	Key     string   `json:"key,omitempty"`
	Items   []string `json:"items"`
	Labels  []int    `json:"labels"`
	Skipped []Skip   `json:"skipped,omitempty"`
}

// ErrCorrupt is wrapped by every error about a damaged or foreign cache file.
var ErrCorrupt = errors.New("corrupt feature cache")

// Save writes the set to path atomically: a temporary file in the same folder, synced, then
// renamed over path, so a crash never leaves a half-written cache under the real name.
func (s *Set) Save(path string) (err error) {
	if err := s.Validate(); err != nil {
		return err
	}
	h, err := json.Marshal(header{Dim: s.Dim, Count: len(s.Items), Draw: s.Draw, Key: s.Key, Items: s.Items, Labels: s.Labels, Skipped: s.Skipped})
	if err != nil {
		return fmt.Errorf("features: %w", err)
	}
	err = atomicfile.WriteFunc(path, func(f io.Writer) error {
		// The checksum covers everything before it and is written last.
		sum := sha256.New()
		w := io.MultiWriter(f, sum)
		buf := binary.LittleEndian.AppendUint64(append([]byte(nil), magic...), uint64(len(h)))
		if _, err := w.Write(append(buf, h...)); err != nil {
			return err
		}
		var b [4]byte
		for _, v := range s.X {
			binary.LittleEndian.PutUint32(b[:], math.Float32bits(v))
			if _, err := w.Write(b[:]); err != nil {
				return err
			}
		}
		_, err := f.Write(sum.Sum(nil))
		return err
	})
	if err != nil {
		return fmt.Errorf("features: %w", err)
	}
	return nil
}

// Load reads a set written by Save, verifying its checksum first.
func Load(path string) (*Set, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("features: %w", err)
	}
	bad := func(format string, a ...any) error {
		return fmt.Errorf("features: %s: %s: %w", path, fmt.Sprintf(format, a...), ErrCorrupt)
	}
	if len(data) < len(magic)+8+sha256.Size || !bytes.Equal(data[:len(magic)-1], magic[:len(magic)-1]) {
		return nil, bad("not a feature cache file")
	}
	if v := data[len(magic)-1]; v != magic[len(magic)-1] {
		return nil, bad("format version %d, this program reads %d", v, magic[len(magic)-1])
	}
	body, want := data[:len(data)-sha256.Size], data[len(data)-sha256.Size:]
	if got := sha256.Sum256(body); !bytes.Equal(got[:], want) {
		return nil, bad("checksum mismatch (truncated or modified)")
	}
	body = body[len(magic):]
	hlen := binary.LittleEndian.Uint64(body)
	body = body[8:]
	if hlen > uint64(len(body)) {
		return nil, bad("header length %d exceeds the file", hlen)
	}
	var h header
	if err := json.Unmarshal(body[:hlen], &h); err != nil {
		return nil, bad("header: %v", err)
	}
	body = body[hlen:]
	if h.Dim <= 0 || h.Count < 0 || len(h.Items) != h.Count || uint64(len(body)) != uint64(h.Count)*uint64(h.Dim)*4 {
		return nil, bad("%d bytes of values for %d items x %d dimensions", len(body), h.Count, h.Dim)
	}
	s := &Set{Dim: h.Dim, Items: h.Items, Labels: h.Labels, Draw: h.Draw, Key: h.Key, Skipped: h.Skipped, X: make([]float32, h.Count*h.Dim)}
	for i := range s.X {
		s.X[i] = math.Float32frombits(binary.LittleEndian.Uint32(body[4*i:]))
	}
	if err := s.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w (%w)", path, err, ErrCorrupt)
	}
	return s, nil
}
