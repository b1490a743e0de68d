package dataset

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"math/rand/v2"
	"os"
	"pneumoscan/atomicfile"
	"sort"
	"strings"
)

// DefaultValFraction is the share of train images moved to validation.
const DefaultValFraction = 0.15

// SplitFormat is the version of the split file's JSON layout.
const SplitFormat = 1

// Entry is one file of a split, as stored in the split file.
type Entry struct {
	Rel    string `json:"path"`
	SHA256 string `json:"sha256"`
}

// Split is a validation split of the train folder, as stored in JSON.
type Split struct {
	Format   int     `json:"format"`
	Seed     uint64  `json:"seed"`
	Fraction float64 `json:"fraction"`
	// Counts per label ([NORMAL, PNEUMONIA]) of images and of groups
	// (patients merged with their byte-identical duplicates).
	TrainCounts [2]int  `json:"train_counts"`
	ValCounts   [2]int  `json:"val_counts"`
	TrainGroups int     `json:"train_groups"`
	ValGroups   int     `json:"val_groups"`
	Train       []Entry `json:"train"`
	Val         []Entry `json:"val"`
}

// Group is a set of train items that must stay in one split: one patient,
// merged with every other patient that shares a byte-identical file.
type Group struct {
	Key   string // smallest patient ID of the group, for a stable order
	Label int    // majority label; a tie counts as Pneumonia
	Items []Item
}

// Groups merges items by patient ID and by content hash (union-find), so
// neither a patient nor a duplicated image can straddle two splits.
func Groups(items []Item) []Group {
	parent := make([]int, len(items))
	for i := range parent {
		parent[i] = i
	}
	var find func(int) int
	find = func(i int) int {
		for parent[i] != i {
			parent[i] = parent[parent[i]]
			i = parent[i]
		}
		return i
	}
	union := func(a, b int) { parent[find(a)] = find(b) }
	first := map[string]int{}
	for i, it := range items {
		for _, k := range []string{"p:" + it.Patient, "h:" + it.SHA256} {
			if j, ok := first[k]; ok {
				union(i, j)
			} else {
				first[k] = i
			}
		}
	}
	byRoot := map[int][]Item{}
	for i, it := range items {
		r := find(i)
		byRoot[r] = append(byRoot[r], it)
	}
	groups := make([]Group, 0, len(byRoot))
	for _, its := range byRoot {
		sort.Slice(its, func(i, j int) bool { return its[i].Rel < its[j].Rel })
		g := Group{Key: its[0].Patient, Items: its}
		var c [2]int
		for _, it := range its {
			c[it.Label]++
			if it.Patient < g.Key {
				g.Key = it.Patient
			}
		}
		if c[Pneumonia] >= c[Normal] {
			g.Label = Pneumonia
		}
		groups = append(groups, g)
	}
	sort.Slice(groups, func(i, j int) bool { return groups[i].Items[0].Rel < groups[j].Items[0].Rel })
	return groups
}

// MakeSplit moves about fraction of the train images of each class to a
// validation split, whole groups at a time (see Groups), in an order fixed
// by seed. Stratification is by the group's majority label.
func MakeSplit(train []Item, seed uint64, fraction float64) (*Split, error) {
	if !(fraction > 0 && fraction < 1) {
		return nil, fmt.Errorf("dataset: validation fraction %v is not in (0, 1)", fraction)
	}
	if c := Counts(train); c[0] == 0 || c[1] == 0 {
		return nil, fmt.Errorf("dataset: cannot stratify a split: train has %s %d, %s %d", ClassDirs[0], c[0], ClassDirs[1], c[1])
	}
	s := &Split{Format: SplitFormat, Seed: seed, Fraction: fraction}
	groups := Groups(train)
	for label := range ClassDirs {
		var class []Group
		total := 0
		for _, g := range groups {
			if g.Label == label {
				class = append(class, g)
				total += len(g.Items)
			}
		}
		// One stream per class so one class's group count does not shift the
		// other's order.
		r := rand.New(rand.NewPCG(seed, uint64(label)))
		r.Shuffle(len(class), func(i, j int) { class[i], class[j] = class[j], class[i] })
		target := fraction * float64(total)
		val := 0
		for _, g := range class {
			// Take a group only when it brings the count closer to the target,
			// so large patients cannot overshoot it much.
			n := len(g.Items)
			if math.Abs(float64(val+n)-target) < math.Abs(float64(val)-target) {
				val += n
				s.addGroup(&s.Val, &s.ValCounts, &s.ValGroups, g)
			} else {
				s.addGroup(&s.Train, &s.TrainCounts, &s.TrainGroups, g)
			}
		}
	}
	sortEntries(s.Train)
	sortEntries(s.Val)
	return s, nil
}

func (s *Split) addGroup(dst *[]Entry, counts *[2]int, ngroups *int, g Group) {
	*ngroups++
	for _, it := range g.Items {
		*dst = append(*dst, Entry{it.Rel, it.SHA256})
		counts[it.Label]++
	}
}

func sortEntries(e []Entry) { sort.Slice(e, func(i, j int) bool { return e[i].Rel < e[j].Rel }) }

// Apply returns the train items of each side of the split, after checking
// that the split covers exactly these files with the same contents.
func (s *Split) Apply(train []Item) (trainItems, valItems []Item, err error) {
	if err := s.Check(train); err != nil {
		return nil, nil, err
	}
	inVal := map[string]bool{}
	for _, e := range s.Val {
		inVal[e.Rel] = true
	}
	for _, it := range train {
		if inVal[it.Rel] {
			valItems = append(valItems, it)
		} else {
			trainItems = append(trainItems, it)
		}
	}
	return trainItems, valItems, nil
}

// Check reports how the train folder differs from the files the split was
// made from: added, removed or changed files.
func (s *Split) Check(train []Item) error {
	want := map[string]string{}
	for _, e := range s.Train {
		want[e.Rel] = e.SHA256
	}
	for _, e := range s.Val {
		if _, dup := want[e.Rel]; dup {
			return fmt.Errorf("dataset: split file lists %s in both train and val", e.Rel)
		}
		want[e.Rel] = e.SHA256
	}
	var added, changed, removed []string
	have := map[string]bool{}
	for _, it := range train {
		have[it.Rel] = true
		h, ok := want[it.Rel]
		switch {
		case !ok:
			added = append(added, it.Rel)
		case h != it.SHA256:
			changed = append(changed, it.Rel)
		}
	}
	for rel := range want {
		if !have[rel] {
			removed = append(removed, rel)
		}
	}
	if len(added)+len(changed)+len(removed) == 0 {
		return nil
	}
	var b strings.Builder
	b.WriteString("dataset: the split does not match the train folder:")
	for _, d := range []struct {
		what  string
		names []string
	}{{"added", added}, {"removed", removed}, {"changed content", changed}} {
		if len(d.names) == 0 {
			continue
		}
		sort.Strings(d.names)
		shown := d.names[:min(len(d.names), 5)]
		fmt.Fprintf(&b, " %d %s (%s", len(d.names), d.what, strings.Join(shown, ", "))
		if len(d.names) > len(shown) {
			b.WriteString(", ...")
		}
		b.WriteString(");")
	}
	b.WriteString(" delete the split file to make a new one")
	return errors.New(b.String())
}

// LoadSplit reads a split file.
func LoadSplit(path string) (*Split, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("dataset: %w", err)
	}
	var s Split
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("dataset: split file %s: %w", path, err)
	}
	if s.Format != SplitFormat {
		return nil, fmt.Errorf("dataset: split file %s has format %d, want %d", path, s.Format, SplitFormat)
	}
	return &s, nil
}

// Save writes the split as JSON atomically (temp file + rename).
func (s *Split) Save(path string) error {
	b, err := json.MarshalIndent(s, "", " ")
	if err != nil {
		return err
	}
	if err := atomicfile.Write(path, append(b, '\n')); err != nil {
		return fmt.Errorf("dataset: writing %s: %w", path, err)
	}
	return nil
}

// LoadOrMakeSplit reuses the split file at path when it exists, refusing it
// when it was made with another seed or fraction or from other files;
// otherwise it makes the split and saves it there.
func LoadOrMakeSplit(path string, train []Item, seed uint64, fraction float64) (*Split, error) {
	s, err := LoadSplit(path)
	switch {
	case err == nil:
		if s.Seed != seed || s.Fraction != fraction {
			return nil, fmt.Errorf("dataset: split file %s was made with seed %d, fraction %v; asked for seed %d, fraction %v: delete it or ask for the same",
				path, s.Seed, s.Fraction, seed, fraction)
		}
		if err := s.Check(train); err != nil {
			return nil, fmt.Errorf("%w (split file %s)", err, path)
		}
		return s, nil
	case !errors.Is(err, fs.ErrNotExist):
		return nil, err
	}
	if s, err = MakeSplit(train, seed, fraction); err != nil {
		return nil, err
	}
	if err := s.Save(path); err != nil {
		return nil, err
	}
	return s, nil
}
