package main

import (
	"fmt"
	"io"
	"os"

	"pneumoscan/modelconv/parity"
	"pneumoscan/screen"
)

func runParity(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("parity", stderr)
	fp32 := fs.String("fp32", "", "float32 model file (required)")
	int8 := fs.String("int8", "", "int8 model file (required)")
	data := fs.String("data", "", "folder of images under NORMAL/ and PNEUMONIA/ subfolders (required)")
	limit := fs.Int("limit", 0, "screen at most this many images, spread evenly over the sorted list (0: all)")
	workers := fs.Int("workers", 1, "images screened at once; each worker loads both models (about 1-2 GB)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if *fp32 == "" || *int8 == "" || *data == "" || len(pos) > 0 {
		fs.Usage()
		return errUsage
	}
	images, err := parity.Images(*data, *limit)
	if err != nil {
		return err
	}
	if *workers < 1 {
		return fmt.Errorf("parity: --workers %d: need at least 1", *workers)
	}
	pairs := make([]parity.Pair, *workers)
	for i := range pairs {
		if pairs[i].FP32, err = loadScorer(*fp32); err != nil {
			return err
		}
		if pairs[i].Int8, err = loadScorer(*int8); err != nil {
			return err
		}
	}
	r, err := parity.Compare(images, pairs, stderr)
	if err != nil {
		return err
	}
	r.Print(stdout)
	return nil
}

func loadScorer(path string) (parity.Scorer, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	s, err := screen.New(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return func(img []byte) (float64, error) {
		r, err := s.Screen(img)
		return r.Prob, err
	}, nil
}
