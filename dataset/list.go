package dataset

import (
	"fmt"
	"io/fs"
	"path/filepath"
	"sort"
	"strings"
)

// Labelled lists the image files of the class folders under dir: every regular, non-hidden
// .jpeg, .jpg or .png file (any case) whose parent folder is NORMAL or PNEUMONIA, at any
// depth (dir/NORMAL, dir/test/PNEUMONIA, ...), sorted by path, so the NORMAL images of a
// folder come before its PNEUMONIA ones. Each Item has Path, Rel (slash-separated, relative
// to dir) and Label set; nothing is read or decoded (Scan does that). It fails when dir
// holds no such image. Evaluation, benchmarks and the parity check list their images here;
// Scan, which also reports junk, reads a data set root itself.
func Labelled(dir string) ([]Item, error) {
	label := map[string]int{ClassDirs[Normal]: Normal, ClassDirs[Pneumonia]: Pneumonia}
	var items []Item
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.Type().IsRegular() || strings.HasPrefix(d.Name(), ".") {
			return nil
		}
		switch strings.ToLower(filepath.Ext(p)) {
		case ".jpeg", ".jpg", ".png":
		default:
			return nil
		}
		l, ok := label[filepath.Base(filepath.Dir(p))]
		if !ok {
			return nil
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		items = append(items, Item{Path: p, Rel: filepath.ToSlash(rel), Label: l})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("dataset: %w", err)
	}
	if len(items) == 0 {
		return nil, fmt.Errorf("dataset: no images under %s/ or %s/ folders in %s", ClassDirs[Normal], ClassDirs[Pneumonia], dir)
	}
	sort.Slice(items, func(i, j int) bool { return items[i].Path < items[j].Path })
	return items, nil
}
