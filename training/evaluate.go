package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"

	"pneumoscan/convnet"
	"pneumoscan/dataset"
	"pneumoscan/filmcheck"
	"pneumoscan/imagedecode"
	"pneumoscan/internal/cli"
	"pneumoscan/internal/progress"
	"pneumoscan/screen"
	"pneumoscan/training/evalreport"
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
		fmt.Fprintln(stderr, "evaluate needs --model and --data")
		fs.Usage()
		return cli.ErrUsage
	}
	b, err := os.ReadFile(*modelPath)
	if err != nil {
		return err
	}
	s, err := screen.New(b, convnet.Engine)
	if err != nil {
		return fmt.Errorf("%s: %w", *modelPath, err)
	}
	dir, err := classRoot(*data)
	if err != nil {
		return err
	}
	files, labels, err := listImages(dir, *limit)
	if err != nil {
		return err
	}
	var scores []float64
	var kept []int
	var skipped []string
	bar := progress.New(stderr, "screening", len(files), "img")
	for i, f := range files {
		if err := ctx.Err(); err != nil {
			bar.Finish()
			return err
		}
		data, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		r, err := s.Screen(data)
		// Refused images (a file that does not decode, an image with no film to read, one the
		// gate refuses) are skipped and listed, as the page and the API refuse them; any
		// other error stops.
		var bad *imagedecode.Error
		var noFilm *filmcheck.Error
		var refused *screen.Refusal // the gate of a contract-2 model
		if errors.As(err, &bad) || errors.As(err, &noFilm) || errors.As(err, &refused) {
			skipped = append(skipped, fmt.Sprintf("%s: %v", f, err))
			bar.Add(1)
			continue
		}
		if err != nil {
			return fmt.Errorf("%s: %w", f, err)
		}
		scores = append(scores, r.RawProb)
		kept = append(kept, labels[i])
		bar.Add(1)
	}
	bar.Finish()
	for _, s := range skipped {
		fmt.Fprintln(stderr, "skipped", s)
	}
	md := s.Metadata()
	rep, err := evalreport.Write(*out, evalreport.Run{
		Name: fmt.Sprintf("%s %s on %s", md.Name, md.Version, dir), Scores: scores, Labels: kept,
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

// listImages lists the images of dir's two class folders (dataset.Labelled) in name order,
// at most limit per class when limit > 0.
func listImages(dir string, limit int) ([]string, []int, error) {
	items, err := dataset.Labelled(dir)
	if err != nil {
		return nil, nil, err
	}
	var files []string
	var labels []int
	var n [2]int
	for _, it := range items {
		if path.Dir(it.Rel) != dataset.ClassDirs[it.Label] || limit > 0 && n[it.Label] >= limit {
			continue // deeper class folders are not dir's own
		}
		files = append(files, it.Path)
		labels = append(labels, it.Label)
		n[it.Label]++
	}
	for label, c := range n {
		if c == 0 {
			return nil, nil, fmt.Errorf("%s has no images", filepath.Join(dir, dataset.ClassDirs[label]))
		}
	}
	return files, labels, nil
}
