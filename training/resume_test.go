package main

import (
	"flag"
	"io"
	"testing"

	"pneumoscan/training/head"
)

// parsedHead is the head settings and flag set after parsing args as train does.
func parsedHead(t *testing.T, args ...string) (*flag.FlagSet, head.Config) {
	t.Helper()
	fs := flag.NewFlagSet("train", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var cfg head.Config
	headFlags(fs, &cfg)
	fs.String("run", "", "")
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	return fs, cfg
}

func TestResumedConfig(t *testing.T) {
	saved := head.Default()
	saved.Units, saved.Dropout, saved.Standardize, saved.Dim = 64, 0.3, true, 512
	for _, tc := range []struct {
		args   []string
		ok     bool
		epochs int
	}{
		{nil, true, saved.Epochs},
		{[]string{"--run", "x"}, true, saved.Epochs},
		{[]string{"--epochs", "99"}, true, 99},
		{[]string{"--units", "64", "--dropout", "0.3", "--standardize"}, true, saved.Epochs},
		{[]string{"--units", "32"}, false, 0},
		{[]string{"--dropout", "0.5"}, false, 0},
		{[]string{"--l2", "0.5"}, false, 0},
		{[]string{"--lr", "0.5"}, false, 0},
		{[]string{"--batch", "7"}, false, 0},
		{[]string{"--patience", "1"}, false, 0},
		{[]string{"--standardize=false"}, false, 0},
	} {
		fs, cfg := parsedHead(t, tc.args...)
		epochsSet := fs.Lookup("epochs").Value.String() != fs.Lookup("epochs").DefValue
		got, err := resumedConfig(fs, cfg, saved, epochsSet)
		if (err == nil) != tc.ok {
			t.Errorf("%v: err %v, want ok %v", tc.args, err, tc.ok)
			continue
		}
		if !tc.ok {
			continue
		}
		want := saved
		want.Epochs = tc.epochs
		if got != want {
			t.Errorf("%v: got %+v, want %+v", tc.args, got, want)
		}
	}
}
