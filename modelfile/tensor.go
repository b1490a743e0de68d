package modelfile

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"strings"

	"pneumoscan/onnxpb"
)

// This file is the one ONNX tensor codec of the project: every reader and writer of
// initializers (builder, quantizer, canonical rewrites, engines, importer) goes through it.

// FloatTensor encodes float32 data as raw little-endian bytes, ONNX's compact form.
func FloatTensor(name string, dims []int, data []float32) *onnxpb.TensorProto {
	raw := make([]byte, 4*len(data))
	for i, v := range data {
		binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(v))
	}
	return &onnxpb.TensorProto{Name: name, Dims: dims64(dims), DataType: int32(onnxpb.TensorProto_FLOAT), RawData: raw}
}

// Int8Tensor encodes int8 data as raw bytes.
func Int8Tensor(name string, dims []int, data []int8) *onnxpb.TensorProto {
	raw := make([]byte, len(data))
	for i, v := range data {
		raw[i] = byte(v)
	}
	return &onnxpb.TensorProto{Name: name, Dims: dims64(dims), DataType: int32(onnxpb.TensorProto_INT8), RawData: raw}
}

func dims64(dims []int) []int64 {
	out := make([]int64, len(dims))
	for i, d := range dims {
		out[i] = int64(d)
	}
	return out
}

// Dims returns a tensor's shape as ints, refusing negative dimensions.
func Dims(t *onnxpb.TensorProto) ([]int, error) {
	out := make([]int, len(t.Dims))
	for i, d := range t.Dims {
		if d < 0 || d > math.MaxInt32 {
			return nil, fmt.Errorf("tensor %q: dimension %d out of range", t.Name, d)
		}
		out[i] = int(d)
	}
	return out, nil
}

// mustDims is Dims for a tensor already decoded once (its dims were checked then).
func mustDims(d []int64) []int {
	out := make([]int, len(d))
	for i, x := range d {
		out[i] = int(x)
	}
	return out
}

// shapeOf checks that a tensor holds one of the element types want and returns its shape and
// element count.
func shapeOf(t *onnxpb.TensorProto, want ...onnxpb.TensorProto_DataType) ([]int, int, error) {
	if got := onnxpb.TensorProto_DataType(t.DataType); !slices.Contains(want, got) {
		names := make([]string, len(want))
		for i, w := range want {
			names[i] = w.String()
		}
		return nil, 0, fmt.Errorf("tensor %q is %v, want %s", t.Name, got, strings.Join(names, " or "))
	}
	dims, err := Dims(t)
	if err != nil {
		return nil, 0, err
	}
	// Every dimension is below 2^31, but their product can still wrap an int, and a
	// wrapped count could match the stored bytes of a tensor far smaller than its shape.
	n := 1
	for _, d := range dims {
		if d != 0 && n > math.MaxInt32/d {
			return nil, 0, fmt.Errorf("tensor %q: shape %v has more than %d elements", t.Name, dims, math.MaxInt32)
		}
		n *= d
	}
	return dims, n, nil
}

// Floats decodes a FLOAT tensor stored either in raw_data or in float_data, checking the
// count against its dims.
func Floats(t *onnxpb.TensorProto) ([]float32, error) {
	dims, n, err := shapeOf(t, onnxpb.TensorProto_FLOAT)
	if err != nil {
		return nil, err
	}
	switch {
	case t.RawData != nil:
		if len(t.RawData) != 4*n {
			return nil, fmt.Errorf("tensor %q: %d raw bytes for shape %v (want %d)", t.Name, len(t.RawData), dims, 4*n)
		}
		out := make([]float32, n)
		for i := range out {
			out[i] = math.Float32frombits(binary.LittleEndian.Uint32(t.RawData[4*i:]))
		}
		return out, nil
	case len(t.FloatData) == n:
		return append([]float32(nil), t.FloatData...), nil
	default:
		return nil, fmt.Errorf("tensor %q: %d floats for shape %v (want %d)", t.Name, len(t.FloatData), dims, n)
	}
}

// Int8s decodes an INT8 tensor stored in raw_data or, as ONNX allows, in int32_data.
func Int8s(t *onnxpb.TensorProto) ([]int8, error) {
	if t.DataType != int32(onnxpb.TensorProto_INT8) {
		return nil, fmt.Errorf("tensor %q is %v, want INT8", t.Name, onnxpb.TensorProto_DataType(t.DataType))
	}
	v, err := intValues(t)
	if err != nil {
		return nil, err
	}
	out := make([]int8, len(v))
	for i, x := range v {
		if x < math.MinInt8 || x > math.MaxInt8 {
			return nil, fmt.Errorf("tensor %q: value %d out of int8 range", t.Name, x)
		}
		out[i] = int8(x)
	}
	return out, nil
}

// intValues reads an INT8 or UINT8 tensor as int32 (raw_data, or int32_data as ONNX allows).
func intValues(t *onnxpb.TensorProto) ([]int32, error) {
	_, n, err := shapeOf(t, onnxpb.TensorProto_INT8, onnxpb.TensorProto_UINT8)
	if err != nil {
		return nil, err
	}
	signed := t.DataType == int32(onnxpb.TensorProto_INT8)
	// The count is checked against the values the file holds before anything is allocated:
	// a shape alone (a few bytes of a forged file) must not size an allocation.
	var v []int32
	switch {
	case t.RawData != nil:
		if len(t.RawData) != n {
			return nil, fmt.Errorf("tensor %q: %d raw bytes for %d elements", t.Name, len(t.RawData), n)
		}
		v = make([]int32, n)
		for i, b := range t.RawData {
			if signed {
				v[i] = int32(int8(b))
			} else {
				v[i] = int32(b)
			}
		}
	case len(t.Int32Data) == n:
		v = append([]int32(nil), t.Int32Data...)
	default:
		return nil, fmt.Errorf("tensor %q: %d values for shape %v", t.Name, len(t.Int32Data), t.Dims)
	}
	return v, nil
}
