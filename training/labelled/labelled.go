// Package labelled screens the films of a labelled folder (NORMAL/ and PNEUMONIA/, listed by
// dataset.Labelled) through the project's screener, the path the page and the API take, and
// measures a site's calibration on them: "go run ./training evaluate" and "go run ./training
// calibrate" both screen here. Refused files (no film to read, not decodable, refused by the
// gate) are skipped and named, as the page and the API refuse them.
package labelled

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"time"

	"pneumoscan/atomicfile"
	"pneumoscan/dataset"
	"pneumoscan/filmcheck"
	"pneumoscan/imagedecode"
	"pneumoscan/internal/progress"
	"pneumoscan/metrics"
	"pneumoscan/model"
	"pneumoscan/screen"
)

// List lists the images directly in dir's two class folders (dataset.Labelled) in name
// order, at most limit per class when limit > 0; labels are 1 for PNEUMONIA. It fails when
// either class has no image.
func List(dir string, limit int) (files []string, labels []int, err error) {
	items, err := dataset.Labelled(dir)
	if err != nil {
		return nil, nil, err
	}
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

// Scores are the screened films' scores, in the order of the files screened, refused ones
// left out.
type Scores struct {
	Prob    []float64 // P(pneumonia) after the model's temperature (screen.Result.Prob)
	Raw     []float64 // the model's own output (screen.Result.RawProb)
	Labels  []int
	Skipped []string // "file: why" for each refused file
}

// Screen screens files (labelled labels) with s, drawing a progress bar with rate and ETA on
// progressTo. It stops with ctx's error when ctx is cancelled, and on any error that is not a
// refusal of the file.
func Screen(ctx context.Context, s *screen.Screener, files []string, labels []int, progressTo io.Writer) (Scores, error) {
	var out Scores
	bar := progress.New(progressTo, "screening", len(files), "img")
	defer bar.Finish()
	for i, f := range files {
		if err := ctx.Err(); err != nil {
			return Scores{}, err
		}
		data, err := os.ReadFile(f)
		if err != nil {
			return Scores{}, err
		}
		r, err := s.Screen(data)
		var bad *imagedecode.Error
		var noFilm *filmcheck.Error
		var refused *screen.Refusal // the gate of a contract-2 model
		if errors.As(err, &bad) || errors.As(err, &noFilm) || errors.As(err, &refused) {
			out.Skipped = append(out.Skipped, fmt.Sprintf("%s: %v", f, err))
			bar.Add(1)
			continue
		}
		if err != nil {
			return Scores{}, fmt.Errorf("%s: %w", f, err)
		}
		out.Prob = append(out.Prob, r.Prob)
		out.Raw = append(out.Raw, r.RawProb)
		out.Labels = append(out.Labels, labels[i])
		bar.Add(1)
	}
	return out, nil
}

// CheckFolder refuses a calibration folder without both class folders directly in it,
// saying what it wants.
func CheckFolder(dir string) error {
	for _, c := range dataset.ClassDirs {
		st, err := os.Stat(filepath.Join(dir, c))
		if err != nil || !st.IsDir() {
			return fmt.Errorf("%s has no %s/ folder: calibration wants a folder with %s/ and %s/ sub-folders holding the site's own labelled films",
				dir, c, dataset.ClassDirs[0], dataset.ClassDirs[1])
		}
	}
	return nil
}

// Calibration is what Calibrate measured and the profile it made.
type Calibration struct {
	Profile     model.SiteProfile
	Measures    metrics.SiteCalibration
	Scores      Scores
	ProfileJSON []byte // Profile.Encode(): what the page imports
}

// Calibrate screens the films of dir's NORMAL/ and PNEUMONIA/ folders with s and measures
// the model on them (metrics.Site): the site point is the largest threshold reaching the
// target sensitivity, labelled label, made at now. Its profile is the one the page makes in
// its calibration view from the same scores (the worker runs metrics.Site and
// SiteCalibration.Profile too).
func Calibrate(ctx context.Context, s *screen.Screener, dir, label string, target float64, now time.Time, progressTo io.Writer) (Calibration, error) {
	if err := model.CheckSiteLabel(label); err != nil {
		return Calibration{}, err
	}
	if !(target > 0 && target <= 1) {
		return Calibration{}, fmt.Errorf("target sensitivity %v not in (0, 1]", target)
	}
	if err := CheckFolder(dir); err != nil {
		return Calibration{}, err
	}
	files, labels, err := List(dir, 0)
	if err != nil {
		return Calibration{}, err
	}
	sc, err := Screen(ctx, s, files, labels, progressTo)
	if err != nil {
		return Calibration{}, err
	}
	c, err := metrics.Site(sc.Prob, sc.Labels, s.Metadata().Thresholds, target)
	if errors.Is(err, metrics.ErrOneClass) {
		return Calibration{}, fmt.Errorf("calibration needs screened films of both classes (%d of %d files were refused): %w", len(sc.Skipped), len(files), err)
	}
	if err != nil {
		return Calibration{}, err
	}
	p, err := c.Profile(s.Metadata(), s.SHA256(), label, now)
	if err != nil {
		return Calibration{}, err
	}
	text, err := p.Encode()
	if err != nil {
		return Calibration{}, err
	}
	return Calibration{Profile: p, Measures: c, Scores: sc, ProfileJSON: text}, nil
}

// Write writes the profile's JSON to path atomically.
func (c Calibration) Write(path string) error { return atomicfile.Write(path, c.ProfileJSON) }
