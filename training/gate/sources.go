// Package gate fits the gate, the orientation head and the population check that a
// contract-2 model file carries (model.GateParams, model.GateSpec), from the pooled features
// of the model's own backbone: frontal chest films of the training split, the not_cxr
// negatives by category, synthetic negatives made here, and rotated and inverted copies of
// the chest films. It extracts the features once, through package screen (the product's
// forward pass), and caches them; it chooses every threshold on the validation split and
// measures on held-out negative sources, the test split and adult_cxr.
package gate

import (
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"pneumoscan/dataset"
	"pneumoscan/model"
)

// The gate's classes. Frontal is model.FrontalClass; the six after it are not_cxr's
// categories; the last two hold the synthetic negatives made here.
var Classes = []string{
	model.FrontalClass,
	"another body part X-ray",
	"lateral chest X-ray",
	"CT or MR slice",
	"photograph",
	"document or screenshot",
	"other medical image",
	"blank, noise or pattern",
	"part of a film or a collage",
}

// Class indices of Classes.
const (
	Frontal = iota
	OtherBodyPart
	Lateral
	CTMR
	Photo
	Document
	OtherMedical
	Pattern
	Collage
)

// Categories maps not_cxr's category folders (MANIFEST.csv) to gate classes.
var Categories = map[string]int{
	"xray-other-body-part": OtherBodyPart,
	"xray-chest-lateral":   Lateral,
	"ct-mri":               CTMR,
	"photo":                Photo,
	"document-screenshot":  Document,
	"other-medical":        OtherMedical,
}

// Item is one image whose features the gate is fitted or measured on.
type Item struct {
	// ID names the image for the cache key and the report: "not_cxr/photo/bsd68_x.jpg",
	// "chest_xray/train/NORMAL/x.jpeg", "synthetic/noise/3". Kermany and adult file names are
	// never written to the report, only counted.
	ID     string
	Path   string // the file; "" for a synthetic image
	SHA256 string // of the file, or of the synthetic image's recipe
	Class  int
	Label  int // a chest film's pneumonia label (dataset.Normal, dataset.Pneumonia); 0 otherwise
	// Source is the not_cxr source prefix ("bsd68"), "synthetic/<kind>", or the data set.
	Source string
	Orient model.Orientation // the variant extracted: the image as stored turned or inverted
	// Synth makes a synthetic image; nil for a file.
	Synth *Synth
}

// Key is the item's part of a cache key.
func (it Item) Key() string { return fmt.Sprintf("%s|%s|%d", it.ID, it.SHA256, it.Orient) }

// Negative is one not_cxr image.
type Negative struct {
	Item
	Category string
	Held     bool // in a held-out source
}

// ReadNegatives lists not_cxr from its MANIFEST.csv (path, category, ...), with the sha256 of
// each file, and holds out whole sources: per category, sources in an order fixed by seed,
// each taken when it brings the held-out count closer to fraction of the category (so a
// category of one large source and a few small ones holds out the small ones).
func ReadNegatives(dir string, fraction float64, seed uint64) ([]Negative, error) {
	f, err := os.Open(filepath.Join(dir, "MANIFEST.csv"))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := csv.NewReader(f)
	head, err := r.Read()
	if err != nil {
		return nil, fmt.Errorf("%s/MANIFEST.csv: %w", dir, err)
	}
	if len(head) < 2 || head[0] != "path" || head[1] != "category" {
		return nil, fmt.Errorf("%s/MANIFEST.csv: header %q, want path,category,...", dir, head)
	}
	var out []Negative
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s/MANIFEST.csv: %w", dir, err)
		}
		rel, cat := rec[0], rec[1]
		class, ok := Categories[cat]
		if !ok {
			return nil, fmt.Errorf("%s/MANIFEST.csv: %s: unknown category %q", dir, rel, cat)
		}
		p := filepath.Join(dir, filepath.FromSlash(rel))
		sum, err := fileSHA256(p)
		if err != nil {
			return nil, err
		}
		base := path.Base(rel)
		src, _, _ := strings.Cut(base, "_")
		out = append(out, Negative{Item: Item{ID: "not_cxr/" + rel, Path: p, SHA256: sum, Class: class, Source: src}, Category: cat})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s/MANIFEST.csv lists no images", dir)
	}
	holdOut(out, fraction, seed)
	return out, nil
}

func holdOut(negs []Negative, fraction float64, seed uint64) {
	bySource := map[string]int{}
	cats := map[string][]string{}
	total := map[string]int{}
	for _, n := range negs {
		if bySource[n.Source] == 0 {
			cats[n.Category] = append(cats[n.Category], n.Source)
		}
		bySource[n.Source]++
		total[n.Category]++
	}
	held := map[string]bool{}
	names := make([]string, 0, len(cats))
	for c := range cats {
		names = append(names, c)
	}
	sort.Strings(names)
	for i, c := range names {
		srcs := cats[c]
		sort.Strings(srcs)
		rng := rand.New(rand.NewPCG(seed, uint64(i)))
		rng.Shuffle(len(srcs), func(a, b int) { srcs[a], srcs[b] = srcs[b], srcs[a] })
		target := fraction * float64(total[c])
		n, taken := 0, 0
		for _, s := range srcs {
			k := bySource[s]
			// Keep at least one source to fit on.
			if taken < len(srcs)-1 && abs(float64(n+k)-target) < abs(float64(n)-target) {
				n += k
				taken++
				held[s] = true
			}
		}
	}
	for i := range negs {
		negs[i].Held = held[negs[i].Source]
	}
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

func fileSHA256(p string) (string, error) {
	b, err := os.ReadFile(p)
	if err != nil {
		return "", err
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:]), nil
}

// ChestItems turns data set items into gate items of the frontal class under orientation o.
func ChestItems(items []dataset.Item, prefix string, o model.Orientation) []Item {
	out := make([]Item, len(items))
	for i, it := range items {
		out[i] = Item{ID: prefix + "/" + it.Rel, Path: it.Path, SHA256: it.SHA256, Class: Frontal, Label: it.Label, Source: prefix, Orient: o}
	}
	return out
}

// Sample returns n of items (all when n <= 0 or n >= len), in an order fixed by seed.
func Sample[T any](items []T, n int, seed uint64) []T {
	out := append([]T(nil), items...)
	rng := rand.New(rand.NewPCG(seed, 0x5a17))
	rng.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	if n > 0 && n < len(out) {
		out = out[:n]
	}
	return out
}

// Variants returns items turned and inverted: every non-upright orientation of each.
func Variants(items []Item) []Item {
	var out []Item
	for _, it := range items {
		for o := model.Rotated90; o < model.Orientations; o++ {
			v := it
			v.Orient = o
			out = append(out, v)
		}
	}
	return out
}

// AdultItems lists the images of an adult_cxr folder (its unlabelled/ sub-folder).
func AdultItems(dir string) ([]Item, error) {
	sub := filepath.Join(dir, "unlabelled")
	entries, err := os.ReadDir(sub)
	if err != nil {
		return nil, err
	}
	var out []Item
	for _, e := range entries {
		if e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		p := filepath.Join(sub, e.Name())
		sum, err := fileSHA256(p)
		if err != nil {
			return nil, err
		}
		out = append(out, Item{ID: "adult_cxr/" + e.Name(), Path: p, SHA256: sum, Class: Frontal, Source: "adult_cxr"})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s holds no images", sub)
	}
	return out, nil
}
