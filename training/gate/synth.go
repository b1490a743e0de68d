package gate

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"math"
	"math/rand/v2"
	"os"
	"strings"

	xdraw "golang.org/x/image/draw"
	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"

	"pneumoscan/imagedecode"
)

// Synth is the recipe of one synthetic negative: a kind, a seed and, for crops and tiles, the
// chest films it is cut from.
type Synth struct {
	Kind  string
	Seed  uint64
	Films []string // file paths
}

// The synthetic kinds and how many of each Synthetics makes per unit of n.
var synthKinds = []struct {
	kind  string
	class int
	share int
}{
	{"blank", Pattern, 2}, {"near-constant", Pattern, 2}, {"noise", Pattern, 2}, {"smooth-noise", Pattern, 2},
	{"gradient", Pattern, 3}, {"pattern", Pattern, 2}, {"text", Document, 4}, {"crop", Collage, 6}, {"tiles", Collage, 4},
}

// Synthetics makes the recipes of about n synthetic negatives (n/27 units, shared as
// synthKinds says), cutting crops and tiles from films, in an order fixed by seed.
func Synthetics(n int, films []string, seed uint64) []Item {
	unit := max(1, n/27)
	rng := rand.New(rand.NewPCG(seed, 0x5e7))
	var out []Item
	for _, k := range synthKinds {
		for i := range unit * k.share {
			s := &Synth{Kind: k.kind, Seed: rng.Uint64()}
			switch k.kind {
			case "crop":
				s.Films = []string{films[rng.IntN(len(films))]}
			case "tiles":
				m := 4 + 5*rng.IntN(2) // 2x2 or 3x3
				for range m {
					s.Films = append(s.Films, films[rng.IntN(len(films))])
				}
			}
			sum := sha256.Sum256([]byte(fmt.Sprintf("synth1|%s|%d|%s", s.Kind, s.Seed, strings.Join(s.Films, "|"))))
			out = append(out, Item{ID: fmt.Sprintf("synthetic/%s/%d", k.kind, i), SHA256: hex.EncodeToString(sum[:]),
				Class: k.class, Source: "synthetic/" + k.kind, Synth: s})
		}
	}
	return out
}

const synthSize = 256

// Make draws the synthetic image.
func (s *Synth) Make() (image.Image, error) {
	rng := rand.New(rand.NewPCG(s.Seed, 1))
	img := image.NewGray(image.Rect(0, 0, synthSize, synthSize))
	set := func(f func(x, y int) float64) {
		for y := range synthSize {
			for x := range synthSize {
				img.Pix[y*img.Stride+x] = uint8(math.Max(0, math.Min(255, f(x, y))))
			}
		}
	}
	switch s.Kind {
	case "blank":
		v := float64(rng.IntN(256))
		set(func(int, int) float64 { return v })
	case "near-constant":
		v, a := float64(rng.IntN(256)), 1+rng.Float64()*4
		set(func(int, int) float64 { return v + a*(rng.Float64()*2-1) })
	case "noise":
		set(func(int, int) float64 { return rng.Float64() * 256 })
	case "smooth-noise":
		// A coarse random grid, upsampled bilinearly: blobs like soft tissue, but no anatomy.
		g := 4 + rng.IntN(12)
		grid := make([]float64, (g+1)*(g+1))
		for i := range grid {
			grid[i] = rng.Float64() * 255
		}
		set(func(x, y int) float64 {
			fx, fy := float64(x)*float64(g)/synthSize, float64(y)*float64(g)/synthSize
			ix, iy := int(fx), int(fy)
			tx, ty := fx-float64(ix), fy-float64(iy)
			at := func(i, j int) float64 { return grid[j*(g+1)+i] }
			return (1-ty)*((1-tx)*at(ix, iy)+tx*at(ix+1, iy)) + ty*((1-tx)*at(ix, iy+1)+tx*at(ix+1, iy+1))
		})
	case "gradient":
		ang, radial := rng.Float64()*2*math.Pi, rng.IntN(3) == 0
		lo, hi := rng.Float64()*100, 155+rng.Float64()*100
		set(func(x, y int) float64 {
			u, v := float64(x)/synthSize-0.5, float64(y)/synthSize-0.5
			t := u*math.Cos(ang) + v*math.Sin(ang) + 0.5
			if radial {
				t = math.Hypot(u, v) * 1.4
			}
			return lo + (hi-lo)*t
		})
	case "pattern":
		period, checker := 4+rng.IntN(40), rng.IntN(2) == 0
		set(func(x, y int) float64 {
			on := (x/period)%2 == 0
			if checker {
				on = on != ((y/period)%2 == 0)
			}
			if on {
				return 230
			}
			return 25
		})
	case "text":
		return s.text(rng), nil
	case "crop":
		film, err := loadGray(s.Films[0])
		if err != nil {
			return nil, err
		}
		b := film.Bounds()
		f := 0.25 + rng.Float64()*0.25 // a quarter to a half of each side
		w, h := int(f*float64(b.Dx())), int(f*float64(b.Dy()))
		x0, y0 := rng.IntN(b.Dx()-w+1), rng.IntN(b.Dy()-h+1)
		return film.SubImage(image.Rect(x0, y0, x0+w, y0+h)), nil
	case "tiles":
		m := int(math.Round(math.Sqrt(float64(len(s.Films)))))
		cell := synthSize / m
		for i, p := range s.Films {
			film, err := loadGray(p)
			if err != nil {
				return nil, err
			}
			r := image.Rect((i%m)*cell, (i/m)*cell, (i%m+1)*cell, (i/m+1)*cell)
			xdraw.BiLinear.Scale(img, r, film, film.Bounds(), draw.Src, nil)
		}
	default:
		return nil, fmt.Errorf("gate: unknown synthetic kind %q", s.Kind)
	}
	return img, nil
}

var words = strings.Fields("patient report findings impression the lungs are clear no focal consolidation heart size normal " +
	"menu file edit view help settings table figure results method value total page chapter section abstract introduction")

// text renders lines of words, dark on light or light on dark, in the basic 7x13 font scaled up.
func (s *Synth) text(rng *rand.Rand) image.Image {
	small := image.NewGray(image.Rect(0, 0, synthSize/2, synthSize/2))
	fg, bg := color.Gray{Y: 20}, color.Gray{Y: 235}
	if rng.IntN(3) == 0 {
		fg, bg = bg, fg
	}
	draw.Draw(small, small.Bounds(), &image.Uniform{C: bg}, image.Point{}, draw.Src)
	d := font.Drawer{Dst: small, Src: &image.Uniform{C: fg}, Face: basicfont.Face7x13}
	for y := 14; y < synthSize/2; y += 14 {
		var line []string
		for range 2 + rng.IntN(4) {
			line = append(line, words[rng.IntN(len(words))])
		}
		d.Dot = fixed.P(2+rng.IntN(8), y)
		d.DrawString(strings.Join(line, " "))
	}
	big := image.NewGray(image.Rect(0, 0, synthSize, synthSize))
	xdraw.NearestNeighbor.Scale(big, big.Bounds(), small, small.Bounds(), draw.Src, nil)
	return big
}

// loadGray decodes a film (imagedecode) as gray.
func loadGray(p string) (*image.Gray, error) {
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, err
	}
	img, err := imagedecode.Decode(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	if g, ok := img.(*image.Gray); ok {
		return g, nil
	}
	g := image.NewGray(img.Bounds())
	draw.Draw(g, g.Bounds(), img, img.Bounds().Min, draw.Src)
	return g, nil
}
