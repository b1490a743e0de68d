package cli

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"io"
	"strings"
	"testing"
)

func TestRun(t *testing.T) {
	var got []string
	p := Program{Name: "tool", Invocation: "go run ./tool", Commands: []Command{
		{Name: "ok", Args: "[-n N] FILE", Summary: "succeed", Run: func(_ context.Context, fs *flag.FlagSet, args []string, _, _ io.Writer) error {
			n := fs.Int("n", 1, "a number")
			pos, err := ParseInterspersed(fs, args)
			if err != nil {
				return err
			}
			got = append(pos, strings.Repeat("x", *n))
			return nil
		}},
		{Name: "strict", Run: func(_ context.Context, fs *flag.FlagSet, args []string, _, _ io.Writer) error {
			return Parse(fs, args)
		}},
		{Name: "need", Args: "--x X", Summary: "require a flag", Run: func(_ context.Context, fs *flag.FlagSet, args []string, _, _ io.Writer) error {
			x := fs.String("x", "", "a value")
			if err := Parse(fs, args); err != nil {
				return err
			}
			if *x == "" {
				return Misuse(fs, "need needs --%s", "x")
			}
			return nil
		}},
		{Name: "fail", Run: func(context.Context, *flag.FlagSet, []string, io.Writer, io.Writer) error { return errors.New("boom") }},
		{Name: "stop", Run: func(ctx context.Context, _ *flag.FlagSet, _ []string, _, _ io.Writer) error { return ctx.Err() }},
	}}
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	for _, c := range []struct {
		args   []string
		ctx    context.Context
		code   int
		stderr string
	}{
		{nil, nil, 2, "Commands:"},
		{[]string{"help"}, nil, 0, `Run "go run ./tool <command> -h"`},
		{[]string{"nope"}, nil, 2, `tool: unknown command "nope"`},
		{[]string{"ok", "a", "-n", "3", "b"}, nil, 0, ""},
		{[]string{"ok", "-h"}, nil, 0, "Usage: go run ./tool ok [-n N] FILE\n\nsucceed."},
		{[]string{"ok", "-bad"}, nil, 2, "flag provided but not defined"},
		{[]string{"strict", "stray"}, nil, 2, "unexpected arguments: [stray]"},
		{[]string{"need"}, nil, 2, "need needs --x\nUsage: go run ./tool need --x X\n\nrequire a flag."},
		{[]string{"need", "-x", "1"}, nil, 0, ""},
		{[]string{"fail"}, nil, 1, "tool fail: boom"},
		{[]string{"stop"}, cancelled, 130, "tool stop: interrupted"},
	} {
		var out, errb bytes.Buffer
		ctx := c.ctx
		if ctx == nil {
			ctx = context.Background()
		}
		if code := p.Run(ctx, c.args, &out, &errb); code != c.code || !strings.Contains(errb.String(), c.stderr) {
			t.Errorf("%v: code %d, stderr %q; want %d and %q", c.args, code, errb.String(), c.code, c.stderr)
		}
	}
	if strings.Join(got, " ") != "a b xxx" {
		t.Errorf("ok saw %v, want positional a b and -n 3", got)
	}
}

func TestSharedFlags(t *testing.T) {
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	out, fp32 := OutputModel(fs, ""), FP32(fs)
	name, version := ModelNaming(fs, "net", "")
	if err := fs.Parse([]string{"-o", "m.onnx", "--fp32", "--version", "2"}); err != nil {
		t.Fatal(err)
	}
	if *out != "m.onnx" || !*fp32 || *name != "net" || *version != "2" {
		t.Errorf("parsed -o %q --fp32 %v --name %q --version %q", *out, *fp32, *name, *version)
	}
	for flagName, want := range map[string]string{"o": "(required)", "version": "(required)", "name": "metadata"} {
		if u := fs.Lookup(flagName).Usage; !strings.Contains(u, want) {
			t.Errorf("--%s usage %q lacks %q", flagName, u, want)
		}
	}
	if u := fs.Lookup("name").Usage; strings.Contains(u, "required") {
		t.Errorf("--name has a default but its usage %q says required", u)
	}
}
