package features

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"

	"pneumoscan/dataset"
	"pneumoscan/model"
	"pneumoscan/training/augment"
)

// Key is everything a cached set depends on. Its Hash names the cache file, so a change to
// any of them (other weights, another split or file, another draw or augmentation) gives a
// new file instead of a stale one.
type Key struct {
	Backbone   string           // the backbone's identity, sha256 of its weights
	Preprocess model.Preprocess // how images become input tensors
	Split      string           // "train", "val", "test", or a folder's name
	Items      []dataset.Item   // path, content hash and label of each image, in order
	Draw       int              // augmentation draw, 0 = none
	Seed       uint64           // augmentation seed; ignored when Draw is 0
	Augment    augment.Params   // ignored when Draw is 0
}

type keyItem struct {
	Rel    string `json:"rel"`
	SHA256 string `json:"sha256"`
	Label  int    `json:"label"`
}

// Hash is the hex SHA-256 of the key's canonical JSON form. With Draw 0 no augmentation is
// applied, so the augmentation seed and ranges are left out and do not split the cache.
func (k Key) Hash() string {
	items := make([]keyItem, len(k.Items))
	for i, it := range k.Items {
		items[i] = keyItem{Rel: it.Rel, SHA256: it.SHA256, Label: it.Label}
	}
	aug, seed := k.Augment, k.Seed
	if k.Draw == 0 {
		aug, seed = augment.Params{}, 0
	}
	b, err := json.Marshal(struct {
		Format     int              `json:"format"`
		Backbone   string           `json:"backbone"`
		Preprocess model.Preprocess `json:"preprocess"`
		Split      string           `json:"split"`
		Items      []keyItem        `json:"items"`
		Draw       int              `json:"draw"`
		Seed       uint64           `json:"seed"`
		Augment    augment.Params   `json:"augment"`
	}{1, k.Backbone, k.Preprocess, k.Split, items, k.Draw, seed, aug})
	if err != nil {
		panic(err) // plain values only: cannot fail
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// FileName is the cache file's name: readable split and draw, then the key's hash.
func (k Key) FileName() string {
	split := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			return r
		}
		return '_'
	}, k.Split)
	if split == "" {
		split = "items"
	}
	return fmt.Sprintf("%s-draw%d-%s.features", split, k.Draw, k.Hash()[:16])
}

// Path is the cache file for k in dir.
func (k Key) Path(dir string) string { return filepath.Join(dir, k.FileName()) }

// Cached loads the set cached for k in dir. It returns (nil, false, nil) when there is none,
// and an error when the file is there but damaged or was made under another key.
func Cached(dir string, k Key) (*Set, bool, error) {
	path := k.Path(dir)
	s, err := Load(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	if want := k.Hash(); s.Key != want {
		return nil, false, fmt.Errorf("features: %s holds key %.16s, want %.16s: %w", path, s.Key, want, ErrCorrupt)
	}
	return s, true, nil
}
