//go:build goexperiment.simd && amd64 && (!openblas || !cgo)

package sgemm

import "simd/archsimd"

// The amd64 SIMD kernels hold columns of the tile in vectors: per k step they load the A
// panel's mr values (two vectors) and broadcast each of B's nr values, one fused
// multiply-add per accumulator. All of ResNet50's m (output channels) are multiples of 64,
// so vectors along m waste nothing, while n (spatial positions, as few as 49) pads to nr.
func init() {
	if archsimd.X86.AVX2() && archsimd.X86.FMA() {
		register(&microKernel{name: "avx2", mr: 16, nr: 6, run: kernelAVX2, rank: 20})
	}
	if archsimd.X86.AVX512() {
		register(&microKernel{name: "avx512", mr: 32, nr: 8, run: kernelAVX512, rank: 30})
	}
}

// kernelAVX2 is a 16x6 tile: 12 accumulators, 2 A vectors and 1 broadcast fill 15 of the 16
// YMM registers.
func kernelAVX2(a, b []float32, t *tile) {
	var c00, c01, c02, c03, c04, c05 archsimd.Float32x8 // rows 0-7, columns 0-5
	var c10, c11, c12, c13, c14, c15 archsimd.Float32x8 // rows 8-15
	for len(a) >= 16 && len(b) >= 6 {
		a0 := archsimd.LoadFloat32x8Array((*[8]float32)(a[0:8]))
		a1 := archsimd.LoadFloat32x8Array((*[8]float32)(a[8:16]))
		x := archsimd.BroadcastFloat32x8(b[0])
		c00 = a0.MulAdd(x, c00)
		c10 = a1.MulAdd(x, c10)
		x = archsimd.BroadcastFloat32x8(b[1])
		c01 = a0.MulAdd(x, c01)
		c11 = a1.MulAdd(x, c11)
		x = archsimd.BroadcastFloat32x8(b[2])
		c02 = a0.MulAdd(x, c02)
		c12 = a1.MulAdd(x, c12)
		x = archsimd.BroadcastFloat32x8(b[3])
		c03 = a0.MulAdd(x, c03)
		c13 = a1.MulAdd(x, c13)
		x = archsimd.BroadcastFloat32x8(b[4])
		c04 = a0.MulAdd(x, c04)
		c14 = a1.MulAdd(x, c14)
		x = archsimd.BroadcastFloat32x8(b[5])
		c05 = a0.MulAdd(x, c05)
		c15 = a1.MulAdd(x, c15)
		a, b = a[16:], b[6:]
	}
	c00.StoreArray((*[8]float32)(t[0:8]))
	c10.StoreArray((*[8]float32)(t[8:16]))
	c01.StoreArray((*[8]float32)(t[16:24]))
	c11.StoreArray((*[8]float32)(t[24:32]))
	c02.StoreArray((*[8]float32)(t[32:40]))
	c12.StoreArray((*[8]float32)(t[40:48]))
	c03.StoreArray((*[8]float32)(t[48:56]))
	c13.StoreArray((*[8]float32)(t[56:64]))
	c04.StoreArray((*[8]float32)(t[64:72]))
	c14.StoreArray((*[8]float32)(t[72:80]))
	c05.StoreArray((*[8]float32)(t[80:88]))
	c15.StoreArray((*[8]float32)(t[88:96]))
	archsimd.ClearAVXUpperBits()
}

// kernelAVX512 is a 32x8 tile: 16 accumulators of the 32 ZMM registers.
func kernelAVX512(a, b []float32, t *tile) {
	var c00, c01, c02, c03, c04, c05, c06, c07 archsimd.Float32x16 // rows 0-15
	var c10, c11, c12, c13, c14, c15, c16, c17 archsimd.Float32x16 // rows 16-31
	for len(a) >= 32 && len(b) >= 8 {
		a0 := archsimd.LoadFloat32x16Array((*[16]float32)(a[0:16]))
		a1 := archsimd.LoadFloat32x16Array((*[16]float32)(a[16:32]))
		x := archsimd.BroadcastFloat32x16(b[0])
		c00 = a0.MulAdd(x, c00)
		c10 = a1.MulAdd(x, c10)
		x = archsimd.BroadcastFloat32x16(b[1])
		c01 = a0.MulAdd(x, c01)
		c11 = a1.MulAdd(x, c11)
		x = archsimd.BroadcastFloat32x16(b[2])
		c02 = a0.MulAdd(x, c02)
		c12 = a1.MulAdd(x, c12)
		x = archsimd.BroadcastFloat32x16(b[3])
		c03 = a0.MulAdd(x, c03)
		c13 = a1.MulAdd(x, c13)
		x = archsimd.BroadcastFloat32x16(b[4])
		c04 = a0.MulAdd(x, c04)
		c14 = a1.MulAdd(x, c14)
		x = archsimd.BroadcastFloat32x16(b[5])
		c05 = a0.MulAdd(x, c05)
		c15 = a1.MulAdd(x, c15)
		x = archsimd.BroadcastFloat32x16(b[6])
		c06 = a0.MulAdd(x, c06)
		c16 = a1.MulAdd(x, c16)
		x = archsimd.BroadcastFloat32x16(b[7])
		c07 = a0.MulAdd(x, c07)
		c17 = a1.MulAdd(x, c17)
		a, b = a[32:], b[8:]
	}
	c00.StoreArray((*[16]float32)(t[0:16]))
	c10.StoreArray((*[16]float32)(t[16:32]))
	c01.StoreArray((*[16]float32)(t[32:48]))
	c11.StoreArray((*[16]float32)(t[48:64]))
	c02.StoreArray((*[16]float32)(t[64:80]))
	c12.StoreArray((*[16]float32)(t[80:96]))
	c03.StoreArray((*[16]float32)(t[96:112]))
	c13.StoreArray((*[16]float32)(t[112:128]))
	c04.StoreArray((*[16]float32)(t[128:144]))
	c14.StoreArray((*[16]float32)(t[144:160]))
	c05.StoreArray((*[16]float32)(t[160:176]))
	c15.StoreArray((*[16]float32)(t[176:192]))
	c06.StoreArray((*[16]float32)(t[192:208]))
	c16.StoreArray((*[16]float32)(t[208:224]))
	c07.StoreArray((*[16]float32)(t[224:240]))
	c17.StoreArray((*[16]float32)(t[240:256]))
	archsimd.ClearAVXUpperBits()
}
