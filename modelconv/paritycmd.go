package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"pneumoscan/convnet"
	"pneumoscan/inference"
	"pneumoscan/internal/cli"
	"pneumoscan/model"
	"pneumoscan/modelconv/parity"
	"pneumoscan/screen"
)

// runParity compares two scorers image by image: a float32 and an int8 model file (what
// quantization changes), or one model file run by two engines (what the fast engine changes
// against the onnx-go reference).
func runParity(_ context.Context, fs *flag.FlagSet, args []string, stdout, stderr io.Writer) error {
	fp32 := fs.String("fp32", "", "float32 model file (with --int8)")
	int8 := fs.String("int8", "", "int8 model file (with --fp32)")
	modelPath := fs.String("model", "", "one model file, run by both --engines (instead of --fp32/--int8)")
	engines := fs.String("engines", "", `two engines to compare on --model, e.g. "onnx-go,convnet"`)
	data := fs.String("data", "", "folder of images under NORMAL/ and PNEUMONIA/ subfolders (required)")
	limit := fs.Int("limit", 0, "screen at most this many images, spread evenly over the sorted list (0: all)")
	workers := fs.Int("workers", 1, "images screened at once; each worker loads both models (about 1-2 GB)")
	pos, err := cli.ParseInterspersed(fs, args)
	if err != nil {
		return err
	}
	byModels := *fp32 != "" && *int8 != "" && *modelPath == "" && *engines == ""
	byEngines := *modelPath != "" && *engines != "" && *fp32 == "" && *int8 == ""
	if (!byModels && !byEngines) || *data == "" || len(pos) > 0 {
		return cli.Misuse(fs, "")
	}
	// Each side: a model file and an engine ("" is screen's default).
	type side struct{ path, engine, label string }
	a, b := side{*fp32, "", "fp32"}, side{*int8, "", "int8"}
	if byEngines {
		names := strings.Split(*engines, ",")
		if len(names) != 2 || names[0] == "" || names[1] == "" {
			return fmt.Errorf("parity: --engines %q: want two names separated by a comma", *engines)
		}
		a = side{*modelPath, names[0], names[0]}
		b = side{*modelPath, names[1], names[1]}
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
		if pairs[i].FP32, err = loadScorer(a.path, a.engine); err != nil {
			return err
		}
		if pairs[i].Int8, err = loadScorer(b.path, b.engine); err != nil {
			return err
		}
	}
	r, err := parity.Compare(images, pairs, stderr)
	if err != nil {
		return err
	}
	r.Labels = [2]string{a.label, b.label}
	r.Print(stdout)
	return nil
}

// engines are the engines parity can compare, by name ("" is the product's, convnet).
var engines = map[string]model.Engine{
	"":                      convnet.Engine,
	convnet.Engine.Name():   convnet.Engine,
	inference.Engine.Name(): inference.Engine,
}

func loadScorer(path, engine string) (parity.Scorer, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	e, ok := engines[engine]
	if !ok {
		return nil, fmt.Errorf("parity: unknown engine %q (want convnet or onnx-go)", engine)
	}
	s, err := screen.New(b, e)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return func(img []byte) (float64, error) {
		r, err := s.Screen(img)
		return r.Prob, err
	}, nil
}
