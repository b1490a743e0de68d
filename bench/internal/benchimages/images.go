// Package benchimages picks the images the benchmark programs time (make bench, bench-web)
// and makes their input tensors as the product does, so every engine gets the same input.
package benchimages

import (
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"

	"pneumoscan/dataset"
	"pneumoscan/imagedecode"
	"pneumoscan/model"
	"pneumoscan/preprocess"
)

// Image is one benchmark image: its file, and the input tensor Go's preprocess makes from it.
type Image struct {
	Name   string // class/file
	Class  string
	Path   string
	Bytes  []byte
	Input  []float32 // NCHW, what every engine is given
	Tensor []byte    // Input as float32 little-endian, for JavaScript engines
}

// PickImages takes the first n files in sorted order, shared out evenly between the
// NORMAL and PNEUMONIA subfolders (the first gets the remainder; listed by dataset.Labelled,
// the one lister of labelled folders), or the first n images of dir itself when it has no
// class subfolders. Files are read where they are; nothing is copied.
func PickImages(dir string, n int) ([]Image, error) {
	var out []Image
	if items, err := dataset.Labelled(dir); err == nil {
		for ci, class := range dataset.ClassDirs {
			want := n / len(dataset.ClassDirs)
			if ci < n%len(dataset.ClassDirs) {
				want++
			}
			for _, it := range items {
				if it.Label == ci && want > 0 {
					out = append(out, Image{Name: it.Rel, Class: class, Path: it.Path})
					want--
				}
			}
		}
	} else {
		es, err := os.ReadDir(dir)
		if err != nil {
			return nil, err
		}
		for _, e := range es { // ReadDir sorts by name
			if ext := strings.ToLower(filepath.Ext(e.Name())); !e.IsDir() && (ext == ".jpeg" || ext == ".jpg" || ext == ".png") && len(out) < n {
				out = append(out, Image{Name: e.Name(), Path: filepath.Join(dir, e.Name())})
			}
		}
	}
	if len(out) < n {
		return nil, fmt.Errorf("%s: want %d images, found %d", dir, n, len(out))
	}
	return out, nil
}

// Prepare reads the image and makes the input tensor the product's Go code makes
// (imagedecode + preprocess, both from the model's metadata).
func (im *Image) Prepare(p model.Preprocess) error {
	b, err := os.ReadFile(im.Path)
	if err != nil {
		return err
	}
	img, err := imagedecode.Decode(b)
	if err != nil {
		return fmt.Errorf("%s: %w", im.Path, err)
	}
	x, err := preprocess.Tensor(img, p)
	if err != nil {
		return fmt.Errorf("%s: %w", im.Path, err)
	}
	t := make([]byte, 4*len(x))
	for i, v := range x {
		binary.LittleEndian.PutUint32(t[4*i:], math.Float32bits(v)) // Float32Array is little-endian on every browser host
	}
	im.Bytes, im.Input, im.Tensor = b, x, t
	return nil
}
