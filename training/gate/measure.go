package gate

import (
	"fmt"
	"sort"

	"pneumoscan/metrics"
	"pneumoscan/model"
	"pneumoscan/resnet"
)

// Refetch gives the pooled features of an item after the screener corrected it from
// orientation o: what the screener would run the model on. The measurement calls it only for
// corrections it has no cached features for.
type Refetch func(it Item, o model.Orientation) ([]float32, error)

// Report is how the gate did, per set. Rates are shares of Images.
type Report struct {
	Model       string                 `json:"model_sha256"`
	Spec        model.GateSpec         `json:"spec"`
	Counts      map[string]int         `json:"counts"`
	Negatives   []Row                  `json:"negatives"`   // per not_cxr category, held-out sources
	FitSources  []Row                  `json:"fit_sources"` // per category, the sources fitted on (in-sample)
	Synthetic   []Row                  `json:"synthetic"`   // per synthetic kind, held-out third
	Films       map[string]FilmRow     `json:"films"`       // "validation", "test", "adult_cxr"
	Orientation map[string][]OrientRow `json:"orientation"` // "validation", "test": per orientation
	Distances   map[string][]float64   `json:"-"`           // for the histogram
}

// Row is the refusals of one kind of negative.
type Row struct {
	Name        string   `json:"name"`
	Sources     []string `json:"sources,omitempty"`
	Images      int      `json:"images"`
	BeforeModel int      `json:"refused_before_model"` // colour picture or filmcheck
	Gate        int      `json:"refused_by_gate"`      // not a frontal chest X-ray
	Orientation int      `json:"refused_orientation"`  // unsure orientation
	Refused     float64  `json:"refused_rate"`
}

// FilmRow is how chest films fared.
type FilmRow struct {
	Images           int     `json:"images"`
	RefusedNotChest  int     `json:"refused_not_chest"`
	RefusedOrient    int     `json:"refused_orientation"`
	FalseCorrections int     `json:"false_corrections"`
	Flagged          int     `json:"outside_population"`
	Kept             float64 `json:"kept_rate"`
	FlaggedRate      float64 `json:"outside_population_rate"`
	AUC              float64 `json:"auc,omitempty"`      // of P(pneumonia), every film
	AUCKept          float64 `json:"auc_kept,omitempty"` // of the films the gate kept, scored as screened
}

// OrientRow is how turned or inverted copies of films fared.
type OrientRow struct {
	Orientation string  `json:"orientation"`
	Images      int     `json:"images"`
	Corrected   int     `json:"corrected"` // found and corrected to upright
	Refused     int     `json:"refused"`   // refused (unsure, or as not a chest film)
	Wrong       int     `json:"wrong"`     // corrected the wrong way
	Missed      int     `json:"missed"`    // screened as they were
	Caught      float64 `json:"caught_rate"`
}

// Measure runs every set through model.Gate.Judge, the screener's decision path.
func Measure(f *Fitted, s *Sets, head *resnet.Head, refetch Refetch) (*Report, error) {
	g := f.Gate
	r := &Report{Spec: f.Spec, Films: map[string]FilmRow{}, Orientation: map[string][]OrientRow{}, Distances: map[string][]float64{},
		Counts: map[string]int{"train_films_fitted": countRead(s.TrainUp), "train_split": s.TrainImages, "validation_split": s.ValImages,
			"orientation_copies_fitted": countRead(s.TrainOrient), "negatives_reaching_model": countRead(s.Negatives),
			"negatives_refused_before_model": len(s.Before), "synthetic_reaching_model": countRead(s.Synthetic),
			"synthetic_refused_before_model": len(s.SyntheticBefore)}}
	judge := func(feats *Features, i int, cached func(model.Orientation) []float32) (model.Outcome, bool, error) {
		wrong := false
		out, err := g.Judge(feats.Row(i), func(o model.Orientation) ([]float32, error) {
			if c := cached(o); c != nil {
				return c, nil
			}
			wrong = true
			return refetch(feats.Items[i], o)
		})
		return out, wrong, err
	}
	none := func(model.Orientation) []float32 { return nil }
	// Negatives: held-out and fitted sources, per category.
	for _, held := range []bool{true, false} {
		rowsBy := map[string]*Row{}
		row := func(cat, src string) *Row {
			if rowsBy[cat] == nil {
				rowsBy[cat] = &Row{Name: cat}
			}
			rr := rowsBy[cat]
			if !contains(rr.Sources, src) {
				rr.Sources = append(rr.Sources, src)
			}
			rr.Images++
			return rr
		}
		for _, b := range s.Before {
			if b.Held == held {
				row(b.Category, b.Source).BeforeModel++
			}
		}
		for i, it := range s.Negatives.Items {
			if s.Held[i] != held || s.Negatives.Skipped[i] != "" {
				continue
			}
			out, _, err := judge(s.Negatives, i, none)
			if err != nil {
				return nil, err
			}
			rr := row(s.Category[i], it.Source)
			tally(rr, out)
			if held {
				r.Distances["not_cxr held out"] = append(r.Distances["not_cxr held out"], out.Gate.Distance)
			}
		}
		list := finish(rowsBy)
		if held {
			r.Negatives = list
		} else {
			r.FitSources = list
		}
	}
	synth := map[string]*Row{}
	srow := func(kind string) *Row {
		if synth[kind] == nil {
			synth[kind] = &Row{Name: kind}
		}
		synth[kind].Images++
		return synth[kind]
	}
	for _, b := range s.SyntheticBefore {
		if b.Held {
			srow(b.Source).BeforeModel++
		}
	}
	for i, it := range s.Synthetic.Items {
		if !s.SyntheticHeld[i] || s.Synthetic.Skipped[i] != "" {
			continue
		}
		out, _, err := judge(s.Synthetic, i, none)
		if err != nil {
			return nil, err
		}
		tally(srow(it.Source), out)
	}
	r.Synthetic = finish(synth)
	// Chest films as supplied.
	for _, set := range []struct {
		name  string
		feats *Features
	}{{"validation", s.Val}, {"test", s.Test}, {"adult_cxr", s.Adult}} {
		if set.feats == nil {
			continue
		}
		var fr FilmRow
		var all, kept []float64
		var allL, keptL []int
		for i, it := range set.feats.Items {
			if set.feats.Skipped[i] != "" {
				continue
			}
			fr.Images++
			f := set.feats.Row(i)
			logit, err := head.Logit(f)
			if err != nil {
				return nil, err
			}
			all, allL = append(all, logit), append(allL, it.Label)
			out, wrong, err := judge(set.feats, i, none)
			if err != nil {
				return nil, err
			}
			if out.Corrected() != model.Upright || wrong {
				fr.FalseCorrections++
			}
			switch out.Refused {
			case model.RefusedNotChest:
				fr.RefusedNotChest++
				continue
			case model.RefusedOrientation:
				fr.RefusedOrient++
				continue
			}
			if !out.Inside {
				fr.Flagged++
			}
			r.Distances[set.name] = append(r.Distances[set.name], out.Gate.Distance)
			if out.Corrected() == model.Upright {
				kept, keptL = append(kept, logit), append(keptL, it.Label)
			}
		}
		if fr.Images == 0 {
			return nil, fmt.Errorf("gate: no %s film was read", set.name)
		}
		fr.Kept = float64(fr.Images-fr.RefusedNotChest-fr.RefusedOrient) / float64(fr.Images)
		fr.FlaggedRate = float64(fr.Flagged) / float64(fr.Images)
		if set.name != "adult_cxr" { // unlabelled
			fr.AUC, _ = metrics.AUC(all, allL)
			fr.AUCKept, _ = metrics.AUC(kept, keptL)
		}
		r.Films[set.name] = fr
	}
	// Turned and inverted copies: the correction of the true orientation gives back the
	// upright film, whose features are cached.
	for _, set := range []struct {
		name      string
		up, turns *Features
	}{{"validation", s.Val, s.ValOrient}, {"test", s.Test, s.TestOrient}} {
		byID := map[string]int{}
		for i, it := range set.up.Items {
			if set.up.Skipped[i] == "" {
				byID[it.ID] = i
			}
		}
		rowsO := make([]OrientRow, model.Orientations)
		for i, it := range set.turns.Items {
			j, ok := byID[it.ID]
			if set.turns.Skipped[i] != "" || !ok {
				continue
			}
			out, wrong, err := judge(set.turns, i, func(o model.Orientation) []float32 {
				if o == it.Orient {
					return set.up.Row(j)
				}
				return nil
			})
			if err != nil {
				return nil, err
			}
			or := &rowsO[it.Orient]
			or.Images++
			switch {
			case out.Refused != "":
				or.Refused++
			case wrong:
				or.Wrong++
			case out.Corrected() == it.Orient:
				or.Corrected++
			default:
				or.Missed++
			}
		}
		var list []OrientRow
		for o := model.Rotated90; o < model.Orientations; o++ {
			or := rowsO[o]
			or.Orientation = o.String()
			if or.Images > 0 {
				or.Caught = float64(or.Corrected+or.Refused) / float64(or.Images)
			}
			list = append(list, or)
		}
		r.Orientation[set.name] = list
	}
	return r, nil
}

func tally(rr *Row, out model.Outcome) {
	switch out.Refused {
	case model.RefusedNotChest:
		rr.Gate++
	case model.RefusedOrientation:
		rr.Orientation++
	}
}

func finish(m map[string]*Row) []Row {
	var out []Row
	for _, rr := range m {
		sort.Strings(rr.Sources)
		rr.Refused = float64(rr.BeforeModel+rr.Gate+rr.Orientation) / float64(rr.Images)
		out = append(out, *rr)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func contains(xs []string, x string) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

func countRead(f *Features) int {
	if f == nil {
		return 0
	}
	n := 0
	for _, s := range f.Skipped {
		if s == "" {
			n++
		}
	}
	return n
}
