package gate

import (
	"context"
	"errors"
	"fmt"
	"image"
	"io"
	"os"

	"pneumoscan/filmcheck"
	"pneumoscan/imagedecode"

	"pneumoscan/dataset"
	"pneumoscan/model"
)

// Config says what to gather and fit on.
type Config struct {
	Data      string // the Kermany data set root (train/, test/)
	Negatives string // not_cxr
	Adult     string // adult_cxr; "" for none
	// TrainImages is how many train-split films (a seeded sample) are the gate's positives and
	// the population; OrientImages of those are also turned and inverted (4 copies each) for
	// the orientation head; EvalRotations validation and test films are turned and inverted
	// to measure it. 0: all.
	TrainImages, OrientImages, EvalRotations int
	Synthetic                                int     // about how many synthetic negatives to make
	PerSource                                int     // at most this many images of each not_cxr source (seeded sample); 0: all
	ValImages                                int     // validation films (seeded sample) thresholds are chosen on; 0: all
	AdultImages                              int     // adult_cxr films (seeded sample) measured; 0: all
	HoldOut                                  float64 // share of each not_cxr category held out, by whole sources
	ValFraction                              float64 // the patient-grouped validation split (dataset.MakeSplit)
	Seed                                     uint64
	Components                               int // K, principal directions of the distance
	L2                                       float64
	Progress                                 io.Writer
}

// Sets are the features everything is fitted and measured on.
type Sets struct {
	TrainUp, TrainOrient *Features // fit: upright films, their turned and inverted copies
	Val, ValOrient       *Features // choose thresholds
	Test, TestOrient     *Features // measure once
	Adult                *Features // measure the population warning; nil without Adult
	// Negatives are the not_cxr images that reach the model (the product's checks before
	// it, imagedecode's colour check and filmcheck, pass them), fit and held-out sources;
	// Before are those the checks refuse, never run through the model.
	Negatives *Features
	Held      []bool   // per Negatives item: in a held-out source
	Category  []string // per Negatives item: its not_cxr category
	Before    []Refused
	// Synthetic are the synthetic negatives that reach the model, SyntheticBefore those the
	// checks refuse.
	Synthetic              *Features
	SyntheticHeld          []bool
	SyntheticBefore        []Refused
	TrainImages, ValImages int // the sizes of the train and validation splits sampled from
}

// Gather lists the images and extracts (or reads back) their features.
func Gather(ctx context.Context, cfg Config, ex *Extractor) (*Sets, error) {
	sc, err := dataset.Scan(cfg.Data, dataset.Options{})
	if err != nil {
		return nil, err
	}
	split, err := dataset.MakeSplit(sc.Train, cfg.Seed, cfg.ValFraction)
	if err != nil {
		return nil, err
	}
	trainItems, valItems, err := split.Apply(sc.Train)
	if err != nil {
		return nil, err
	}
	if len(trainItems) == 0 || len(valItems) == 0 || len(sc.Test) == 0 {
		return nil, fmt.Errorf("gate: %s gives %d train, %d validation and %d test films; want some of each", cfg.Data, len(trainItems), len(valItems), len(sc.Test))
	}
	negs, err := ReadNegatives(cfg.Negatives, cfg.HoldOut, cfg.Seed)
	if err != nil {
		return nil, err
	}
	s := &Sets{TrainImages: len(trainItems), ValImages: len(valItems)}
	up := Sample(ChestItems(trainItems, "chest_xray", model.Upright), cfg.TrainImages, cfg.Seed)
	orient := Variants(Sample(up, cfg.OrientImages, cfg.Seed+1))
	films := make([]string, len(trainItems))
	for i, it := range trainItems {
		films[i] = it.Path
	}
	synth := Synthetics(cfg.Synthetic, films, cfg.Seed)
	negs = perSource(negs, cfg.PerSource, cfg.Seed)
	var negItems []Item
	for _, n := range negs {
		if why := CheckBefore(n.Item); why != "" {
			s.Before = append(s.Before, Refused{Category: n.Category, Source: n.Source, Held: n.Held, Reason: why})
			continue
		}
		negItems = append(negItems, n.Item)
		s.Held = append(s.Held, n.Held)
		s.Category = append(s.Category, n.Category)
	}
	// Synthetic negatives: every third of each kind held out.
	count := map[string]int{}
	var synthItems []Item
	for _, it := range synth {
		held := count[it.Source]%3 == 2
		count[it.Source]++
		if why := CheckBefore(it); why != "" {
			s.SyntheticBefore = append(s.SyntheticBefore, Refused{Category: it.Source, Source: it.Source, Held: held, Reason: why})
			continue
		}
		synthItems = append(synthItems, it)
		s.SyntheticHeld = append(s.SyntheticHeld, held)
	}
	synth = synthItems
	val := Sample(ChestItems(valItems, "chest_xray", model.Upright), cfg.ValImages, cfg.Seed+4)
	test := ChestItems(sc.Test, "chest_xray", model.Upright)
	jobs := []struct {
		name  string
		items []Item
		dst   **Features
	}{
		{"train-upright", up, &s.TrainUp},
		{"negatives", negItems, &s.Negatives},
		{"synthetic", synth, &s.Synthetic},
		{"train-orient", orient, &s.TrainOrient},
		{"val", val, &s.Val},
		{"val-orient", Variants(Sample(val, cfg.EvalRotations, cfg.Seed+2)), &s.ValOrient},
	}
	if cfg.Adult != "" {
		adult, err := AdultItems(cfg.Adult)
		if err != nil {
			return nil, err
		}
		adult = Sample(adult, cfg.AdultImages, cfg.Seed+5)
		jobs = append(jobs, struct {
			name  string
			items []Item
			dst   **Features
		}{"adult", adult, &s.Adult})
	}
	jobs = append(jobs, []struct {
		name  string
		items []Item
		dst   **Features
	}{
		{"test-orient", Variants(Sample(test, cfg.EvalRotations, cfg.Seed+3)), &s.TestOrient},
		{"test", test, &s.Test},
	}...)
	for _, j := range jobs {
		f, err := ex.Extract(ctx, j.name, j.items)
		if err != nil {
			return nil, fmt.Errorf("gate: %s: %w", j.name, err)
		}
		*j.dst = f
	}
	return s, nil
}

// Refused is a negative the product's checks before the model refuse.
type Refused struct {
	Category, Source string
	Held             bool
	Reason           string // "colour picture" or the filmcheck kind
}

// CheckBefore is what the product's checks before the model say about the item: "" when it
// reaches the model, else why not (imagedecode's refusal, filmcheck's kind).
func CheckBefore(it Item) string {
	var img image.Image
	if it.Synth != nil {
		var err error
		if img, err = it.Synth.Make(); err != nil {
			return err.Error()
		}
	} else {
		b, err := os.ReadFile(it.Path)
		if err != nil {
			return err.Error()
		}
		if img, err = imagedecode.Decode(b); err != nil {
			var de *imagedecode.Error
			if errors.As(err, &de) && de.Kind == imagedecode.NotXray {
				return "colour picture"
			}
			return "does not decode"
		}
	}
	var fe *filmcheck.Error
	if err := filmcheck.Check(img); errors.As(err, &fe) {
		return fe.Kind.String()
	}
	return ""
}

// perSource keeps at most n images of each source, a seeded sample, in list order.
func perSource(negs []Negative, n int, seed uint64) []Negative {
	if n <= 0 {
		return negs
	}
	bySource := map[string][]int{}
	for i, ng := range negs {
		bySource[ng.Source] = append(bySource[ng.Source], i)
	}
	keep := make([]bool, len(negs))
	for _, idx := range bySource {
		for _, i := range Sample(idx, n, seed) {
			keep[i] = true
		}
	}
	var out []Negative
	for i, ng := range negs {
		if keep[i] {
			out = append(out, ng)
		}
	}
	return out
}
