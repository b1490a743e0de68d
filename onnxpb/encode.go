package onnxpb

import (
	"fmt"
	"math"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protowire"
)

// The encoder writes exactly what protobuf-go's deterministic Marshal wrote for the generated
// types (onnxpb/codec_test.go compares the bytes): fields in field-number order except that
// oneofs come after the other fields, proto3
// scalars only when not zero (a float's -0 is not zero), repeated numbers packed, a set
// oneof always, a non-nil message even when empty, a nil element of a repeated message field
// as an empty message, and each message's unknown fields after its known ones.

// Marshal encodes m. The same message always gives the same bytes. The one error is a string
// field that is not UTF-8, which protobuf-go refuses too.
func Marshal(m *ModelProto) ([]byte, error) {
	if m == nil {
		return nil, nil
	}
	var e encoder
	b := m.appendTo(nil, &e)
	if e.err != nil {
		return nil, e.err
	}
	return b, nil
}

// encoder holds the first error; the append functions go on so that the code stays flat.
type encoder struct {
	err error
}

func (e *encoder) str(b []byte, num protowire.Number, s, field string) []byte {
	if !utf8.ValidString(s) && e.err == nil {
		e.err = fmt.Errorf("onnxpb: Marshal: %s: %w", field, errUTF8)
	}
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendString(b, s)
}

// putString writes a proto3 string: nothing when empty.
func (e *encoder) putString(b []byte, num protowire.Number, s, field string) []byte {
	if s == "" {
		return b
	}
	return e.str(b, num, s, field)
}

func (e *encoder) putStrings(b []byte, num protowire.Number, ss []string, field string) []byte {
	for _, s := range ss {
		b = e.str(b, num, s, field)
	}
	return b
}

func putBytes(b []byte, num protowire.Number, v []byte) []byte {
	if len(v) == 0 {
		return b
	}
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendBytes(b, v)
}

func putBytesList(b []byte, num protowire.Number, vs [][]byte) []byte {
	for _, v := range vs {
		b = protowire.AppendTag(b, num, protowire.BytesType)
		b = protowire.AppendBytes(b, v)
	}
	return b
}

// putInt64 also writes int32 and enum fields (sign-extended to 64 bits, as protobuf does).
func putInt64(b []byte, num protowire.Number, v int64) []byte {
	if v == 0 {
		return b
	}
	b = protowire.AppendTag(b, num, protowire.VarintType)
	return protowire.AppendVarint(b, uint64(v))
}

func putFloat32(b []byte, num protowire.Number, v float32) []byte {
	if math.Float32bits(v) == 0 {
		return b
	}
	b = protowire.AppendTag(b, num, protowire.Fixed32Type)
	return protowire.AppendFixed32(b, math.Float32bits(v))
}

// putVarints writes a packed repeated varint field (int64 or int32, the latter sign-extended
// as protobuf does).
func putVarints[T int32 | int64](b []byte, num protowire.Number, vs []T) []byte {
	if len(vs) == 0 {
		return b
	}
	n := 0
	for _, v := range vs {
		n += protowire.SizeVarint(uint64(v))
	}
	b = protowire.AppendTag(b, num, protowire.BytesType)
	b = protowire.AppendVarint(b, uint64(n))
	for _, v := range vs {
		b = protowire.AppendVarint(b, uint64(v))
	}
	return b
}

func putFloat32s(b []byte, num protowire.Number, vs []float32) []byte {
	if len(vs) == 0 {
		return b
	}
	b = protowire.AppendTag(b, num, protowire.BytesType)
	b = protowire.AppendVarint(b, uint64(4*len(vs)))
	for _, v := range vs {
		b = protowire.AppendFixed32(b, math.Float32bits(v))
	}
	return b
}

func putFloat64s(b []byte, num protowire.Number, vs []float64) []byte {
	if len(vs) == 0 {
		return b
	}
	b = protowire.AppendTag(b, num, protowire.BytesType)
	b = protowire.AppendVarint(b, uint64(8*len(vs)))
	for _, v := range vs {
		b = protowire.AppendFixed64(b, math.Float64bits(v))
	}
	return b
}

// maxLenSize is the most bytes a message length takes as a varint below 32 GiB.
const maxLenSize = 5

// putMessage writes a length-prefixed message that body appends. The message is written in
// place after room for the longest length prefix, then moved back over the room it did not
// need: one pass, no size precomputation and no per-message buffer.
func putMessage(b []byte, num protowire.Number, body func([]byte) []byte) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	start := len(b)
	b = append(b, make([]byte, maxLenSize)...)
	b = body(b)
	size := len(b) - start - maxLenSize
	k := protowire.SizeVarint(uint64(size))
	protowire.AppendVarint(b[start:start], uint64(size))
	copy(b[start+k:], b[start+maxLenSize:])
	return b[:len(b)-(maxLenSize-k)]
}

func (m *ModelProto) appendTo(b []byte, e *encoder) []byte {
	b = putInt64(b, 1, m.IrVersion)
	b = e.putString(b, 2, m.ProducerName, "ModelProto.producer_name")
	b = e.putString(b, 3, m.ProducerVersion, "ModelProto.producer_version")
	b = e.putString(b, 4, m.Domain, "ModelProto.domain")
	b = putInt64(b, 5, m.ModelVersion)
	b = e.putString(b, 6, m.DocString, "ModelProto.doc_string")
	if m.Graph != nil {
		b = putMessage(b, 7, func(b []byte) []byte { return m.Graph.appendTo(b, e) })
	}
	for _, x := range m.OpsetImport {
		b = putMessage(b, 8, func(b []byte) []byte { return x.appendTo(b, e) })
	}
	for _, x := range m.MetadataProps {
		b = putMessage(b, 14, func(b []byte) []byte { return x.appendTo(b, e) })
	}
	return append(b, m.unknownFields...)
}

// The appendTo methods take a nil receiver as the empty message (a nil element of a repeated
// field).

func (m *OperatorSetIdProto) appendTo(b []byte, e *encoder) []byte {
	if m == nil {
		return b
	}
	b = e.putString(b, 1, m.Domain, "OperatorSetIdProto.domain")
	b = putInt64(b, 2, m.Version)
	return append(b, m.unknownFields...)
}

func (m *StringStringEntryProto) appendTo(b []byte, e *encoder) []byte {
	if m == nil {
		return b
	}
	b = e.putString(b, 1, m.Key, "StringStringEntryProto.key")
	b = e.putString(b, 2, m.Value, "StringStringEntryProto.value")
	return append(b, m.unknownFields...)
}

func (m *GraphProto) appendTo(b []byte, e *encoder) []byte {
	if m == nil {
		return b
	}
	for _, x := range m.Node {
		b = putMessage(b, 1, func(b []byte) []byte { return x.appendTo(b, e) })
	}
	b = e.putString(b, 2, m.Name, "GraphProto.name")
	for _, x := range m.Initializer {
		b = putMessage(b, 5, func(b []byte) []byte { return x.appendTo(b, e) })
	}
	b = e.putString(b, 10, m.DocString, "GraphProto.doc_string")
	for _, x := range m.Input {
		b = putMessage(b, 11, func(b []byte) []byte { return x.appendTo(b, e) })
	}
	for _, x := range m.Output {
		b = putMessage(b, 12, func(b []byte) []byte { return x.appendTo(b, e) })
	}
	for _, x := range m.ValueInfo {
		b = putMessage(b, 13, func(b []byte) []byte { return x.appendTo(b, e) })
	}
	return append(b, m.unknownFields...)
}

func (m *NodeProto) appendTo(b []byte, e *encoder) []byte {
	if m == nil {
		return b
	}
	b = e.putStrings(b, 1, m.Input, "NodeProto.input")
	b = e.putStrings(b, 2, m.Output, "NodeProto.output")
	b = e.putString(b, 3, m.Name, "NodeProto.name")
	b = e.putString(b, 4, m.OpType, "NodeProto.op_type")
	for _, x := range m.Attribute {
		b = putMessage(b, 5, func(b []byte) []byte { return x.appendTo(b, e) })
	}
	b = e.putString(b, 6, m.DocString, "NodeProto.doc_string")
	b = e.putString(b, 7, m.Domain, "NodeProto.domain")
	return append(b, m.unknownFields...)
}

func (m *AttributeProto) appendTo(b []byte, e *encoder) []byte {
	if m == nil {
		return b
	}
	b = e.putString(b, 1, m.Name, "AttributeProto.name")
	b = putFloat32(b, 2, m.F)
	b = putInt64(b, 3, m.I)
	b = putBytes(b, 4, m.S)
	if m.T != nil {
		b = putMessage(b, 5, func(b []byte) []byte { return m.T.appendTo(b, e) })
	}
	if m.G != nil {
		b = putMessage(b, 6, func(b []byte) []byte { return m.G.appendTo(b, e) })
	}
	b = putFloat32s(b, 7, m.Floats)
	b = putVarints(b, 8, m.Ints)
	b = putBytesList(b, 9, m.Strings)
	for _, x := range m.Tensors {
		b = putMessage(b, 10, func(b []byte) []byte { return x.appendTo(b, e) })
	}
	b = putInt64(b, 20, int64(m.Type))
	return append(b, m.unknownFields...)
}

func (m *ValueInfoProto) appendTo(b []byte, e *encoder) []byte {
	if m == nil {
		return b
	}
	b = e.putString(b, 1, m.Name, "ValueInfoProto.name")
	if m.Type != nil {
		b = putMessage(b, 2, func(b []byte) []byte { return m.Type.appendTo(b, e) })
	}
	b = e.putString(b, 3, m.DocString, "ValueInfoProto.doc_string")
	return append(b, m.unknownFields...)
}

func (m *TypeProto) appendTo(b []byte, e *encoder) []byte {
	if m == nil {
		return b
	}
	b = e.putString(b, 6, m.Denotation, "TypeProto.denotation")
	// A set oneof is written even when its message is nil (as an empty one), and after the
	// other fields: protobuf-go keeps that historic order (order.LegacyFieldOrder).
	if w, ok := m.Value.(*TypeProto_TensorType); ok && w != nil {
		b = putMessage(b, 1, func(b []byte) []byte { return w.TensorType.appendTo(b, e) })
	}
	return append(b, m.unknownFields...)
}

func (m *TypeProto_Tensor) appendTo(b []byte, e *encoder) []byte {
	if m == nil {
		return b
	}
	b = putInt64(b, 1, int64(m.ElemType))
	if m.Shape != nil {
		b = putMessage(b, 2, func(b []byte) []byte { return m.Shape.appendTo(b, e) })
	}
	return append(b, m.unknownFields...)
}

func (m *TensorShapeProto) appendTo(b []byte, e *encoder) []byte {
	if m == nil {
		return b
	}
	for _, x := range m.Dim {
		b = putMessage(b, 1, func(b []byte) []byte { return x.appendTo(b, e) })
	}
	return append(b, m.unknownFields...)
}

func (m *TensorShapeProto_Dimension) appendTo(b []byte, e *encoder) []byte {
	if m == nil {
		return b
	}
	b = e.putString(b, 3, m.Denotation, "TensorShapeProto.Dimension.denotation")
	// A set oneof is written even when zero, after the other fields (see TypeProto).
	switch v := m.Value.(type) {
	case *TensorShapeProto_Dimension_DimValue:
		if v != nil {
			b = protowire.AppendTag(b, 1, protowire.VarintType)
			b = protowire.AppendVarint(b, uint64(v.DimValue))
		}
	case *TensorShapeProto_Dimension_DimParam:
		if v != nil {
			b = e.str(b, 2, v.DimParam, "TensorShapeProto.Dimension.dim_param")
		}
	}
	return append(b, m.unknownFields...)
}

func (m *TensorProto) appendTo(b []byte, e *encoder) []byte {
	if m == nil {
		return b
	}
	b = putVarints(b, 1, m.Dims)
	b = putInt64(b, 2, int64(m.DataType))
	b = putFloat32s(b, 4, m.FloatData)
	b = putVarints(b, 5, m.Int32Data)
	b = putBytesList(b, 6, m.StringData)
	b = putVarints(b, 7, m.Int64Data)
	b = e.putString(b, 8, m.Name, "TensorProto.name")
	b = putBytes(b, 9, m.RawData)
	b = putFloat64s(b, 10, m.DoubleData)
	b = e.putString(b, 12, m.DocString, "TensorProto.doc_string")
	return append(b, m.unknownFields...)
}
