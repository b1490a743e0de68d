package onnxpb

import (
	"bytes"
	"math"
	"reflect"
	"slices"

	"google.golang.org/protobuf/encoding/protowire"
)

// Clone returns a deep copy of m (nil for nil): no slice or message is shared, unknown fields
// included.
func Clone(m *ModelProto) *ModelProto {
	if m == nil {
		return nil
	}
	return &ModelProto{
		IrVersion:       m.IrVersion,
		OpsetImport:     cloneList(m.OpsetImport, (*OperatorSetIdProto).clone),
		ProducerName:    m.ProducerName,
		ProducerVersion: m.ProducerVersion,
		Domain:          m.Domain,
		ModelVersion:    m.ModelVersion,
		DocString:       m.DocString,
		Graph:           m.Graph.clone(),
		MetadataProps:   cloneList(m.MetadataProps, (*StringStringEntryProto).clone),
		unknownFields:   cloneBytes(m.unknownFields),
	}
}

// Equal reports whether a and b are the same model, with protobuf-go's proto.Equal rules:
// an unset message differs from an empty one but a nil element of a repeated field is an
// empty message, empty and nil bytes are equal, NaN equals NaN, a singular float's -0 differs
// from 0 (it is written, 0 is not), and unknown fields compare per field number.
func Equal(a, b *ModelProto) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return a.IrVersion == b.IrVersion &&
		equalList(a.OpsetImport, b.OpsetImport, (*OperatorSetIdProto).equal) &&
		a.ProducerName == b.ProducerName &&
		a.ProducerVersion == b.ProducerVersion &&
		a.Domain == b.Domain &&
		a.ModelVersion == b.ModelVersion &&
		a.DocString == b.DocString &&
		equalPtr(a.Graph, b.Graph, (*GraphProto).equal) &&
		equalList(a.MetadataProps, b.MetadataProps, (*StringStringEntryProto).equal) &&
		equalUnknown(a.unknownFields, b.unknownFields)
}

func cloneBytes(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append([]byte{}, b...)
}

func cloneSlice[T any](s []T) []T {
	if s == nil {
		return nil
	}
	return append([]T{}, s...)
}

func cloneBytesList(s [][]byte) [][]byte {
	if s == nil {
		return nil
	}
	out := make([][]byte, len(s))
	for i, b := range s {
		out[i] = cloneBytes(b)
	}
	return out
}

func cloneList[T any](s []*T, clone func(*T) *T) []*T {
	if s == nil {
		return nil
	}
	out := make([]*T, len(s))
	for i, x := range s {
		out[i] = clone(x)
	}
	return out
}

// equalPtr compares singular message fields: set (non-nil) or not, then the messages.
func equalPtr[T any](a, b *T, equal func(a, b *T) bool) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return equal(a, b)
}

// equalList compares repeated message fields; the equal methods take nil as empty.
func equalList[T any](a, b []*T, equal func(a, b *T) bool) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !equal(a[i], b[i]) {
			return false
		}
	}
	return true
}

func equalBytesList(a, b [][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			return false
		}
	}
	return true
}

func equalFloat(x, y float64) bool {
	if math.IsNaN(x) || math.IsNaN(y) {
		return math.IsNaN(x) && math.IsNaN(y)
	}
	return x == y
}

// equalFloat32Field compares a proto3 float: set means any bit set (so -0 is set, 0 is not).
func equalFloat32Field(x, y float32) bool {
	if (math.Float32bits(x) == 0) != (math.Float32bits(y) == 0) {
		return false
	}
	return equalFloat(float64(x), float64(y))
}

func equalFloats[T float32 | float64](a, b []T) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !equalFloat(float64(a[i]), float64(b[i])) {
			return false
		}
	}
	return true
}

// equalUnknown compares unknown fields as protobuf-go does: the same bytes, or the same bytes
// for each field number (the order between numbers does not matter).
func equalUnknown(x, y []byte) bool {
	if len(x) != len(y) {
		return false
	}
	if bytes.Equal(x, y) {
		return true
	}
	return reflect.DeepEqual(unknownByNumber(x), unknownByNumber(y))
}

func unknownByNumber(b []byte) map[protowire.Number][]byte {
	m := map[protowire.Number][]byte{}
	for len(b) > 0 {
		num, _, n := protowire.ConsumeField(b)
		if n < 0 { // never from Unmarshal; a hand-set value compares whole
			m[-1] = append(m[-1], b...)
			break
		}
		m[num] = append(m[num], b[:n]...)
		b = b[n:]
	}
	return m
}

func (m *OperatorSetIdProto) clone() *OperatorSetIdProto {
	if m == nil {
		return nil
	}
	return &OperatorSetIdProto{Domain: m.Domain, Version: m.Version, unknownFields: cloneBytes(m.unknownFields)}
}

func (a *OperatorSetIdProto) equal(b *OperatorSetIdProto) bool {
	if a == nil {
		a = &OperatorSetIdProto{}
	}
	if b == nil {
		b = &OperatorSetIdProto{}
	}
	return a.Domain == b.Domain && a.Version == b.Version && equalUnknown(a.unknownFields, b.unknownFields)
}

func (m *StringStringEntryProto) clone() *StringStringEntryProto {
	if m == nil {
		return nil
	}
	return &StringStringEntryProto{Key: m.Key, Value: m.Value, unknownFields: cloneBytes(m.unknownFields)}
}

func (a *StringStringEntryProto) equal(b *StringStringEntryProto) bool {
	if a == nil {
		a = &StringStringEntryProto{}
	}
	if b == nil {
		b = &StringStringEntryProto{}
	}
	return a.Key == b.Key && a.Value == b.Value && equalUnknown(a.unknownFields, b.unknownFields)
}

func (m *GraphProto) clone() *GraphProto {
	if m == nil {
		return nil
	}
	return &GraphProto{
		Node:          cloneList(m.Node, (*NodeProto).clone),
		Name:          m.Name,
		Initializer:   cloneList(m.Initializer, (*TensorProto).clone),
		DocString:     m.DocString,
		Input:         cloneList(m.Input, (*ValueInfoProto).clone),
		Output:        cloneList(m.Output, (*ValueInfoProto).clone),
		ValueInfo:     cloneList(m.ValueInfo, (*ValueInfoProto).clone),
		unknownFields: cloneBytes(m.unknownFields),
	}
}

func (a *GraphProto) equal(b *GraphProto) bool {
	if a == nil {
		a = &GraphProto{}
	}
	if b == nil {
		b = &GraphProto{}
	}
	return equalList(a.Node, b.Node, (*NodeProto).equal) &&
		a.Name == b.Name &&
		equalList(a.Initializer, b.Initializer, (*TensorProto).equal) &&
		a.DocString == b.DocString &&
		equalList(a.Input, b.Input, (*ValueInfoProto).equal) &&
		equalList(a.Output, b.Output, (*ValueInfoProto).equal) &&
		equalList(a.ValueInfo, b.ValueInfo, (*ValueInfoProto).equal) &&
		equalUnknown(a.unknownFields, b.unknownFields)
}

func (m *NodeProto) clone() *NodeProto {
	if m == nil {
		return nil
	}
	return &NodeProto{
		Input:         cloneSlice(m.Input),
		Output:        cloneSlice(m.Output),
		Name:          m.Name,
		OpType:        m.OpType,
		Domain:        m.Domain,
		Attribute:     cloneList(m.Attribute, (*AttributeProto).clone),
		DocString:     m.DocString,
		unknownFields: cloneBytes(m.unknownFields),
	}
}

func (a *NodeProto) equal(b *NodeProto) bool {
	if a == nil {
		a = &NodeProto{}
	}
	if b == nil {
		b = &NodeProto{}
	}
	return slices.Equal(a.Input, b.Input) && slices.Equal(a.Output, b.Output) &&
		a.Name == b.Name && a.OpType == b.OpType && a.Domain == b.Domain &&
		equalList(a.Attribute, b.Attribute, (*AttributeProto).equal) &&
		a.DocString == b.DocString &&
		equalUnknown(a.unknownFields, b.unknownFields)
}

func slicesEqual[T comparable](a, b []T) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func (m *AttributeProto) clone() *AttributeProto {
	if m == nil {
		return nil
	}
	return &AttributeProto{
		Name:          m.Name,
		Type:          m.Type,
		F:             m.F,
		I:             m.I,
		S:             cloneBytes(m.S),
		T:             m.T.clone(),
		G:             m.G.clone(),
		Floats:        cloneSlice(m.Floats),
		Ints:          cloneSlice(m.Ints),
		Strings:       cloneBytesList(m.Strings),
		Tensors:       cloneList(m.Tensors, (*TensorProto).clone),
		unknownFields: cloneBytes(m.unknownFields),
	}
}

func (a *AttributeProto) equal(b *AttributeProto) bool {
	if a == nil {
		a = &AttributeProto{}
	}
	if b == nil {
		b = &AttributeProto{}
	}
	return a.Name == b.Name && a.Type == b.Type && equalFloat32Field(a.F, b.F) && a.I == b.I &&
		bytes.Equal(a.S, b.S) &&
		equalPtr(a.T, b.T, (*TensorProto).equal) &&
		equalPtr(a.G, b.G, (*GraphProto).equal) &&
		equalFloats(a.Floats, b.Floats) && slices.Equal(a.Ints, b.Ints) &&
		equalBytesList(a.Strings, b.Strings) &&
		equalList(a.Tensors, b.Tensors, (*TensorProto).equal) &&
		equalUnknown(a.unknownFields, b.unknownFields)
}

func (m *ValueInfoProto) clone() *ValueInfoProto {
	if m == nil {
		return nil
	}
	return &ValueInfoProto{Name: m.Name, Type: m.Type.clone(), DocString: m.DocString, unknownFields: cloneBytes(m.unknownFields)}
}

func (a *ValueInfoProto) equal(b *ValueInfoProto) bool {
	if a == nil {
		a = &ValueInfoProto{}
	}
	if b == nil {
		b = &ValueInfoProto{}
	}
	return a.Name == b.Name && equalPtr(a.Type, b.Type, (*TypeProto).equal) && a.DocString == b.DocString &&
		equalUnknown(a.unknownFields, b.unknownFields)
}

func (m *TypeProto) clone() *TypeProto {
	if m == nil {
		return nil
	}
	c := &TypeProto{Denotation: m.Denotation, unknownFields: cloneBytes(m.unknownFields)}
	if w, ok := m.Value.(*TypeProto_TensorType); ok && w != nil {
		c.Value = &TypeProto_TensorType{TensorType: w.TensorType.clone()}
	}
	return c
}

func (a *TypeProto) equal(b *TypeProto) bool {
	if a == nil {
		a = &TypeProto{}
	}
	if b == nil {
		b = &TypeProto{}
	}
	wa, _ := a.Value.(*TypeProto_TensorType)
	wb, _ := b.Value.(*TypeProto_TensorType)
	if (wa == nil) != (wb == nil) {
		return false
	}
	// A set oneof holding a nil message is an empty message.
	if wa != nil && !wa.TensorType.equal(wb.TensorType) {
		return false
	}
	return a.Denotation == b.Denotation && equalUnknown(a.unknownFields, b.unknownFields)
}

func (m *TypeProto_Tensor) clone() *TypeProto_Tensor {
	if m == nil {
		return nil
	}
	return &TypeProto_Tensor{ElemType: m.ElemType, Shape: m.Shape.clone(), unknownFields: cloneBytes(m.unknownFields)}
}

func (a *TypeProto_Tensor) equal(b *TypeProto_Tensor) bool {
	if a == nil {
		a = &TypeProto_Tensor{}
	}
	if b == nil {
		b = &TypeProto_Tensor{}
	}
	return a.ElemType == b.ElemType && equalPtr(a.Shape, b.Shape, (*TensorShapeProto).equal) &&
		equalUnknown(a.unknownFields, b.unknownFields)
}

func (m *TensorShapeProto) clone() *TensorShapeProto {
	if m == nil {
		return nil
	}
	return &TensorShapeProto{Dim: cloneList(m.Dim, (*TensorShapeProto_Dimension).clone), unknownFields: cloneBytes(m.unknownFields)}
}

func (a *TensorShapeProto) equal(b *TensorShapeProto) bool {
	if a == nil {
		a = &TensorShapeProto{}
	}
	if b == nil {
		b = &TensorShapeProto{}
	}
	return equalList(a.Dim, b.Dim, (*TensorShapeProto_Dimension).equal) && equalUnknown(a.unknownFields, b.unknownFields)
}

func (m *TensorShapeProto_Dimension) clone() *TensorShapeProto_Dimension {
	if m == nil {
		return nil
	}
	c := &TensorShapeProto_Dimension{Denotation: m.Denotation, unknownFields: cloneBytes(m.unknownFields)}
	switch v := m.Value.(type) {
	case *TensorShapeProto_Dimension_DimValue:
		if v != nil {
			c.Value = &TensorShapeProto_Dimension_DimValue{DimValue: v.DimValue}
		}
	case *TensorShapeProto_Dimension_DimParam:
		if v != nil {
			c.Value = &TensorShapeProto_Dimension_DimParam{DimParam: v.DimParam}
		}
	}
	return c
}

func (a *TensorShapeProto_Dimension) equal(b *TensorShapeProto_Dimension) bool {
	if a == nil {
		a = &TensorShapeProto_Dimension{}
	}
	if b == nil {
		b = &TensorShapeProto_Dimension{}
	}
	if a.Denotation != b.Denotation || !equalUnknown(a.unknownFields, b.unknownFields) {
		return false
	}
	va, aValue := a.Value.(*TensorShapeProto_Dimension_DimValue)
	vb, bValue := b.Value.(*TensorShapeProto_Dimension_DimValue)
	pa, aParam := a.Value.(*TensorShapeProto_Dimension_DimParam)
	pb, bParam := b.Value.(*TensorShapeProto_Dimension_DimParam)
	aValue, bValue = aValue && va != nil, bValue && vb != nil
	aParam, bParam = aParam && pa != nil, bParam && pb != nil
	switch {
	case aValue != bValue || aParam != bParam:
		return false
	case aValue:
		return va.DimValue == vb.DimValue
	case aParam:
		return pa.DimParam == pb.DimParam
	}
	return true
}

func (m *TensorProto) clone() *TensorProto {
	if m == nil {
		return nil
	}
	return &TensorProto{
		Dims:          cloneSlice(m.Dims),
		DataType:      m.DataType,
		FloatData:     cloneSlice(m.FloatData),
		Int32Data:     cloneSlice(m.Int32Data),
		StringData:    cloneBytesList(m.StringData),
		Int64Data:     cloneSlice(m.Int64Data),
		Name:          m.Name,
		DocString:     m.DocString,
		RawData:       cloneBytes(m.RawData),
		DoubleData:    cloneSlice(m.DoubleData),
		unknownFields: cloneBytes(m.unknownFields),
	}
}

func (a *TensorProto) equal(b *TensorProto) bool {
	if a == nil {
		a = &TensorProto{}
	}
	if b == nil {
		b = &TensorProto{}
	}
	return slices.Equal(a.Dims, b.Dims) && a.DataType == b.DataType &&
		equalFloats(a.FloatData, b.FloatData) && slices.Equal(a.Int32Data, b.Int32Data) &&
		equalBytesList(a.StringData, b.StringData) && slices.Equal(a.Int64Data, b.Int64Data) &&
		a.Name == b.Name && a.DocString == b.DocString && bytes.Equal(a.RawData, b.RawData) &&
		equalFloats(a.DoubleData, b.DoubleData) &&
		equalUnknown(a.unknownFields, b.unknownFields)
}
