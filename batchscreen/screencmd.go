package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"pneumoscan/convnet"
	"pneumoscan/internal/cli"
	"pneumoscan/internal/progress"
	"pneumoscan/screen"
	"pneumoscan/sgemm"
)

// stdin is where --list - reads; a variable so the tests can feed it.
var stdin io.Reader = os.Stdin

func runScreen(ctx context.Context, fs *flag.FlagSet, args []string, stdout, stderr io.Writer) error {
	modelPath := fs.String("model", "models/default.onnx", "model file")
	list := fs.String("list", "", "screen the files this text file lists, one path per line (- for stdin), instead of a folder")
	out := fs.String("out", "results", "folder for the results (created if missing): results.csv and results.jsonl, or results-IIIII-of-NNNNN.* for a shard")
	threshold := fs.String("threshold", "", "operating point to decide at, by name (default: the model's own)")
	// GOMAXPROCS, not NumCPU: the same outside a container, and in a container it follows
	// the CPU limit (Go 1.25+), where NumCPU would count every core of the node and load an
	// engine (and its memory) for each.
	workers := fs.Int("workers", runtime.GOMAXPROCS(0), "engines screening at once, one per core")
	shardFlag := fs.String("shard", "", "screen only shard i of n (i/n, i from 0): the files whose path hashes to i; default from JOB_COMPLETION_INDEX when set")
	shards := fs.Int("shards", 0, "number of shards, with JOB_COMPLETION_INDEX (default: $BATCHSCREEN_SHARDS)")
	restart := fs.Bool("restart", false, "start the results over, replacing rows already written (needed to change --model or --threshold on the same --out)")
	pos, err := cli.ParseInterspersed(fs, args)
	if err != nil {
		return err
	}
	switch {
	case len(pos) > 1:
		return cli.Misuse(fs, "screen takes one folder, got %d arguments", len(pos))
	case len(pos) == 1 && *list != "":
		return cli.Misuse(fs, "give a folder or --list, not both")
	case len(pos) == 0 && *list == "":
		return cli.Misuse(fs, "screen needs a folder, or --list FILE")
	case *workers < 1:
		return cli.Misuse(fs, "--workers must be at least 1")
	}
	sh, err := resolveShard(*shardFlag, *shards, os.Getenv)
	if err != nil {
		return cli.Misuse(fs, "%v", err)
	}

	modelBytes, err := os.ReadFile(*modelPath)
	if err != nil {
		return err
	}
	loadStart := time.Now()
	first, err := screen.New(modelBytes, convnet.Engine)
	if err != nil {
		return fmt.Errorf("%s: %w", *modelPath, err)
	}
	meta := first.Metadata()
	name := *threshold
	if name == "" {
		name = meta.Operating
	}
	op, err := meta.Decide(0.5, name)
	if err != nil {
		var names []string
		for _, t := range meta.Thresholds {
			names = append(names, t.Name)
		}
		return cli.Misuse(fs, "--threshold %q: the model's operating points are %s", name, strings.Join(names, ", "))
	}

	sk := skips{}
	var entries []entry
	if *list != "" {
		r := stdin
		if *list != "-" {
			f, err := os.Open(*list)
			if err != nil {
				return err
			}
			defer f.Close()
			r = f
		}
		entries, err = readList(r, sk)
	} else {
		entries, err = walkTree(pos[0], sk)
	}
	if err != nil {
		return err
	}
	listed := len(entries)
	mine := entries[:0:0]
	for _, e := range entries {
		if sh.Has(e.Rel) {
			mine = append(mine, e)
		}
	}

	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	lock, err := lockOutputs(filepath.Join(*out, sh.outputName("lock")))
	if err != nil {
		return err
	}
	defer lock.Close()
	b := &batch{meta: meta, modelSHA: first.SHA256(), threshold: name, value: op.Threshold.Value}
	for _, f := range []format{csvFormat, jsonlFormat} {
		o, err := openOutput(filepath.Join(*out, sh.outputName(f.ext)), f, b.modelSHA, name, *restart, stderr)
		if err != nil {
			return err
		}
		defer o.close()
		b.outputs = append(b.outputs, o)
	}

	n := min(*workers, max(len(mine), 1))
	screeners, err := loadScreeners(modelBytes, first, n)
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "batchscreen: %s %s (sha256 %s) at %s %g; %d of %d files (%s); %d %s engines (%s kernel) loaded in %.1f s; results in %s\n",
		meta.Name, meta.Version, short(b.modelSHA), name, b.value, len(mine), listed, sh, n, first.EngineName(), sgemm.Kernel(), time.Since(loadStart).Seconds(), *out)

	bar := progress.New(stderr, "screening", len(mine), "img")
	start := time.Now()
	t, runErr := b.run(ctx, mine, screeners, sk, bar)
	bar.Finish()
	elapsed := time.Since(start).Seconds()

	rate := 0.0
	if elapsed > 0 {
		rate = float64(t.written) / elapsed
	}
	fmt.Fprintf(stdout, "%s: %d rows written in %.1f s (%.2f images/s, %d workers): %d positive, %d negative, %d indeterminate, %d refused or unreadable; %d already written by an earlier run\n",
		sh, t.written, elapsed, rate, n, t.verdicts["positive"], t.verdicts["negative"], t.verdicts["indeterminate"], t.refused, t.resumed)
	var reasons []string
	for r := range sk {
		reasons = append(reasons, r)
	}
	sort.Strings(reasons)
	for _, r := range reasons {
		fmt.Fprintf(stdout, "skipped %d: %s\n", sk[r], r)
	}
	for _, o := range b.outputs {
		fmt.Fprintf(stdout, "results: %s\n", o.path)
	}
	if errors.Is(runErr, context.Canceled) {
		fmt.Fprintln(stderr, "batchscreen: stopped; the rows written are complete, and the same command goes on from them")
	}
	return runErr
}

// loadScreeners makes n screeners, first among them: one engine per worker, since a
// Screener runs its engine one image at a time. They load in parallel.
func loadScreeners(modelBytes []byte, first *screen.Screener, n int) ([]*screen.Screener, error) {
	s := make([]*screen.Screener, n)
	s[0] = first
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := 1; i < n; i++ {
		wg.Go(func() { s[i], errs[i] = screen.New(modelBytes, convnet.Engine) })
	}
	wg.Wait()
	return s, errors.Join(errs...)
}
