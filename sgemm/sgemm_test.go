package sgemm

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// reference is the textbook triple loop in float64.
func reference(m, n, k int, a []float32, lda int, b []float32, ldb int, bias, res []float32, ldr int, relu bool) []float64 {
	c := make([]float64, m*n)
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s float64
			if bias != nil {
				s = float64(bias[i])
			}
			for q := 0; q < k; q++ {
				s += float64(a[i*lda+q]) * float64(b[q*ldb+j])
			}
			if res != nil {
				s += float64(res[i*ldr+j])
			}
			if relu && s < 0 {
				s = 0
			}
			c[i*n+j] = s
		}
	}
	return c
}

func random(r *rand.Rand, n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(r.NormFloat64())
	}
	return v
}

// forEachKernel runs f once with each micro-kernel this build and CPU have (the scalar one
// and, built with GOEXPERIMENT=simd, the SIMD ones the CPU supports), so CI checks the
// fallback as well as the fast path.
func forEachKernel(t *testing.T, f func(t *testing.T)) {
	t.Helper()
	defer func(was string) { _ = Use(was) }(Kernel())
	for _, name := range Kernels() {
		if err := Use(name); err != nil {
			t.Fatal(err)
		}
		t.Run(name, f)
	}
}

// Shapes cover edges of every block of the pure-Go build (tiles 3x4, 16x6 and 32x8, kc = nc
// = 512; literals so the test also builds with -tags openblas): m and n not multiples of the
// tile, k and n across kc and nc, strides wider than the matrices, and the ResNet50 shapes'
// proportions.
func TestMulMatchesReference(t *testing.T) {
	t.Logf("micro-kernels: %v", Kernels())
	forEachKernel(t, testMulMatchesReference)
}

func testMulMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var w Workspace
	for _, s := range []struct{ m, n, k, pad int }{
		{1, 1, 1, 0}, {3, 5, 7, 0}, {3, 4, 1, 0}, {4, 5, 513, 3}, {17, 33, 2*512 + 5, 0}, {2, 2, 9, 0},
		{64, 512 + 7, 147, 2}, {9, 2*512 + 1, 64, 0}, {256, 49, 512, 1}, {130, 3, 300, 0},
		{33, 13, 40, 1}, {31, 7, 5, 0}, {16, 6, 16, 0}, {32, 8, 3, 2}, {65, 17, 600, 0},
	} {
		for _, mode := range []struct{ relu, res bool }{{false, false}, {true, false}, {true, true}} {
			relu := mode.relu
			t.Run(fmt.Sprintf("%dx%dx%d/pad%d/relu%v/residual%v", s.m, s.n, s.k, s.pad, relu, mode.res), func(t *testing.T) {
				lda, ldb, ldc := s.k+s.pad, s.n+s.pad, s.n+2*s.pad
				a, b := random(r, s.m*lda), random(r, s.k*ldb)
				bias := random(r, s.m)
				c := random(r, s.m*ldc) // garbage that Mul must overwrite
				guard := c[s.n:ldc]     // padding columns must stay untouched
				saved := append([]float32(nil), guard...)
				var res []float32
				if mode.res {
					res = random(r, s.m*ldc)
					Pack(s.m, s.k, a, lda).MulResidual(c, ldc, b, ldb, s.n, bias, res, relu, &w)
				} else {
					Pack(s.m, s.k, a, lda).Mul(c, ldc, b, ldb, s.n, bias, relu, &w)
				}
				want := reference(s.m, s.n, s.k, a, lda, b, ldb, bias, res, ldc, relu)
				tol := 1e-5 * math.Sqrt(float64(s.k)) * 4
				for i := 0; i < s.m; i++ {
					for j := 0; j < s.n; j++ {
						if d := math.Abs(float64(c[i*ldc+j]) - want[i*s.n+j]); d > tol {
							t.Fatalf("C[%d,%d] = %v, want %v (|d| %.3g > %.3g)", i, j, c[i*ldc+j], want[i*s.n+j], d, tol)
						}
					}
				}
				for i, v := range guard {
					if v != saved[i] {
						t.Fatalf("Mul wrote into the padding of C at column %d", s.n+i)
					}
				}
			})
		}
	}
}

// TestKernelsAgree checks the SIMD kernels against the scalar one on a ResNet50-like shape:
// the same products within 1e-5 relative to the largest value (fused multiply-adds round
// once where the scalar kernel rounds twice, and the sums run in another order).
func TestKernelsAgree(t *testing.T) {
	if len(Kernels()) == 1 {
		t.Logf("only the scalar micro-kernel in this build on this CPU (build with GOEXPERIMENT=simd for the others)")
	}
	r := rand.New(rand.NewPCG(5, 6))
	const m, n, k = 128, 196, 1152
	a, b, bias := random(r, m*k), random(r, k*n), random(r, m)
	product := func(name string) []float32 {
		defer func(was string) { _ = Use(was) }(Kernel())
		if err := Use(name); err != nil {
			t.Fatal(err)
		}
		c := make([]float32, m*n)
		Pack(m, k, a, k).Mul(c, n, b, n, n, bias, true, &Workspace{})
		return c
	}
	want := product("scalar")
	var scale float64
	for _, v := range want {
		scale = max(scale, math.Abs(float64(v)))
	}
	for _, name := range Kernels() {
		got := product(name)
		var worst float64
		for i := range got {
			worst = max(worst, math.Abs(float64(got[i]-want[i]))/scale)
		}
		t.Logf("%s vs scalar: max |d| / max |c| = %.3g", name, worst)
		if worst > 1e-5 {
			t.Errorf("%s differs from the scalar kernel by %.3g (relative), above 1e-5", name, worst)
		}
	}
}

func TestUseRefusesUnknown(t *testing.T) {
	if err := Use("no-such-kernel"); err == nil {
		t.Fatal("Use accepted an unknown kernel")
	}
}

func TestNilBias(t *testing.T) {
	a := []float32{1, 2, 3, 4} // [[1 2] [3 4]]
	b := []float32{5, 6, 7, 8}
	c := make([]float32, 4)
	Pack(2, 2, a, 2).Mul(c, 2, b, 2, 2, nil, false, &Workspace{})
	want := []float32{19, 22, 43, 50}
	for i := range c {
		if c[i] != want[i] {
			t.Fatalf("C = %v, want %v", c, want)
		}
	}
}

func TestBadSizesPanic(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("no panic for a B too short")
		}
	}()
	Pack(2, 2, make([]float32, 4), 2).Mul(make([]float32, 4), 2, make([]float32, 3), 2, 2, nil, false, &Workspace{})
}

// The shapes of ResNet50's costliest layers (C = W[m,k] x X[k,n]).
var benchShapes = []struct {
	name    string
	m, n, k int
}{
	{"stem_64x12544x147", 64, 12544, 147},
	{"l1conv2_64x3136x576", 64, 3136, 576},
	{"l1conv3_256x3136x64", 256, 3136, 64},
	{"l3conv2_256x196x2304", 256, 196, 2304},
	{"l4conv3_2048x49x512", 2048, 49, 512},
}

func BenchmarkMul(b *testing.B) {
	r := rand.New(rand.NewPCG(3, 4))
	defer func(was string) { _ = Use(was) }(Kernel())
	for _, kern := range Kernels() {
		if err := Use(kern); err != nil {
			b.Fatal(err)
		}
		for _, s := range benchShapes {
			benchMul(b, r, kern, s.name, s.m, s.n, s.k)
		}
	}
}

func benchMul(b *testing.B, r *rand.Rand, kern, name string, m, n, k int) {
	b.Run(kern+"/"+name, func(b *testing.B) {
		p := Pack(m, k, random(r, m*k), k)
		x, c := random(r, k*n), make([]float32, m*n)
		var w Workspace
		b.ResetTimer()
		for b.Loop() {
			p.Mul(c, n, x, n, n, nil, false, &w)
		}
		b.ReportMetric(2*float64(m*n*k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
	})
}
