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

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

type command struct {
	name, args, summary string
	run                 func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

var commands []command

// init fills commands: usage reads it, so a plain initializer would be a cycle.
func init() {
	commands = []command{
		{"train", "[--data DIR] [--run DIR] [--backbone none|FILE] [--trainable-stages N] [--resume] ...", "scan, split, extract features, train the head (and the last N backbone stages), write the run's float model", runTrain},
		{"tune", "[--data DIR] [--run DIR] [--trials N] ...", "random search over head settings on the cached features, resumable", runTune},
		{"export", "[--run DIR] -o model.onnx [--version V]", "thresholds and temperature from validation into metadata, int8, atomically", runExport},
		{"evaluate", "--model FILE --data DIR [--out DIR]", "screen every image of a folder and write metrics.json/.md and plots", runEvaluate},
	}
}

func main() {
	// Ctrl-C or SIGTERM cancels the context: the commands stop at the next
	// safe point, save what they have, and say how to go on.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" || args[0] == "-help" {
		usage(stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range commands {
		if c.name != args[0] {
			continue
		}
		err := c.run(ctx, args[1:], stdout, stderr)
		switch {
		case errors.Is(err, flag.ErrHelp):
			return 0
		case errors.Is(err, errUsage):
			return 2
		case errors.Is(err, context.Canceled):
			fmt.Fprintf(stderr, "training %s: interrupted\n", c.name)
			return 130
		case err != nil:
			fmt.Fprintf(stderr, "training %s: %v\n", c.name, err)
			return 1
		}
		return 0
	}
	fmt.Fprintf(stderr, "training: unknown command %q\n\n", args[0])
	usage(stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "Usage: go run ./training <command> [flags]\n\nCommands:")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-9s %s\n            %s\n", c.name, c.args, c.summary)
	}
	fmt.Fprintln(w, "\nRun \"go run ./training <command> -h\" for a command's flags.")
}

// errUsage marks a command-line mistake already reported by the flag set.
var errUsage = errors.New("usage")

// parse parses a command's flags, refusing stray arguments.
func parse(fs *flag.FlagSet, args []string, stderr io.Writer) error {
	fs.SetOutput(stderr)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "unexpected arguments: %v\n", fs.Args())
		fs.Usage()
		return errUsage
	}
	return nil
}
