package filmcheck

import (
	"encoding/csv"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"pneumoscan/imagedecode"
	"pneumoscan/internal/chestxray"
)

// measured is one data set's statistics, kept to report their spread.
type measured struct {
	std, spread, levels, aspect []float64
}

func (m *measured) add(s Stats) {
	m.std = append(m.std, s.Std)
	m.spread = append(m.spread, s.Spread)
	m.levels = append(m.levels, float64(s.Levels))
	m.aspect = append(m.aspect, s.Aspect)
}

// summary is "min / 0.1% / 1% / median / max" of v.
func summary(v []float64) string {
	v = slices.Clone(v)
	sort.Float64s(v)
	at := func(q float64) float64 { return v[int(q*float64(len(v)-1))] }
	return fmt.Sprintf("min %.4f  p0.1 %.4f  p1 %.4f  median %.4f  max %.4f", v[0], at(0.001), at(0.01), at(0.5), v[len(v)-1])
}

func (m *measured) log(t *testing.T, name string) {
	t.Helper()
	t.Logf("%s: %d images", name, len(m.std))
	t.Logf("  std      %s   (MinStd %.3f)", summary(m.std), MinStd)
	t.Logf("  spread   %s   (MinSpread %.3f)", summary(m.spread), MinSpread)
	t.Logf("  levels   %s   (MinLevels %d)", summary(m.levels), MinLevels)
	t.Logf("  aspect   %s   (MaxAspect %.2f)", summary(m.aspect), MaxAspect)
}

// images lists the image files under dir, at any depth.
func images(t *testing.T, dir string) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		switch strings.ToLower(filepath.Ext(p)) {
		case ".jpeg", ".jpg", ".png":
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatalf("no images under %s", dir)
	}
	sort.Strings(files)
	return files
}

// TestFilmsPass: every frontal chest film at hand, the training population's (Kermany train
// and test) and adult films from another hospital (adult_cxr), decodes and passes every
// check. It measures the statistics the thresholds were chosen from (go test -v shows them).
func TestFilmsPass(t *testing.T) {
	root := chestxray.Dir(t)
	adult := chestxray.DirBeside(t, chestxray.Adult)
	for _, set := range []struct{ name, dir string }{
		{"chest_xray/train", filepath.Join(root, "train")},
		{"chest_xray/test", filepath.Join(root, "test")},
		{"adult_cxr", adult},
	} {
		var m measured
		refused := 0
		for _, f := range images(t, set.dir) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			img, err := imagedecode.Decode(data)
			if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			s := Measure(img)
			m.add(s)
			if err := s.Check(); err != nil {
				refused++
				if refused <= 10 {
					t.Errorf("%s: refused: %v (%+v)", f, err, s)
				}
			}
		}
		m.log(t, set.name)
		if refused > 0 {
			t.Errorf("%s: %d of %d films refused", set.name, refused, len(m.std))
		}
	}
}

// TestMeasureNotCXR reports, per category of not_cxr (images that are not frontal chest
// films), how many each check refuses and how many imagedecode refused before it (colour
// pictures, images under 64x64). It asserts nothing beyond every file decoding or being refused with a message:
// these checks are not the gate that refuses other body parts and photos, they only take out
// what holds no film at all. go test -v -run MeasureNotCXR shows the table.
func TestMeasureNotCXR(t *testing.T) {
	dir := chestxray.DirBeside(t, chestxray.NotCXR)
	f, err := os.Open(filepath.Join(dir, "MANIFEST.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	type tally struct {
		n, colour, decode, passed int
		kinds                     map[Kind]int
		m                         measured
	}
	cats := map[string]*tally{}
	var order []string
	for _, r := range rows[1:] {
		path, cat := r[0], r[1]
		c := cats[cat]
		if c == nil {
			c = &tally{kinds: map[Kind]int{}}
			cats[cat] = c
			order = append(order, cat)
		}
		c.n++
		data, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(path)))
		if err != nil {
			t.Fatal(err)
		}
		img, err := imagedecode.Decode(data)
		var de *imagedecode.Error
		if errors.As(err, &de) && de.Kind == imagedecode.NotXray {
			c.colour++
			continue
		}
		if errors.As(err, &de) {
			c.decode++ // too small, say: refused before any check here
			t.Logf("  %s refused by imagedecode: %s", path, de.Message)
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		s := Measure(img)
		c.m.add(s)
		var fe *Error
		if err := s.Check(); errors.As(err, &fe) {
			c.kinds[fe.Kind]++
			t.Logf("  %s refused (%s): %s", path, fe.Kind, fe.Message)
		} else {
			c.passed++
		}
	}
	sort.Strings(order)
	for _, cat := range order {
		c := cats[cat]
		t.Logf("%-22s n=%4d  colour (imagedecode) %3d  other imagedecode refusals %d  blank %3d  low_contrast %3d  few_gray_levels %3d  extreme_aspect %3d  passed %4d",
			cat, c.n, c.colour, c.decode, c.kinds[Blank], c.kinds[LowContrast], c.kinds[FewGrayLevels], c.kinds[ExtremeAspect], c.passed)
		if len(c.m.std) > 0 {
			c.m.log(t, "  "+cat+" (gray images)")
		}
	}
}
