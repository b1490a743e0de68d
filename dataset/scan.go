// Package dataset scans a chest X-ray folder in the Kaggle layout
// (<root>/{train,test}/{NORMAL,PNEUMONIA}, val/ optional), groups images by
// patient and by identical content, and makes a patient-grouped,
// class-stratified validation split of train.
package dataset

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"pneumoscan/imagedecode"
)

// Labels: the order the model's "prob" output uses (P(pneumonia) is class 1).
const (
	Normal    = 0
	Pneumonia = 1
)

// ClassDirs maps a label to the folder name that holds its images.
var ClassDirs = [2]string{Normal: "NORMAL", Pneumonia: "PNEUMONIA"}

// Split folder names. Val is Kaggle's own tiny val/ folder, not the
// validation split made by MakeSplit.
const (
	Train = "train"
	Test  = "test"
	Val   = "val"
)

// Item is one image of the data set.
type Item struct {
	Path    string // file path on disk (root joined with Rel)
	Rel     string // slash-separated path relative to the root, e.g. "train/NORMAL/IM-0115-0001.jpeg"
	Label   int    // Normal or Pneumonia, from the class folder
	Patient string // patient ID parsed from the file name (see PatientID)
	Format  string // the imagedecode format, detected from the content: "JPEG", "PNG", "DICOM", ...
	Width   int
	Height  int
	SHA256  string // hex sha256 of the file's bytes; equal hashes are byte-identical duplicates
}

// Skipped is a file or folder that Scan left out, and why.
type Skipped struct {
	Rel    string
	Reason string
}

// Options tunes Scan.
type Options struct {
	// FullDecode decodes every image completely instead of only its header,
	// as the trainer will (imagedecode.Decode), catching truncated files and
	// images it refuses (too small, in colour) at the cost of a much slower scan.
	FullDecode bool
}

// Scanned is the result of Scan.
type Scanned struct {
	Root  string
	Train []Item
	Test  []Item
	Val   []Item // Kaggle's val/ folder, when present
	// Skipped lists junk (hidden files, sub-folders, non-images, empty or
	// corrupt images) that was left out.
	Skipped []Skipped
	// UnmatchedNames counts images whose file name matched no patient
	// pattern; each of them is its own patient group.
	UnmatchedNames int
}

// Patient ID patterns seen in this data set: "person1000_bacteria_2931.jpeg",
// "IM-0115-0001.jpeg", "IM-0429-0001-0002.jpeg", "NORMAL2-IM-0383-0001.jpeg".
// NORMAL2 must be tried before IM so its prefix is kept.
var patientPatterns = []*regexp.Regexp{
	regexp.MustCompile(`^(person\d+)_`),
	regexp.MustCompile(`^(NORMAL2-IM-\d+)-`),
	regexp.MustCompile(`^(IM-\d+)-`),
}

// PatientID returns the patient part of an image file name and whether a
// known pattern matched. A name that matches none is returned as its own
// group, "file:<name>", so it can never merge with a real patient.
func PatientID(name string) (string, bool) {
	for _, re := range patientPatterns {
		if m := re.FindStringSubmatch(name); m != nil {
			return m[1], true
		}
	}
	return "file:" + name, false
}

// Scan reads the data set under root. It fails, before anything else is
// done, when train or test is missing, or when any split folder present has
// no images or lacks one class.
func Scan(root string, opt Options) (*Scanned, error) {
	st, err := os.Stat(root)
	if err != nil {
		return nil, fmt.Errorf("dataset: %w", err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("dataset: %s is not a folder", root)
	}
	s := &Scanned{Root: root}
	for _, split := range []string{Train, Test, Val} {
		dir := filepath.Join(root, split)
		if _, err := os.Stat(dir); err != nil {
			if errors.Is(err, fs.ErrNotExist) && split == Val {
				continue
			}
			return nil, fmt.Errorf("dataset: %s: missing %s/ folder (want %s/{%s,%s})", root, split, split, ClassDirs[0], ClassDirs[1])
		}
		items, err := s.scanSplit(split, opt)
		if err != nil {
			return nil, err
		}
		switch split {
		case Train:
			s.Train = items
		case Test:
			s.Test = items
		case Val:
			s.Val = items
		}
	}
	return s, nil
}

func (s *Scanned) scanSplit(split string, opt Options) ([]Item, error) {
	dir := filepath.Join(s.Root, split)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("dataset: %w", err)
	}
	known := map[string]bool{ClassDirs[0]: true, ClassDirs[1]: true}
	for _, e := range entries {
		if !known[e.Name()] {
			s.Skipped = append(s.Skipped, Skipped{path.Join(split, e.Name()), "not a class folder (want NORMAL or PNEUMONIA)"})
		}
	}
	var items []Item
	for label, class := range ClassDirs {
		classDir := filepath.Join(dir, class)
		entries, err := os.ReadDir(classDir)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil, fmt.Errorf("dataset: %s: class folder %s/%s is missing; both %s and %s are needed", s.Root, split, class, ClassDirs[0], ClassDirs[1])
			}
			return nil, fmt.Errorf("dataset: %w", err)
		}
		n := 0
		for _, e := range entries {
			rel := path.Join(split, class, e.Name())
			it, reason := checkEntry(filepath.Join(classDir, e.Name()), e, opt)
			if reason != "" {
				s.Skipped = append(s.Skipped, Skipped{rel, reason})
				continue
			}
			it.Rel = rel
			it.Label = label
			var ok bool
			if it.Patient, ok = PatientID(e.Name()); !ok {
				s.UnmatchedNames++
			}
			items = append(items, it)
			n++
		}
		if n == 0 {
			return nil, fmt.Errorf("dataset: %s: %s/%s holds no usable image; both classes are needed", s.Root, split, class)
		}
	}
	return items, nil
}

// checkEntry returns the item for a class-folder entry, or why it is junk.
func checkEntry(p string, e fs.DirEntry, opt Options) (Item, string) {
	switch {
	case strings.HasPrefix(e.Name(), "."):
		return Item{}, "hidden file"
	case e.IsDir():
		return Item{}, "sub-folder"
	case !e.Type().IsRegular():
		// Symlinks and devices: following them could leave the data set.
		return Item{}, "not a regular file"
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return Item{}, "unreadable: " + err.Error()
	}
	if len(b) == 0 {
		return Item{}, "empty file"
	}
	// Every format imagedecode registers (DICOM, JPEG, PNG, TIFF, ...), told by content, as
	// the trainer reads them. Its messages never carry a DICOM file's patient attributes.
	cfg, format, err := imagedecode.DecodeConfig(b)
	if err != nil {
		return Item{}, "not a readable image: " + decodeError(err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return Item{}, fmt.Sprintf("bad image size %dx%d", cfg.Width, cfg.Height)
	}
	if opt.FullDecode {
		if _, err := imagedecode.Decode(b); err != nil {
			var de *imagedecode.Error
			if errors.As(err, &de) && de.Kind == imagedecode.Corrupt {
				return Item{}, "corrupt image: " + decodeError(err)
			}
			return Item{}, "refused: " + decodeError(err)
		}
	}
	sum := sha256.Sum256(b)
	return Item{Path: p, Format: format, Width: cfg.Width, Height: cfg.Height, SHA256: hex.EncodeToString(sum[:])}, ""
}

// decodeError is an imagedecode error's message with the decoder's own detail, for the person
// preparing the data set.
func decodeError(err error) string {
	var de *imagedecode.Error
	if errors.As(err, &de) && de.Err != nil {
		return de.Message + " (" + de.Err.Error() + ")"
	}
	return err.Error()
}

// Summary is a short human-readable account of the scan, ending with the
// skipped and unmatched counts.
func (s *Scanned) Summary() string {
	var b strings.Builder
	for _, sp := range []struct {
		name  string
		items []Item
	}{{Train, s.Train}, {Test, s.Test}, {Val, s.Val}} {
		if sp.items == nil {
			continue
		}
		c := Counts(sp.items)
		fmt.Fprintf(&b, "%s: %d images (%s %d, %s %d), %d duplicate groups\n",
			sp.name, len(sp.items), ClassDirs[0], c[0], ClassDirs[1], c[1], len(DuplicateGroups(sp.items)))
	}
	for _, k := range s.Skipped {
		fmt.Fprintf(&b, "skipped %s: %s\n", k.Rel, k.Reason)
	}
	fmt.Fprintf(&b, "%d skipped, %d file names matched no patient pattern (each is its own group)\n", len(s.Skipped), s.UnmatchedNames)
	return b.String()
}

// Counts returns the number of items of each label.
func Counts(items []Item) [2]int {
	var c [2]int
	for _, it := range items {
		c[it.Label]++
	}
	return c
}

// DuplicateGroups returns the groups (two or more items) of byte-identical
// files, each sorted by Rel, the groups sorted by their first Rel.
func DuplicateGroups(items []Item) [][]Item {
	by := map[string][]Item{}
	for _, it := range items {
		by[it.SHA256] = append(by[it.SHA256], it)
	}
	var groups [][]Item
	for _, g := range by {
		if len(g) > 1 {
			sort.Slice(g, func(i, j int) bool { return g[i].Rel < g[j].Rel })
			groups = append(groups, g)
		}
	}
	sort.Slice(groups, func(i, j int) bool { return groups[i][0].Rel < groups[j][0].Rel })
	return groups
}

// ClassWeights returns the "balanced" weights of Keras/sklearn,
// w_c = n / (2 * n_c), so each class contributes equally to a weighted loss.
func ClassWeights(items []Item) ([2]float64, error) {
	c := Counts(items)
	if c[0] == 0 || c[1] == 0 {
		return [2]float64{}, fmt.Errorf("dataset: class weights need both classes, got %s %d, %s %d", ClassDirs[0], c[0], ClassDirs[1], c[1])
	}
	n := float64(len(items))
	return [2]float64{n / (2 * float64(c[0])), n / (2 * float64(c[1]))}, nil
}
