package features

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"pneumoscan/dataset"
	"pneumoscan/model"
	"pneumoscan/training/augment"
)

func sample() *Set {
	s := &Set{Dim: 3, Items: []string{"train/NORMAL/a.jpeg", "train/PNEUMONIA/b.jpeg"}, Labels: []int{0, 1}, Draw: 2,
		X: []float32{1.5, -2, float32(math.SmallestNonzeroFloat32), 0, 3e30, -0.125}, Key: "abc",
		Skipped: []Skip{{Item: "train/NORMAL/bad.jpeg", Reason: "truncated"}}}
	return s
}

func TestSaveLoadRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.features")
	want := sample()
	if err := want.Save(path); err != nil {
		t.Fatal(err)
	}
	got, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("round trip:\n got %+v\nwant %+v", got, want)
	}
	// No temporary file is left beside it.
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("folder holds %d files after Save, want 1", len(entries))
	}
	empty := &Set{Dim: 4}
	if err := empty.Save(path); err != nil {
		t.Fatal(err)
	}
	if got, err := Load(path); err != nil || len(got.Items) != 0 || got.Dim != 4 {
		t.Errorf("empty set: %+v, %v", got, err)
	}
}

func TestLoadRefusesDamage(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "x.features")
	if err := sample().Save(path); err != nil {
		t.Fatal(err)
	}
	good, _ := os.ReadFile(path)
	cases := map[string][]byte{
		"flipped value bit": func() []byte { b := append([]byte(nil), good...); b[len(b)-40] ^= 1; return b }(),
		"flipped header":    func() []byte { b := append([]byte(nil), good...); b[20] ^= 0x20; return b }(),
		"truncated":         good[:len(good)-7],
		"empty":             {},
		"not a cache":       []byte("hello, this is some other file with enough bytes to pass a length check..."),
		"future version":    func() []byte { b := append([]byte(nil), good...); b[7] = 9; return b }(),
	}
	for name, b := range cases {
		p := filepath.Join(dir, "bad.features")
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := Load(p); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: Load error %v, want ErrCorrupt", name, err)
		} else if !strings.Contains(err.Error(), p) {
			t.Errorf("%s: error %q does not name the file", name, err)
		}
	}
	if _, err := Load(filepath.Join(dir, "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

func TestSaveRefusesInconsistentSet(t *testing.T) {
	for name, s := range map[string]*Set{
		"short X":    {Dim: 2, Items: []string{"a"}, Labels: []int{0}, X: []float32{1}},
		"labels":     {Dim: 1, Items: []string{"a"}, Labels: []int{0, 1}, X: []float32{1}},
		"bad label":  {Dim: 1, Items: []string{"a"}, Labels: []int{2}, X: []float32{1}},
		"zero dim":   {Dim: 0},
		"draw below": {Dim: 1, Draw: -1},
	} {
		if err := s.Save(filepath.Join(t.TempDir(), "x")); err == nil {
			t.Errorf("%s: saved", name)
		}
	}
}

func baseKey() Key {
	return Key{
		Backbone: "b1", Preprocess: model.ImageNetPreprocess(224), Split: "train",
		Items: []dataset.Item{{Rel: "train/NORMAL/a.jpeg", SHA256: "aa", Label: 0}, {Rel: "train/PNEUMONIA/b.jpeg", SHA256: "bb", Label: 1}},
		Draw:  1, Seed: 5, Augment: augment.Default(),
	}
}

func TestKeyChangesWithEveryInput(t *testing.T) {
	base := baseKey()
	if base.Hash() != baseKey().Hash() {
		t.Fatal("same key, different hashes")
	}
	changes := map[string]func(*Key){
		"backbone":   func(k *Key) { k.Backbone = "b2" },
		"preprocess": func(k *Key) { k.Preprocess.Mean[1] = 0.5 },
		"size":       func(k *Key) { k.Preprocess.Size = 128 },
		"split":      func(k *Key) { k.Split = "val" },
		"item path":  func(k *Key) { k.Items = []dataset.Item{{Rel: "train/NORMAL/c.jpeg", SHA256: "aa"}, k.Items[1]} },
		"content":    func(k *Key) { k.Items = []dataset.Item{{Rel: k.Items[0].Rel, SHA256: "cc"}, k.Items[1]} },
		"label":      func(k *Key) { k.Items = []dataset.Item{{Rel: k.Items[0].Rel, SHA256: "aa", Label: 1}, k.Items[1]} },
		"order":      func(k *Key) { k.Items = []dataset.Item{k.Items[1], k.Items[0]} },
		"one fewer":  func(k *Key) { k.Items = k.Items[:1] },
		"draw":       func(k *Key) { k.Draw = 2 },
		"seed":       func(k *Key) { k.Seed = 6 },
		"rotation":   func(k *Key) { k.Augment.RotationDeg++ },
		"flip":       func(k *Key) { k.Augment.FlipProb = 0.25 },
	}
	seen := map[string]string{"base": base.Hash()}
	for name, change := range changes {
		k := baseKey()
		change(&k)
		h := k.Hash()
		for other, oh := range seen {
			if h == oh {
				t.Errorf("changing %s gives the same hash as %s", name, other)
			}
		}
		seen[name] = h
		if k.FileName() == base.FileName() {
			t.Errorf("changing %s keeps the file name %s", name, k.FileName())
		}
	}
	// Without augmentation its seed and ranges are no input.
	a, b := baseKey(), baseKey()
	a.Draw, b.Draw = 0, 0
	b.Seed, b.Augment = 99, augment.Params{}
	if a.Hash() != b.Hash() {
		t.Error("draw 0: augmentation settings change the key")
	}
	if name := (Key{Split: "../x y"}).FileName(); strings.ContainsAny(name, "/ ") {
		t.Errorf("file name %q has unsafe characters", name)
	}
}

func TestCached(t *testing.T) {
	dir := t.TempDir()
	k := baseKey()
	if s, ok, err := Cached(dir, k); s != nil || ok || err != nil {
		t.Fatalf("empty folder: %v %v %v", s, ok, err)
	}
	s := sample()
	s.Key = k.Hash()
	if err := s.Save(k.Path(dir)); err != nil {
		t.Fatal(err)
	}
	if got, ok, err := Cached(dir, k); !ok || err != nil || !reflect.DeepEqual(got, s) {
		t.Fatalf("cached: %v %v", ok, err)
	}
	// A file under the right name but made for another key is refused.
	s.Key = "someotherkey"
	if err := s.Save(k.Path(dir)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := Cached(dir, k); !errors.Is(err, ErrCorrupt) {
		t.Errorf("foreign key: %v", err)
	}
}
