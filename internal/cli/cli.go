// Package cli runs a command made of sub-commands (training, modelconv, gputrain, batchscreen):
// the table of sub-commands, the usage text, the flag set each sub-command is given (it prints
// the sub-command's usage line), the reporting of a command-line mistake, and the exit codes.
package cli

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

// Command is one sub-command.
type Command struct {
	Name    string
	Args    string // argument synopsis for the usage text, e.g. "[--run DIR] -o model.onnx"
	Summary string // what it does, one line
	// Run runs the sub-command on the arguments after its name. fs is its own flag set, made
	// by the Program (errors and -h go to stderr, the latter with the usage line), so that a
	// command defines its flags on it and the table needs no back reference.
	Run func(ctx context.Context, fs *flag.FlagSet, args []string, stdout, stderr io.Writer) error
}

// Program is a command and its sub-commands.
type Program struct {
	Name       string // in error messages, e.g. "training"
	Invocation string // how it is run, for the usage text, e.g. "go run ./training"
	Commands   []Command
}

// ErrUsage marks a command-line mistake already reported (by the flag set or the command);
// Run exits 2 on it.
var ErrUsage = errors.New("usage")

// Run runs the sub-command args[0] with the rest of args and returns the exit code: 0, 1 for
// an error (reported as "<name> <command>: <error>"), 2 for a usage mistake or an unknown
// command, 130 when ctx was cancelled. No arguments print the usage and exit 2; "help",
// "-h", "-help" and "--help" print it and exit 0.
func (p *Program) Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" || args[0] == "-help" {
		p.Usage(stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	c := p.find(args[0])
	if c == nil {
		fmt.Fprintf(stderr, "%s: unknown command %q\n\n", p.Name, args[0])
		p.Usage(stderr)
		return 2
	}
	err := c.Run(ctx, p.flags(c, stderr), args[1:], stdout, stderr)
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, ErrUsage):
		return 2
	case errors.Is(err, context.Canceled):
		fmt.Fprintf(stderr, "%s %s: interrupted\n", p.Name, c.Name)
		return 130
	}
	fmt.Fprintf(stderr, "%s %s: %v\n", p.Name, c.Name, err)
	return 1
}

func (p *Program) find(name string) *Command {
	for i := range p.Commands {
		if p.Commands[i].Name == name {
			return &p.Commands[i]
		}
	}
	return nil
}

// Usage writes the list of sub-commands.
func (p *Program) Usage(w io.Writer) {
	fmt.Fprintf(w, "Usage: %s <command> [flags]\n\nCommands:\n", p.Invocation)
	for _, c := range p.Commands {
		fmt.Fprintf(w, "  %-9s %s\n            %s\n", c.Name, c.Args, c.Summary)
	}
	fmt.Fprintf(w, "\nRun \"%s <command> -h\" for a command's flags.\n", p.Invocation)
}

// Main runs p on the process's arguments and exits with Run's code. With interruptible,
// Ctrl-C or SIGTERM cancels the context instead of killing the process: for commands that
// stop at the next safe point and save what they have; the others are killed as usual.
func (p *Program) Main(interruptible bool) {
	ctx, stop := context.Background(), func() {}
	if interruptible {
		ctx, stop = signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	}
	code := p.Run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// flags makes the flag set of sub-command c: errors and -h go to stderr, the latter with
// the command's usage line and summary before the flags.
func (p *Program) flags(c *Command, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(c.Name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: %s %s %s\n\n%s.\n\nFlags:\n", p.Invocation, c.Name, c.Args, c.Summary)
		fs.PrintDefaults()
	}
	return fs
}

// Misuse reports a command-line mistake the flag set cannot see (a required flag missing,
// flags that do not go together): the message, when format is not "", then the usage, on
// fs's output. It returns ErrUsage, for the command to return.
func Misuse(fs *flag.FlagSet, format string, a ...any) error {
	if format != "" {
		fmt.Fprintf(fs.Output(), format+"\n", a...)
	}
	fs.Usage()
	return ErrUsage
}

// Parse parses flags and refuses positional arguments. Errors are flag.ErrHelp (for -h) or
// ErrUsage, already reported on the flag set's output.
func Parse(fs *flag.FlagSet, args []string) error {
	pos, err := ParseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return Misuse(fs, "unexpected arguments: %v", pos)
	}
	return nil
}

// ParseInterspersed parses flags, allowing positional arguments before, between and after
// them, and returns the positional ones. Errors are as Parse's.
func ParseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, ErrUsage
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// The flags below mean the same in every command that takes them, so each has one
// definition and one help text.

// OutputModel defines -o, the model file a command writes; with def "" the command requires it.
func OutputModel(fs *flag.FlagSet, def string) *string {
	help := "output model file"
	if def == "" {
		help += " (required)"
	}
	return fs.String("o", def, help)
}

// FP32 defines --fp32: write the weights as float32 instead of quantizing them to int8.
func FP32(fs *flag.FlagSet) *bool {
	return fs.Bool("fp32", false, "keep weights float32 (default: int8 per channel)")
}

// ModelNaming defines --name and --version, the model's name and version in its metadata;
// with a default "" the command requires that one.
func ModelNaming(fs *flag.FlagSet, name, version string) (*string, *string) {
	required := func(def string) string {
		if def == "" {
			return " (required)"
		}
		return ""
	}
	return fs.String("name", name, "model name in the metadata"+required(name)),
		fs.String("version", version, "model version in the metadata"+required(version))
}
