// Command modelconv makes pneumoscan model files: a demonstration model, a model from a
// torchvision ResNet50 ONNX export, int8 versions of float models; it also inspects model
// files and compares a float model with its int8 version on a folder of images.
//
// Usage:
//
//	go run ./modelconv <command> [flags]
//
// Run "go run ./modelconv help" for the list of commands.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
)

type command struct {
	name, args, summary string
	run                 func(args []string, stdout, stderr io.Writer) error
}

var commands []command

// init fills commands: the run functions read it for their usage lines, so a plain
// initializer would be a cycle.
func init() {
	commands = []command{
		{"demo", "[-o models/default.onnx] [--fp32]", "write the untrained demonstration ResNet50 model (random weights, fixed seed)", runDemo},
		{"build", "--backbone resnet50.onnx [--head head.onnx] -o out.onnx [--fp32]", "make a model from a torchvision ResNet50 ONNX export", runBuild},
		{"quantize", "in.onnx -o out.onnx", "store a float32 model's Conv and MatMul weights as int8 per channel", runQuantize},
		{"inspect", "file.onnx", "print a model's metadata, sizes, operator counts and sha256", runInspect},
		{"parity", "--fp32 a.onnx --int8 b.onnx | --model m.onnx --engines onnx-go,convnet; --data DIR [--limit N]", "screen a folder of images with two models (or two engines) and compare", runParity},
	}
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" || args[0] == "-help" {
		usage(stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range commands {
		if c.name == args[0] {
			err := c.run(args[1:], stdout, stderr)
			switch {
			case errors.Is(err, flag.ErrHelp):
				return 0
			case errors.Is(err, errUsage):
				return 2
			case err != nil:
				fmt.Fprintf(stderr, "modelconv %s: %v\n", c.name, err)
				return 1
			}
			return 0
		}
	}
	fmt.Fprintf(stderr, "modelconv: unknown command %q\n\n", args[0])
	usage(stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "Usage: go run ./modelconv <command> [flags]\n\nCommands:")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-9s %s\n            %s\n", c.name, c.args, c.summary)
	}
	fmt.Fprintln(w, "\nRun \"go run ./modelconv <command> -h\" for a command's flags.")
}

// errUsage marks a command-line mistake already reported by the flag set.
var errUsage = errors.New("usage")

// newFlags makes a flag set that prints the command's usage line and reports to stderr.
func newFlags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	for _, c := range commands {
		if c.name == name {
			fs.Usage = func() {
				fmt.Fprintf(stderr, "Usage: go run ./modelconv %s %s\n\n%s.\n\nFlags:\n", c.name, c.args, c.summary)
				fs.PrintDefaults()
			}
		}
	}
	return fs
}

// parse parses flags, allowing positional arguments before, between and after them, and
// reports errors as errUsage.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, errUsage
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}
