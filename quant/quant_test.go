package quant

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, tc := range []struct {
		name  string
		shape []int
		axis  int
	}{
		{"conv [O,I,kh,kw] axis 0", []int{8, 3, 3, 3}, 0},
		{"matmul [K,N] axis 1", []int{16, 5}, 1},
		{"middle axis", []int{2, 4, 3}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := 1
			for _, d := range tc.shape {
				n *= d
			}
			data := make([]float32, n)
			for i := range data {
				data[i] = float32(rng.NormFloat64())
			}
			// Channel 1 along the axis all zero, to exercise the zero-channel rule.
			forEach(tc.shape, tc.axis, func(i, c int) {
				if c == 1 {
					data[i] = 0
				}
			})
			q, scale := PerChannel(data, tc.shape, tc.axis)
			if len(scale) != tc.shape[tc.axis] {
				t.Fatalf("got %d scales, want %d", len(scale), tc.shape[tc.axis])
			}
			if scale[1] != 1 {
				t.Errorf("all-zero channel scale = %v, want 1", scale[1])
			}
			back := Dequantize(q, scale, tc.shape, tc.axis)
			maxQ := make([]int, len(scale))
			forEach(tc.shape, tc.axis, func(i, c int) {
				if q[i] < -MaxQ {
					t.Fatalf("q[%d] = %d below -127", i, q[i])
				}
				if a := int(q[i]); a > maxQ[c] || -a > maxQ[c] {
					maxQ[c] = max(a, -a)
				}
				// The tolerance carries a few ulps for float32 rounding of x/scale and q*scale.
				if err := math.Abs(float64(back[i] - data[i])); err > float64(scale[c])/2*(1+1e-5) {
					t.Fatalf("element %d (channel %d): |%v - %v| = %v > scale/2 = %v", i, c, back[i], data[i], err, scale[c]/2)
				}
			})
			for c, m := range maxQ {
				if c != 1 && m != MaxQ {
					t.Errorf("channel %d uses max |q| %d, want the full range %d", c, m, MaxQ)
				}
			}
		})
	}
}

func TestPerChannelLayout(t *testing.T) {
	// [K=2, N=2], axis 1: scales are per column.
	q, scale := PerChannel([]float32{1, -4, -2, 2}, []int{2, 2}, 1)
	if want := []float32{2.0 / 127, 4.0 / 127}; scale[0] != want[0] || scale[1] != want[1] {
		t.Fatalf("scale = %v, want %v", scale, want)
	}
	if want := []int8{64, -127, -127, 64}; !slices.Equal(q, want) {
		t.Fatalf("q = %v, want %v", q, want)
	}
}

func TestBadShapePanics(t *testing.T) {
	for _, f := range []func(){
		func() { PerChannel(make([]float32, 5), []int{2, 2}, 0) },
		func() { PerChannel(make([]float32, 4), []int{2, 2}, 2) },
		func() { Dequantize(make([]int8, 4), []float32{1}, []int{2, 2}, 0) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Error("no panic")
				}
			}()
			f()
		}()
	}
}

func forEach(shape []int, axis int, f func(i, c int)) {
	inner := 1
	for _, d := range shape[axis+1:] {
		inner *= d
	}
	n := inner
	for _, d := range shape[:axis+1] {
		n *= d
	}
	for i := 0; i < n; i++ {
		f(i, (i/inner)%shape[axis])
	}
}
