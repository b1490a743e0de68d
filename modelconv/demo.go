package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"pneumoscan/atomicfile"
	"pneumoscan/internal/cli"

	"pneumoscan/model"
	"pneumoscan/modelfile"
	"pneumoscan/resnet"
)

// Fixed seeds: regenerating the demonstration model gives the same bytes.
const (
	demoBackboneSeed = 1
	demoHeadSeed     = 2
	demoHidden       = 128
	demoVersion      = "0.1.0"
)

func demoMetadata() model.Metadata {
	return model.Metadata{
		Name:    "pneumoscan-demo",
		Version: demoVersion,
		Trained: false,
		Description: "Untrained demonstration model: a ResNet50 and head with random weights (fixed seed). " +
			"Its outputs are meaningless and must not be used to screen anyone; it exists to exercise the application.",
		Preprocess: model.ImageNetPreprocess(224),
		Classes:    []string{"NORMAL", "PNEUMONIA"},
		Thresholds: []model.Threshold{{Name: "default", Value: 0.5,
			Criterion: "untrained demonstration model: no operating point was measured"}},
		Operating:   "default",
		Temperature: 1,
		Metrics:     map[string]float64{},
	}
}

func runDemo(_ context.Context, fs *flag.FlagSet, args []string, stdout, stderr io.Writer) error {
	// -o has no default: the old default, models/default.onnx, replaced the shipped trained
	// model with this untrained one.
	out := cli.OutputModel(fs, "")
	fp32 := cli.FP32(fs)
	if pos, err := cli.ParseInterspersed(fs, args); err != nil {
		return err
	} else if len(pos) > 0 || *out == "" {
		if *out == "" {
			fmt.Fprintln(stderr, "demo needs -o FILE")
		}
		fs.Usage()
		return cli.ErrUsage
	}
	b, err := resnet.RandomBackbone(resnet.ResNet50, demoBackboneSeed)
	if err != nil {
		return err
	}
	h, err := resnet.RandomHead(resnet.ResNet50.Features(), demoHidden, demoHeadSeed)
	if err != nil {
		return err
	}
	return writeModel(*out, b, h, demoMetadata(), !*fp32, stdout)
}

// writeModel builds, optionally quantizes and writes a contract model, then says what it wrote.
func writeModel(path string, b *resnet.Backbone, h *resnet.Head, md model.Metadata, int8 bool, stdout io.Writer) error {
	m, err := modelfile.Build(b, h, md)
	if err != nil {
		return err
	}
	kind := "float32"
	if int8 {
		if m, err = modelfile.Quantize(m); err != nil {
			return err
		}
		kind = "int8"
	}
	data, err := modelfile.Marshal(m)
	if err != nil {
		return err
	}
	if err := atomicfile.Write(path, data); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s: %s %s, %.1f MB, sha256 %s\n", path, md.Name, kind, float64(len(data))/1e6, sha256Hex(data))
	return nil
}
