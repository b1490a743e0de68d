// Package quant is int8 per-channel symmetric quantization of float32 weight tensors, the
// form model files store convolution and dense weights in (ONNX DequantizeLinear, zero point 0).
package quant

import (
	"fmt"
	"math"
)

// MaxQ is the largest quantized magnitude. The range is symmetric, [-127, 127]: -128 is never
// used, so negating a weight never overflows and the scale is the same on both sides.
const MaxQ = 127

// PerChannel quantizes data (row-major, of the given shape) with one scale per index of axis:
// scale = max|x| / 127 over that channel, q = round(x / scale), zero point 0.
// A channel whose values are all zero gets scale 1 (any positive scale decodes its zeros
// exactly, and 1 keeps the scale a valid, positive DequantizeLinear input).
// It panics if shape does not describe data or axis is out of range: both are programming
// errors of the caller, not bad input.
func PerChannel(data []float32, shape []int, axis int) (q []int8, scale []float32) {
	outer, channels, inner := split(len(data), shape, axis)
	scale = make([]float32, channels)
	for o := 0; o < outer; o++ {
		for c := 0; c < channels; c++ {
			base := (o*channels + c) * inner
			for _, v := range data[base : base+inner] {
				if a := float32(math.Abs(float64(v))); a > scale[c] {
					scale[c] = a
				}
			}
		}
	}
	for c, m := range scale {
		if m == 0 {
			scale[c] = 1
		} else {
			scale[c] = m / MaxQ
		}
	}
	q = make([]int8, len(data))
	for o := 0; o < outer; o++ {
		for c := 0; c < channels; c++ {
			base := (o*channels + c) * inner
			s := scale[c]
			for i, v := range data[base : base+inner] {
				r := math.RoundToEven(float64(v / s))
				// v/s can exceed 127 by a rounding ulp at the channel's maximum.
				q[base+i] = int8(max(-MaxQ, min(MaxQ, r)))
			}
		}
	}
	return q, scale
}

// Dequantize is the inverse of PerChannel: x = q * scale[channel].
func Dequantize(q []int8, scale []float32, shape []int, axis int) []float32 {
	return Affine(q, nil, scale, shape, axis)
}

// Affine is ONNX DequantizeLinear: x = (q - zero[channel]) * scale[channel] along axis; a
// nil zero means zero points of 0. It is the project's one dequantizer.
func Affine[T int8 | uint8 | int32](q, zero []T, scale []float32, shape []int, axis int) []float32 {
	outer, channels, inner := split(len(q), shape, axis)
	if len(scale) != channels || (zero != nil && len(zero) != channels) {
		panic(fmt.Sprintf("quant: %d scales and %d zero points for %d channels", len(scale), len(zero), channels))
	}
	out := make([]float32, len(q))
	for o := 0; o < outer; o++ {
		for c := 0; c < channels; c++ {
			base := (o*channels + c) * inner
			s := scale[c]
			var z float32
			if zero != nil {
				z = float32(zero[c])
			}
			for i, v := range q[base : base+inner] {
				out[base+i] = (float32(v) - z) * s
			}
		}
	}
	return out
}

// split views shape as [outer, channels, inner] around axis.
func split(n int, shape []int, axis int) (outer, channels, inner int) {
	if axis < 0 || axis >= len(shape) {
		panic(fmt.Sprintf("quant: axis %d out of range for shape %v", axis, shape))
	}
	outer, inner = 1, 1
	for i, d := range shape {
		if d < 0 {
			panic(fmt.Sprintf("quant: negative dimension in shape %v", shape))
		}
		switch {
		case i < axis:
			outer *= d
		case i > axis:
			inner *= d
		}
	}
	channels = shape[axis]
	if outer*channels*inner != n {
		panic(fmt.Sprintf("quant: shape %v has %d elements, data has %d", shape, outer*channels*inner, n))
	}
	return outer, channels, inner
}
