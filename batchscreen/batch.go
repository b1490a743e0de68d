package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"pneumoscan/filmcheck"
	"pneumoscan/imagedecode"
	"pneumoscan/model"
	"pneumoscan/screen"
)

// The gate column (the gate: "is this a frontal chest X-ray?", on the same forward pass, in
// contract-2 model files): what the gate said about the file.
const (
	noGate     = "no gate in this model" // a contract-1 model: nothing told a chest film from anything else
	gatePassed = "frontal chest X-ray"   // screened; the words the page's card shows
	popInside  = "inside"
	popOutside = "outside"
)

// gateColumns are the gate, correction and population columns of a screened film.
func gateColumns(res screen.Result) (gate, correction, population string) {
	if !res.Gate.Available {
		return noGate, "", ""
	}
	population = popInside
	if res.Population != nil && !res.Population.Inside {
		population = popOutside
	}
	return gatePassed, res.Correction, population
}

// batch is one run's fixed settings.
type batch struct {
	meta      model.Metadata
	modelSHA  string
	threshold string  // the operating point's name, resolved (never "")
	value     float64 // and its value
	outputs   []*output
}

// outcome is what a worker made of one entry.
type outcome struct {
	i    int
	row  row
	need []*output // the outputs still lacking this row; none: done by an earlier run
	skip string    // set when the file is left out (skipNotImage)
	err  error     // a failure that is not the file's fault: the batch stops
}

// tally counts what a run did, for the summary.
type tally struct {
	written, resumed, refused int
	verdicts                  map[model.Verdict]int
}

// run screens entries with one screener per worker and appends each row to every output
// that lacks it, in the order of entries: rows are written as the files come, in order, so
// an uninterrupted run and a killed-and-restarted one leave the same files. A worker runs
// ahead of the writer by at most a window of entries, which bounds the results held in
// memory when one file is slow.
func (b *batch) run(ctx context.Context, entries []entry, screeners []*screen.Screener, sk skips, bar progressBar) (tally, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	window := 4 * len(screeners)
	tokens := make(chan struct{}, window)
	jobs := make(chan int)
	results := make(chan outcome)

	go func() {
		defer close(jobs)
		for i := range entries {
			select {
			case tokens <- struct{}{}:
			case <-ctx.Done():
				return
			}
			select {
			case jobs <- i:
			case <-ctx.Done():
				return
			}
		}
	}()
	var wg sync.WaitGroup
	for _, s := range screeners {
		wg.Go(func() {
			for i := range jobs {
				o := outcome{i: i}
				if err := ctx.Err(); err != nil {
					o.err = err
				} else {
					o = b.screenOne(i, entries[i], s)
				}
				results <- o
			}
		})
	}
	go func() {
		wg.Wait()
		close(results)
	}()

	t := tally{verdicts: map[model.Verdict]int{}}
	var firstErr error
	pending := map[int]outcome{}
	next := 0
	for o := range results {
		pending[o.i] = o
		for {
			o, ok := pending[next]
			if !ok {
				break
			}
			delete(pending, next)
			next++
			<-tokens
			if firstErr != nil {
				continue // after a failure nothing more is written: the rows stay in order
			}
			if err := b.record(o, &t, sk, bar); err != nil {
				firstErr = err
				cancel()
			}
		}
	}
	if firstErr == nil {
		firstErr = ctx.Err() // cancelled from outside: some entries were never dispatched
	}
	return t, firstErr
}

// record writes one outcome and counts it.
func (b *batch) record(o outcome, t *tally, sk skips, bar progressBar) error {
	switch {
	case o.err != nil:
		return o.err
	case o.skip != "":
		sk[o.skip]++
		bar.Skip(1)
		return nil
	case len(o.need) == 0:
		t.resumed++
		bar.Skip(1)
		return nil
	}
	for _, out := range o.need {
		if err := out.append(o.row); err != nil {
			return err
		}
	}
	t.written++
	if o.row.Error != "" {
		t.refused++
	} else {
		t.verdicts[model.Verdict(o.row.Verdict)]++
	}
	bar.Add(1)
	return nil
}

// screenOne reads, hashes and (unless every output has its row) screens one entry.
func (b *batch) screenOne(i int, e entry, s *screen.Screener) outcome {
	o := outcome{i: i}
	r := row{File: e.Rel, Threshold: b.threshold, ThresholdValue: b.value, ModelSHA256: b.modelSHA}
	if e.Err != "" {
		r.Error = oneLine(e.Err)
		o.row, o.need = r, b.lacking(r)
		return o
	}
	data, err := os.ReadFile(e.Path)
	if err != nil {
		r.Error = oneLine("the file could not be read: " + pathErrText(err))
		o.row, o.need = r, b.lacking(r)
		return o
	}
	sum := sha256.Sum256(data)
	r.SHA256 = hex.EncodeToString(sum[:])
	o.need = b.lacking(r)
	if len(o.need) == 0 {
		return o // an earlier run wrote it everywhere
	}
	res, err := s.Screen(data)
	var bad *imagedecode.Error
	var noFilm *filmcheck.Error
	var refused *screen.Refusal
	switch {
	case errors.As(err, &bad):
		if !e.Listed && notImage(bad, e.Path) {
			o.need, o.skip = nil, skipNotImage
			return o
		}
		r.Error = oneLine(bad.UserMessage())
	case errors.As(err, &noFilm):
		r.Error = oneLine(noFilm.UserMessage())
	case errors.As(err, &refused):
		// The gate's refusal: its code in the gate column, its message as the error.
		r.Error, r.Gate = oneLine(refused.UserMessage()), refused.Code
	case err != nil:
		// Not the file's fault (the engine, the model): stop rather than write a row a
		// restart would then skip.
		o.err = fmt.Errorf("screening the file of row %d: %w", i+1, err)
		return o
	default:
		d, err := b.meta.Decide(res.RawProb, b.threshold)
		if err != nil {
			o.err = err
			return o
		}
		p := d.Prob
		r.Probability, r.Verdict, r.ThresholdValue = &p, string(d.Verdict), d.Threshold.Value
		r.Gate, r.Correction, r.Population = gateColumns(res)
	}
	o.row = r
	return o
}

// lacking lists the outputs that do not yet hold r's key.
func (b *batch) lacking(r row) []*output {
	k := r.key()
	var need []*output
	for _, o := range b.outputs {
		if !o.done[k] {
			need = append(need, o)
		}
	}
	return need
}

// notImage reports whether a file met in a folder is simply not an image (a report, a
// spreadsheet): no registered format's signature and no image extension. A file named like
// an image that does not decode gets a row saying so instead.
func notImage(err *imagedecode.Error, path string) bool {
	if err.Kind != imagedecode.UnknownFormat && err.Kind != imagedecode.Empty {
		return false
	}
	return !slices.Contains(imagedecode.Extensions(), strings.ToLower(filepath.Ext(path)))
}

// progressBar is what run needs of the progress bar (internal/progress.Bar).
type progressBar interface {
	Add(n int)
	Skip(n int)
}
