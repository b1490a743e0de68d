// Package parity compares two models (a float32 one and its int8 version) on a folder of
// labelled images: how far apart their probabilities are and the AUC of each.
package parity

import (
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"sync"
	"time"

	"pneumoscan/dataset"
	"pneumoscan/metrics"
)

// Scorer gives P(pneumonia) for an encoded image.
type Scorer func(image []byte) (float64, error)

// Image is one labelled image file.
type Image struct {
	Path     string
	Positive bool // under a PNEUMONIA folder
}

// Images lists the labelled images under dir (dataset.Labelled: files whose parent folder
// is NORMAL or PNEUMONIA, at any depth), in a stable order, at most limit of them (0: all).
// With a limit, the images are taken evenly across the sorted list, so both classes are
// present.
func Images(dir string, limit int) ([]Image, error) {
	items, err := dataset.Labelled(dir)
	if err != nil {
		return nil, err
	}
	all := make([]Image, len(items))
	for i, it := range items {
		all[i] = Image{Path: it.Path, Positive: it.Label == dataset.Pneumonia}
	}
	if limit <= 0 || limit >= len(all) {
		return all, nil
	}
	picked := make([]Image, limit)
	for i := range picked {
		picked[i] = all[i*len(all)/limit]
	}
	return picked, nil
}

// Report is the comparison's result.
type Report struct {
	N                  int
	Positives          int
	MaxAbsDiff         float64
	MeanAbsDiff        float64
	AUCFloat, AUCInt8  float64 // NaN when one class is missing
	FloatProbs, Int8Ps []float64
	Labels             [2]string // names of the two sides in Print; "fp32", "int8" when empty
}

// Pair is one worker's two models. Scorers need not be safe for concurrent use: each
// worker gets its own pair, since a model holds buffers it reuses between images.
type Pair struct{ FP32, Int8 Scorer }

// Compare scores every image with both models of each pair, one worker per pair, writing a
// progress line (count, rate, ETA) to progress as images finish. Results do not depend on
// the number of workers.
func Compare(images []Image, workers []Pair, progress io.Writer) (Report, error) {
	var r Report
	if len(images) == 0 {
		return r, errors.New("no images")
	}
	if len(workers) == 0 {
		return r, errors.New("no models to compare")
	}
	r.FloatProbs = make([]float64, len(images))
	r.Int8Ps = make([]float64, len(images))
	jobs := make(chan int)
	errs := make(chan error, len(images))
	done := make(chan struct{}, len(images))
	var wg sync.WaitGroup
	for _, w := range workers {
		wg.Add(1)
		go func(w Pair) {
			defer wg.Done()
			for i := range jobs {
				errs <- scoreBoth(images[i], w, &r.FloatProbs[i], &r.Int8Ps[i])
				done <- struct{}{}
			}
		}(w)
	}
	go func() {
		for i := range images {
			jobs <- i
		}
		close(jobs)
	}()
	start := time.Now()
	var firstErr error
	for n := 1; n <= len(images); n++ {
		<-done
		if err := <-errs; err != nil && firstErr == nil {
			firstErr = err
		}
		if progress != nil {
			rate := float64(n) / time.Since(start).Seconds()
			eta := time.Duration(float64(len(images)-n) / rate * float64(time.Second))
			fmt.Fprintf(progress, "\r%d/%d images, %.2f img/s, ETA %s   ", n, len(images), rate, eta.Round(time.Second))
		}
	}
	wg.Wait()
	if progress != nil {
		fmt.Fprintln(progress)
	}
	if firstErr != nil {
		return r, firstErr
	}
	labels := make([]int, len(images))
	for i, im := range images {
		if im.Positive {
			labels[i] = dataset.Pneumonia
			r.Positives++
		}
		d := math.Abs(r.FloatProbs[i] - r.Int8Ps[i])
		r.MaxAbsDiff = math.Max(r.MaxAbsDiff, d)
		r.MeanAbsDiff += d
	}
	r.N = len(images)
	r.MeanAbsDiff /= float64(r.N)
	r.AUCFloat = auc(r.FloatProbs, labels)
	r.AUCInt8 = auc(r.Int8Ps, labels)
	return r, nil
}

func scoreBoth(im Image, w Pair, pf, pq *float64) error {
	data, err := os.ReadFile(im.Path)
	if err != nil {
		return err
	}
	if *pf, err = w.FP32(data); err != nil {
		return fmt.Errorf("%s: float32 model: %w", im.Path, err)
	}
	if *pq, err = w.Int8(data); err != nil {
		return fmt.Errorf("%s: int8 model: %w", im.Path, err)
	}
	return nil
}

// auc is metrics.AUC, NaN where that has no answer (one class missing).
func auc(scores []float64, labels []int) float64 {
	a, err := metrics.AUC(scores, labels)
	if err != nil {
		return math.NaN()
	}
	return a
}

// Print writes the report in a few lines.
func (r Report) Print(w io.Writer) {
	fmt.Fprintf(w, "n            %d (%d PNEUMONIA, %d NORMAL)\n", r.N, r.Positives, r.N-r.Positives)
	fmt.Fprintf(w, "max |dP|     %.3g\nmean |dP|    %.3g\n", r.MaxAbsDiff, r.MeanAbsDiff)
	la, lb := r.Labels[0], r.Labels[1]
	if la == "" || lb == "" {
		la, lb = "fp32", "int8"
	}
	fmt.Fprintf(w, "%-12s %.4f\n%-12s %.4f\nAUC change   %+.4f\n", "AUC "+la, r.AUCFloat, "AUC "+lb, r.AUCInt8, r.AUCInt8-r.AUCFloat)
}
