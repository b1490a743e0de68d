//go:build openblas && cgo

package sgemm

// #cgo LDFLAGS: -lopenblas
// #include <cblas.h>
// void openblas_set_num_threads(int);
// int openblas_get_num_threads(void);
import "C"

import (
	"fmt"
	"os"
	"unsafe"
)

// SingleThreaded makes OpenBLAS run each call on the calling thread only, until restore is
// called, for callers that already run one multiplication per core: OpenBLAS's own threads
// on top of theirs oversubscribe the cores and spin (measured: feature extraction with 2
// workers on 2 cores 4.5 img/s with OpenBLAS threading, 6.3 without). The setting is
// process-wide; an explicit OPENBLAS_NUM_THREADS wins.
func SingleThreaded() (restore func()) {
	if os.Getenv("OPENBLAS_NUM_THREADS") != "" {
		return func() {}
	}
	n := C.openblas_get_num_threads()
	C.openblas_set_num_threads(1)
	return func() { C.openblas_set_num_threads(n) }
}

// Kernels, Kernel and Use keep the pure-Go build's API: with OpenBLAS there is one
// implementation, OpenBLAS's own (it picks its kernels for the CPU itself).
func Kernels() []string { return []string{"openblas"} }

// Kernel names the implementation in use.
func Kernel() string { return "openblas" }

// Use accepts only "openblas" in this build.
func Use(name string) error {
	if name != "openblas" {
		return fmt.Errorf("sgemm: no micro-kernel %q in the openblas build (have [openblas])", name)
	}
	return nil
}

// Packed is, with OpenBLAS, a plain row-major copy: OpenBLAS packs on each call itself.
type Packed struct {
	m, k int
	data []float32
}

// Pack copies the m x k row-major matrix a (row stride lda).
func Pack(m, k int, a []float32, lda int) *Packed {
	checkPack(m, k, a, lda)
	p := &Packed{m: m, k: k, data: make([]float32, m*k)}
	for i := 0; i < m; i++ {
		copy(p.data[i*k:(i+1)*k], a[i*lda:i*lda+k])
	}
	return p
}

// Rows and Cols are the packed matrix's m and k.
func (p *Packed) Rows() int { return p.m }
func (p *Packed) Cols() int { return p.k }

// Size is the number of float32 values the packed matrix holds.
func (p *Packed) Size() int { return len(p.data) }

// Workspace is unused with OpenBLAS; it keeps the API of the pure-Go build.
type Workspace struct{}

// Size is the number of float32 values the workspace holds.
func (w *Workspace) Size() int { return 0 }

// Mul sets C = A·B + bias, then C = max(C, 0) when relu is set (see the pure-Go build).
func (p *Packed) Mul(c []float32, ldc int, b []float32, ldb, n int, bias []float32, relu bool, w *Workspace) {
	p.MulResidual(c, ldc, b, ldb, n, bias, nil, relu, w)
}

// MulResidual sets C = A·B + bias + R, then the ReLU (see the pure-Go build).
func (p *Packed) MulResidual(c []float32, ldc int, b []float32, ldb, n int, bias, res []float32, relu bool, w *Workspace) {
	m, k := p.m, p.k
	check(m, k, n, c, ldc, b, ldb, bias)
	checkResidual(m, n, ldc, res)
	C.cblas_sgemm(C.CblasRowMajor, C.CblasNoTrans, C.CblasNoTrans, C.blasint(m), C.blasint(n), C.blasint(k),
		1, (*C.float)(unsafe.Pointer(&p.data[0])), C.blasint(k),
		(*C.float)(unsafe.Pointer(&b[0])), C.blasint(ldb),
		0, (*C.float)(unsafe.Pointer(&c[0])), C.blasint(ldc))
	if bias == nil && res == nil && !relu {
		return
	}
	for i := 0; i < m; i++ {
		row := c[i*ldc : i*ldc+n]
		var b0 float32
		if bias != nil {
			b0 = bias[i]
		}
		for j, v := range row {
			v += b0
			if res != nil {
				v += res[i*ldc+j]
			}
			if relu && v < 0 {
				v = 0
			}
			row[j] = v
		}
	}
}
