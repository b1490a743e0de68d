package dataset

import (
	"fmt"
	"io/fs"
	"path/filepath"
	"sort"
	"strings"

	"pneumoscan/imagedecode"
)

// Labelled lists the image files of the class folders under dir: every regular, non-hidden
// file with an extension of a format imagedecode reads (imagedecode.Extensions: .dcm, .jpeg,
// .png, .tif, ...; any case) whose parent folder is NORMAL or PNEUMONIA, at any depth
// (dir/NORMAL, dir/test/PNEUMONIA, ...), sorted by path, so the NORMAL images of a folder
// come before its PNEUMONIA ones. A DICOM file without an extension is not listed: names
// are all it looks at. Each Item has Path, Rel (slash-separated, relative
// to dir) and Label set; nothing is read or decoded (Scan does that). It fails when dir
// holds no such image. Evaluation, benchmarks and the parity check list their images here;
// Scan, which also reports junk, reads a data set root itself.
func Labelled(dir string) ([]Item, error) {
	label := map[string]int{ClassDirs[Normal]: Normal, ClassDirs[Pneumonia]: Pneumonia}
	image := map[string]bool{}
	for _, ext := range imagedecode.Extensions() {
		image[ext] = true
	}
	var items []Item
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.Type().IsRegular() || strings.HasPrefix(d.Name(), ".") {
			return nil
		}
		if !image[strings.ToLower(filepath.Ext(p))] {
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
