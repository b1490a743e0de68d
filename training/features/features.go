// Package features holds a frozen backbone's pooled features for a list of images, and caches
// them on disk so that tuning and head training never run the backbone again.
//
// A cache file is float32, little-endian, after a JSON header, and ends with the SHA-256 of
// everything before it (package checksummed); Load refuses a file whose checksum, header or
// length is wrong. Features
// are kept in float32 rather than float16: a ResNet50 train split is 5,216 x 2048 x 4 bytes =
// 43 MB per augmentation draw, small enough, and a head trained on cached features then sees
// exactly the numbers a fresh extraction gives (resumed runs stay bit for bit).
package features

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"pneumoscan/training/checksummed"
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

// format is the cache file: magic (last byte the format version), JSON header, the float32
// values little-endian, SHA-256 (package checksummed).
var format = checksummed.Format{Magic: []byte("PNSFEAT\x01"), Corrupt: ErrCorrupt}

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
func (s *Set) Save(path string) error {
	if err := s.Validate(); err != nil {
		return err
	}
	h := header{Dim: s.Dim, Count: len(s.Items), Draw: s.Draw, Key: s.Key, Items: s.Items, Labels: s.Labels, Skipped: s.Skipped}
	err := format.Write(path, h, func(w io.Writer) error {
		return binary.Write(w, binary.LittleEndian, s.X)
	})
	if err != nil {
		return fmt.Errorf("features: %w", err)
	}
	return nil
}

// Load reads a set written by Save and verifies its checksum.
func Load(path string) (*Set, error) {
	var h header
	var s *Set
	err := format.Read(path, &h, func(r io.Reader, n int64) error {
		if h.Dim <= 0 || h.Count < 0 || len(h.Items) != h.Count || uint64(n) != uint64(h.Count)*uint64(h.Dim)*4 {
			return fmt.Errorf("%d bytes of values for %d items x %d dimensions", n, h.Count, h.Dim)
		}
		s = &Set{Dim: h.Dim, Items: h.Items, Labels: h.Labels, Draw: h.Draw, Key: h.Key, Skipped: h.Skipped, X: make([]float32, h.Count*h.Dim)}
		return binary.Read(r, binary.LittleEndian, s.X)
	})
	if err != nil {
		return nil, fmt.Errorf("features: %w", err)
	}
	if err := s.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w (%w)", path, err, ErrCorrupt)
	}
	return s, nil
}
