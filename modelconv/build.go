package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"pneumoscan/atomicfile"
	"pneumoscan/internal/cli"
	"pneumoscan/model"
	"pneumoscan/modelfile"
	"pneumoscan/modelfile/torchvision"
	"pneumoscan/resnet"
)

func runBuild(_ context.Context, fs *flag.FlagSet, args []string, stdout, stderr io.Writer) error {
	backbone := fs.String("backbone", "", "torchvision ResNet50 ONNX export (required)")
	headFile := fs.String("head", "", "ONNX file holding the head initializers head.fc1.weight/bias, head.fc2.weight/bias (e.g. a contract model); its metadata is kept when it has some. Default: a random head")
	out := cli.OutputModel(fs, "")
	fp32 := cli.FP32(fs)
	hidden := fs.Int("hidden", demoHidden, "hidden units of a random head")
	seed := fs.Uint64("seed", demoHeadSeed, "seed of a random head")
	name, version := cli.ModelNaming(fs, "pneumoscan-imported", "0.1.0") // when the head brings no metadata
	pos, err := cli.ParseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if *backbone == "" || *out == "" || len(pos) > 0 {
		return cli.Misuse(fs, "")
	}
	b, err := torchvision.ImportFile(*backbone, resnet.ResNet50)
	if err != nil {
		return err
	}
	md := model.Metadata{
		Name: *name, Version: *version, Trained: false,
		Description: "ResNet50 backbone imported from " + *backbone + " with an untrained random head: its outputs are meaningless.",
		Preprocess:  model.ImageNetPreprocess(224),
		Classes:     []string{"NORMAL", "PNEUMONIA"},
		Thresholds: []model.Threshold{{Name: "default", Value: 0.5,
			Criterion: "untrained head: no operating point was measured"}},
		Operating: "default", Temperature: 1, Metrics: map[string]float64{},
	}
	var h *resnet.Head
	if *headFile == "" {
		if h, err = resnet.RandomHead(b.Arch.Features(), *hidden, *seed); err != nil {
			return err
		}
	} else {
		m, err := modelfile.ReadFile(*headFile)
		if err != nil {
			return err
		}
		ts, err := modelfile.FloatTensors(m)
		if err != nil {
			return fmt.Errorf("%s: %w", *headFile, err)
		}
		if h, err = modelfile.HeadFrom(ts); err != nil {
			return fmt.Errorf("%s: %w", *headFile, err)
		}
		if len(m.MetadataProps) > 0 {
			if md, err = model.ParseMetadata(m.MetadataProps); err != nil {
				return fmt.Errorf("%s: %w", *headFile, err)
			}
		}
	}
	return writeModel(*out, b, h, md, !*fp32, stdout)
}

func runQuantize(_ context.Context, fs *flag.FlagSet, args []string, stdout, stderr io.Writer) error {
	out := cli.OutputModel(fs, "")
	pos, err := cli.ParseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 || *out == "" {
		return cli.Misuse(fs, "")
	}
	m, err := modelfile.ReadFile(pos[0])
	if err != nil {
		return err
	}
	md, err := model.ParseMetadata(m.MetadataProps)
	if err != nil {
		return fmt.Errorf("%s: %w", pos[0], err)
	}
	q, err := modelfile.Quantize(m)
	if errors.Is(err, modelfile.ErrNothingToQuantize) {
		return fmt.Errorf("%s: %w (is it already int8?)", pos[0], err)
	} else if err != nil {
		return fmt.Errorf("%s: %w", pos[0], err)
	}
	data, err := modelfile.Marshal(q)
	if err != nil {
		return err
	}
	if err := atomicfile.Write(*out, data); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s: %s int8, %.1f MB, sha256 %s\n", *out, md.Name, float64(len(data))/1e6, sha256Hex(data))
	return nil
}
