// Command training trains pneumoscan's classifier head on a frozen ResNet50
// backbone, tunes it, evaluates model files and exports the model the page runs.
//
// Usage:
//
//	go run ./training <command> [flags]
//
// A run folder (--run) holds everything one training run makes and reads back:
// the validation split, the feature caches, the checkpoint, the trained float
// model and run.json. Run "go run ./training help" for the commands.
package main

import "pneumoscan/internal/cli"

var program = cli.Program{Name: "training", Invocation: "go run ./training", Commands: []cli.Command{
	{Name: "train", Args: "[--data DIR] [--run DIR] [--backbone none|FILE] [--trainable-stages N] [--resume] ...", Summary: "scan, split, extract features, train the head (and the last N backbone stages), write the run's float model", Run: runTrain},
	{Name: "tune", Args: "[--data DIR] [--run DIR] [--trials N] ...", Summary: "random search over head settings on the cached features, resumable", Run: runTune},
	{Name: "export", Args: "[--run DIR] -o model.onnx [--version V]", Summary: "thresholds and temperature from validation into metadata, int8, atomically", Run: runExport},
	{Name: "gate", Args: "--model FILE --data DIR --negatives DIR [--adult DIR] -o model.onnx [--out DIR]", Summary: "fit the not-a-chest-film gate, orientation head and population check on the model's features; write the contract-2 file and a report", Run: runGate},
	{Name: "calibrate", Args: "--data DIR [--model FILE] [-o site-profile.json] [--label NAME] [--sensitivity 0.95]", Summary: "site calibration: screen a site's own labelled films, print the AUC with its CI and each operating point's rates, write a site profile the page imports", Run: runCalibrate},
	{Name: "evaluate", Args: "--model FILE --data DIR [--out DIR]", Summary: "screen every image of a folder and write metrics.json/.md and plots", Run: runEvaluate},
}}

func main() {
	// Ctrl-C or SIGTERM cancels the context: the commands stop at the next
	// safe point, save what they have, and say how to go on.
	program.Main(true)
}
