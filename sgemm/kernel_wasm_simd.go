//go:build goexperiment.simd && wasm

package sgemm

import "simd/archsimd"

// WebAssembly's SIMD is 128 bits wide, present in every browser the page supports, and Go's
// simd build for wasm always emits it, so there is no feature check to make. The tile is 8x5:
// 10 accumulators, 2 A vectors and 1 broadcast. Go's wasm port has 16 vector registers (wasm
// locals) and spills beyond them: 8x6 spilled accumulators inside the loop and ran at 7-12
// GFLOP/s in node 20, 8x4 at 10-17, 8x5 at 12-20 (go test ./sgemm -bench Mul, this machine).
func init() {
	register(&microKernel{name: "wasm128", mr: 8, nr: 5, run: kernelWasm128, rank: 10})
}

func kernelWasm128(a, b []float32, t *tile) {
	var c00, c01, c02, c03, c04 archsimd.Float32x4 // rows 0-3, columns 0-3
	var c10, c11, c12, c13, c14 archsimd.Float32x4 // rows 4-7
	for len(a) >= 8 && len(b) >= 5 {
		a0 := archsimd.LoadFloat32x4Array((*[4]float32)(a[0:4]))
		a1 := archsimd.LoadFloat32x4Array((*[4]float32)(a[4:8]))
		x := archsimd.BroadcastFloat32x4(b[0])
		c00 = a0.MulAdd(x, c00)
		c10 = a1.MulAdd(x, c10)
		x = archsimd.BroadcastFloat32x4(b[1])
		c01 = a0.MulAdd(x, c01)
		c11 = a1.MulAdd(x, c11)
		x = archsimd.BroadcastFloat32x4(b[2])
		c02 = a0.MulAdd(x, c02)
		c12 = a1.MulAdd(x, c12)
		x = archsimd.BroadcastFloat32x4(b[3])
		c03 = a0.MulAdd(x, c03)
		c13 = a1.MulAdd(x, c13)
		x = archsimd.BroadcastFloat32x4(b[4])
		c04 = a0.MulAdd(x, c04)
		c14 = a1.MulAdd(x, c14)
		a, b = a[8:], b[5:]
	}
	c00.StoreArray((*[4]float32)(t[0:4]))
	c10.StoreArray((*[4]float32)(t[4:8]))
	c01.StoreArray((*[4]float32)(t[8:12]))
	c11.StoreArray((*[4]float32)(t[12:16]))
	c02.StoreArray((*[4]float32)(t[16:20]))
	c12.StoreArray((*[4]float32)(t[20:24]))
	c03.StoreArray((*[4]float32)(t[24:28]))
	c13.StoreArray((*[4]float32)(t[28:32]))
	c04.StoreArray((*[4]float32)(t[32:36]))
	c14.StoreArray((*[4]float32)(t[36:40]))
}
