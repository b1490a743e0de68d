//go:build !openblas || !cgo

package sgemm

import (
	"fmt"
	"os"
	"slices"
)

// maxTile bounds every micro-kernel's mr*nr, so one tile buffer on the stack fits them all.
const maxTile = 32 * 8

// tile is a micro-kernel's result, column-major: t[j*mr+r] is row r, column j. Column-major
// because the SIMD kernels hold a column of the tile in each vector (they load A's panels,
// mr values per step, and broadcast B's).
type tile [maxTile]float32

// microKernel is one implementation of the inner loop: the mr x nr tile of A·B from an A
// panel (k groups of mr values) and a B panel (k groups of nr values). A matrix packed for
// one kernel is multiplied by that kernel only (the panels' shapes are its own).
type microKernel struct {
	name   string
	mr, nr int
	run    func(a, b []float32, t *tile)
	rank   int // higher is faster; the best one this CPU runs is the default
}

// kernels holds the micro-kernels this build and this CPU can run: the scalar one always, the
// SIMD ones (files built with GOEXPERIMENT=simd) when their init has found the CPU features
// they need.
var kernels = []*microKernel{scalar}

// active is the kernel Pack uses: the best available, unless PNEUMOSCAN_SGEMM names another
// (benchmarks compare them without rebuilding).
var active = scalar

// register adds a kernel the CPU supports and makes the best one active; the SIMD files call
// it from init, after checking the CPU's features.
func register(k *microKernel) {
	kernels = append(kernels, k)
	slices.SortFunc(kernels, func(a, b *microKernel) int { return b.rank - a.rank })
	active = kernels[0]
	if name := os.Getenv("PNEUMOSCAN_SGEMM"); name != "" {
		_ = Use(name) // an unknown name keeps the best; Kernel() tells which one runs
	}
}

// Kernels lists the names of the micro-kernels this build can run on this CPU, best first.
func Kernels() []string {
	names := make([]string, len(kernels))
	for i, k := range kernels {
		names[i] = k.name
	}
	return names
}

// Kernel names the micro-kernel that Pack uses now.
func Kernel() string { return active.name }

// Use makes Pack use the named micro-kernel (one of Kernels) from now on, as gonum's
// blas32.Use picks an implementation; matrices packed before keep theirs. Not safe to call
// while another goroutine packs.
func Use(name string) error {
	for _, k := range kernels {
		if k.name == name {
			active = k
			return nil
		}
	}
	return fmt.Errorf("sgemm: no micro-kernel %q in this build on this CPU (have %v)", name, Kernels())
}
