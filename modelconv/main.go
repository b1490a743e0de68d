// Command modelconv makes pneumoscan model files: a demonstration model, a model from a
// torchvision ResNet50 ONNX export, int8 versions of float models; it rewrites a model's
// metadata (never its weights), inspects model files and compares a float model with its int8 version on a folder of images.
//
// Usage:
//
//	go run ./modelconv <command> [flags]
//
// Run "go run ./modelconv help" for the list of commands.
package main

import "pneumoscan/internal/cli"

var program = cli.Program{Name: "modelconv", Invocation: "go run ./modelconv", Commands: []cli.Command{
	{Name: "demo", Args: "[-o models/default.onnx] [--fp32]", Summary: "write the untrained demonstration ResNet50 model (random weights, fixed seed)", Run: runDemo},
	{Name: "build", Args: "--backbone resnet50.onnx [--head head.onnx] -o out.onnx [--fp32]", Summary: "make a model from a torchvision ResNet50 ONNX export", Run: runBuild},
	{Name: "quantize", Args: "in.onnx -o out.onnx", Summary: "store a float32 model's Conv and MatMul weights as int8 per channel", Run: runQuantize},
	{Name: "metadata", Args: "in.onnx -o out.onnx [--validation-from-metrics] [--test-report metrics.json] [--population TEXT] [--indeterminate NAME=HALFWIDTH]", Summary: "rewrite only a model's metadata (weights checked unchanged): validation rates, test figures, population, indeterminate band", Run: runMetadata},
	{Name: "inspect", Args: "file.onnx", Summary: "print a model's metadata, sizes, operator counts and sha256", Run: runInspect},
	{Name: "parity", Args: "--fp32 a.onnx --int8 b.onnx | --model m.onnx --engines onnx-go,convnet; --data DIR [--limit N]", Summary: "screen a folder of images with two models (or two engines) and compare", Run: runParity},
}}

func main() {
	program.Main(false)
}
