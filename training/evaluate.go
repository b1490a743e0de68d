package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"pneumoscan/convnet"
	"pneumoscan/dataset"
	"pneumoscan/internal/cli"
	"pneumoscan/screen"
	"pneumoscan/training/evalreport"
	"pneumoscan/training/labelled"
)

func runEvaluate(ctx context.Context, fs *flag.FlagSet, args []string, stdout, stderr io.Writer) error {
	modelPath := fs.String("model", "", "model file to evaluate (required)")
	data := fs.String("data", "", "folder with NORMAL/ and PNEUMONIA/ sub-folders, or a data set root whose test/ has them (required)")
	out := fs.String("out", "runs/eval", "folder for metrics.json, metrics.md and the plots")
	limit := fs.Int("limit", 0, "screen at most this many images per class (0: all)")
	seed := fs.Uint64("seed", 1, "seed of the bootstrap interval")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if *modelPath == "" || *data == "" {
		return cli.Misuse(fs, "evaluate needs --model and --data")
	}
	s, err := openScreener(*modelPath)
	if err != nil {
		return err
	}
	dir, err := classRoot(*data)
	if err != nil {
		return err
	}
	files, labels, err := labelled.List(dir, *limit)
	if err != nil {
		return err
	}
	sc, err := labelled.Screen(ctx, s, files, labels, stderr)
	if err != nil {
		return err
	}
	skipped := sc.Skipped
	for _, s := range skipped {
		fmt.Fprintln(stderr, "skipped", s)
	}
	md := s.Metadata()
	rep, err := evalreport.Write(*out, evalreport.Run{
		Name: fmt.Sprintf("%s %s on %s", md.Name, md.Version, dir), Scores: sc.Raw, Labels: sc.Labels,
		Temperature: md.Temperature, Thresholds: md.Thresholds, Seed: *seed,
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%d images (%d skipped): ROC-AUC %.4f [%.4f, %.4f]\n", rep.N, len(skipped), rep.AUC, rep.AUCCI.Lo, rep.AUCCI.Hi)
	for _, op := range rep.Operating {
		fmt.Fprintf(stdout, "  %-10s threshold %.4f: sensitivity %.3f specificity %.3f accuracy %.3f\n", op.Name, op.Value, op.Recall, op.Specificity, op.Accuracy)
	}
	fmt.Fprintf(stdout, "report in %s\n", *out)
	return nil
}

// classRoot returns dir when it holds the class folders, else dir/test.
func classRoot(dir string) (string, error) {
	for _, d := range []string{dir, filepath.Join(dir, dataset.Test)} {
		if isDir(filepath.Join(d, dataset.ClassDirs[0])) && isDir(filepath.Join(d, dataset.ClassDirs[1])) {
			return d, nil
		}
	}
	return "", fmt.Errorf("%s has neither %s/ and %s/ folders nor a %s/ folder with them", dir, dataset.ClassDirs[0], dataset.ClassDirs[1], dataset.Test)
}

func isDir(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}

// openScreener reads a model file and makes the native screener of it (the path the page's
// worker runs, on the project's engine), for the commands that screen labelled folders.
func openScreener(path string) (*screen.Screener, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	s, err := screen.New(b, convnet.Engine)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}
