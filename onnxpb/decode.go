package onnxpb

import (
	"errors"
	"fmt"
	"math"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protowire"
)

// The decoder follows protobuf-go's proto.Unmarshal rule for rule, so that a file decodes to
// the same message (onnxpb/codec_test.go checks it against the generated code): the last
// value of a singular field wins, a repeated message field appends, a singular message field
// seen twice is merged, repeated numbers are read packed or not, strings must be UTF-8, a
// known field with another wire type is kept as unknown, and unknown fields are kept with
// their tag re-encoded (protowire.AppendTag) in the order they came.

// errWireType marks a field this schema does not know, or knows with another wire type:
// decodeMessage keeps it among the message's unknown fields.
var errWireType = errors.New("unknown field")

var (
	errUTF8  = errors.New("string field contains invalid UTF-8")
	errDepth = errors.New("exceeded maximum recursion depth")
)

// Unmarshal decodes an ONNX model (its protobuf bytes) into m, replacing what m held. Malformed
// input gives an error naming the path of fields to the fault; it never panics, and it
// allocates no more than the input's size warrants.
func Unmarshal(b []byte, m *ModelProto) error {
	if m == nil {
		return errors.New("onnxpb: Unmarshal into a nil *ModelProto")
	}
	*m = ModelProto{}
	if err := m.unmarshal(b, protowire.DefaultRecursionLimit); err != nil {
		*m = ModelProto{}
		return err
	}
	return nil
}

// maxErrorPath is how many messages, from the outermost, an error's path of fields names.
const maxErrorPath = 16

// fieldFunc decodes the value of field num (wire type typ) at the start of b and returns how
// many bytes it used, or errWireType.
type fieldFunc func(num protowire.Number, typ protowire.Type, b []byte) (int, error)

// decodeMessage walks the fields of one message. depth counts down the nesting as
// protobuf-go's does (protowire.DefaultRecursionLimit at the top), so a graph nested in
// attributes without end is refused, not a stack overflow.
func decodeMessage(name string, b []byte, depth int, unknown *[]byte, field fieldFunc) error {
	if depth < 0 {
		return fmt.Errorf("%s: %w", name, errDepth)
	}
	for len(b) > 0 {
		tag, n := protowire.ConsumeVarint(b)
		if n < 0 {
			return fmt.Errorf("%s: field tag: %w", name, protowire.ParseError(n))
		}
		b = b[n:]
		if f := tag >> 3; f < uint64(protowire.MinValidNumber) || f > uint64(protowire.MaxValidNumber) {
			return fmt.Errorf("%s: invalid field number %d", name, f)
		}
		num, typ := protowire.Number(tag>>3), protowire.Type(tag&7)
		if typ == protowire.EndGroupType {
			return fmt.Errorf("%s: field %d: end of a group that was never started", name, num)
		}
		n, err := field(num, typ, b)
		if err == errWireType {
			n = protowire.ConsumeFieldValue(num, typ, b)
			if n < 0 {
				return fmt.Errorf("%s: field %d: %w", name, num, protowire.ParseError(n))
			}
			*unknown = protowire.AppendTag(*unknown, num, typ)
			*unknown = append(*unknown, b[:n]...)
		} else if err != nil {
			// The path of fields names the outer messages only: wrapping at every level of a
			// deeply nested file would build an error string quadratic in its depth.
			if depth < protowire.DefaultRecursionLimit-maxErrorPath {
				return err
			}
			return fmt.Errorf("%s field %d: %w", name, num, err)
		}
		b = b[n:]
	}
	return nil
}

func consumeBytes(typ protowire.Type, b []byte) ([]byte, int, error) {
	if typ != protowire.BytesType {
		return nil, 0, errWireType
	}
	v, n := protowire.ConsumeBytes(b)
	if n < 0 {
		return nil, 0, protowire.ParseError(n)
	}
	return v, n, nil
}

func decString(typ protowire.Type, b []byte, dst *string) (int, error) {
	v, n, err := consumeBytes(typ, b)
	if err != nil {
		return 0, err
	}
	if !utf8.Valid(v) {
		return 0, errUTF8
	}
	*dst = string(v)
	return n, nil
}

func decStrings(typ protowire.Type, b []byte, dst *[]string) (int, error) {
	var s string
	n, err := decString(typ, b, &s)
	if err == nil {
		*dst = append(*dst, s)
	}
	return n, err
}

// decBytes copies: the message must not alias the caller's buffer.
func decBytes(typ protowire.Type, b []byte, dst *[]byte) (int, error) {
	v, n, err := consumeBytes(typ, b)
	if err == nil {
		*dst = append([]byte{}, v...)
	}
	return n, err
}

func decBytesList(typ protowire.Type, b []byte, dst *[][]byte) (int, error) {
	v, n, err := consumeBytes(typ, b)
	if err == nil {
		*dst = append(*dst, append([]byte{}, v...))
	}
	return n, err
}

func consumeVarint(typ protowire.Type, b []byte) (uint64, int, error) {
	if typ != protowire.VarintType {
		return 0, 0, errWireType
	}
	v, n := protowire.ConsumeVarint(b)
	if n < 0 {
		return 0, 0, protowire.ParseError(n)
	}
	return v, n, nil
}

// decVarint reads a varint field; an int32 (or enum) one is truncated to 32 bits, as
// protobuf-go does.
func decVarint[T int32 | int64](typ protowire.Type, b []byte, dst *T) (int, error) {
	v, n, err := consumeVarint(typ, b)
	if err == nil {
		*dst = T(v)
	}
	return n, err
}

func decFloat32(typ protowire.Type, b []byte, dst *float32) (int, error) {
	if typ != protowire.Fixed32Type {
		return 0, errWireType
	}
	v, n := protowire.ConsumeFixed32(b)
	if n < 0 {
		return 0, protowire.ParseError(n)
	}
	*dst = math.Float32frombits(v)
	return n, nil
}

// decPacked reads a repeated scalar field, one value (wire type one) or packed (a length
// prefixed run); each calls elem, which consumes one value.
func decPacked(typ, one protowire.Type, b []byte, elem func([]byte) int) (int, error) {
	switch typ {
	case one:
		n := elem(b)
		if n < 0 {
			return 0, protowire.ParseError(n)
		}
		return n, nil
	case protowire.BytesType:
		v, n := protowire.ConsumeBytes(b)
		if n < 0 {
			return 0, protowire.ParseError(n)
		}
		for len(v) > 0 {
			k := elem(v)
			if k < 0 {
				return 0, protowire.ParseError(k)
			}
			v = v[k:]
		}
		return n, nil
	}
	return 0, errWireType
}

// decVarints reads a repeated varint field, packed or not (int32 values truncated as above).
func decVarints[T int32 | int64](typ protowire.Type, b []byte, dst *[]T) (int, error) {
	return decPacked(typ, protowire.VarintType, b, func(b []byte) int {
		v, n := protowire.ConsumeVarint(b)
		if n >= 0 {
			*dst = append(*dst, T(v))
		}
		return n
	})
}

func decFloat32s(typ protowire.Type, b []byte, dst *[]float32) (int, error) {
	if typ == protowire.BytesType && len(*dst) == 0 {
		// A weight is one packed run: size the slice once (bounded by the input's length).
		if v, n := protowire.ConsumeBytes(b); n >= 0 {
			*dst = make([]float32, 0, len(v)/4)
		}
	}
	return decPacked(typ, protowire.Fixed32Type, b, func(b []byte) int {
		v, n := protowire.ConsumeFixed32(b)
		if n >= 0 {
			*dst = append(*dst, math.Float32frombits(v))
		}
		return n
	})
}

func decFloat64s(typ protowire.Type, b []byte, dst *[]float64) (int, error) {
	return decPacked(typ, protowire.Fixed64Type, b, func(b []byte) int {
		v, n := protowire.ConsumeFixed64(b)
		if n >= 0 {
			*dst = append(*dst, math.Float64frombits(v))
		}
		return n
	})
}

// decMessage reads a length-prefixed message and hands its bytes to decode, which allocates
// the message only once the wire type is known to be right (as protobuf-go does).
func decMessage(typ protowire.Type, b []byte, decode func([]byte) error) (int, error) {
	v, n, err := consumeBytes(typ, b)
	if err != nil {
		return 0, err
	}
	if err := decode(v); err != nil {
		return 0, err
	}
	return n, nil
}

func (m *ModelProto) unmarshal(b []byte, depth int) error {
	depth--
	return decodeMessage("ModelProto", b, depth, &m.unknownFields, func(num protowire.Number, typ protowire.Type, b []byte) (int, error) {
		switch num {
		case 1:
			return decVarint(typ, b, &m.IrVersion)
		case 2:
			return decString(typ, b, &m.ProducerName)
		case 3:
			return decString(typ, b, &m.ProducerVersion)
		case 4:
			return decString(typ, b, &m.Domain)
		case 5:
			return decVarint(typ, b, &m.ModelVersion)
		case 6:
			return decString(typ, b, &m.DocString)
		case 7:
			return decMessage(typ, b, func(v []byte) error {
				if m.Graph == nil {
					m.Graph = &GraphProto{}
				}
				return m.Graph.unmarshal(v, depth)
			})
		case 8:
			return decMessage(typ, b, func(v []byte) error {
				x := &OperatorSetIdProto{}
				m.OpsetImport = append(m.OpsetImport, x)
				return x.unmarshal(v, depth)
			})
		case 14:
			return decMessage(typ, b, func(v []byte) error {
				x := &StringStringEntryProto{}
				m.MetadataProps = append(m.MetadataProps, x)
				return x.unmarshal(v, depth)
			})
		}
		return 0, errWireType
	})
}

func (m *OperatorSetIdProto) unmarshal(b []byte, depth int) error {
	depth--
	return decodeMessage("OperatorSetIdProto", b, depth, &m.unknownFields, func(num protowire.Number, typ protowire.Type, b []byte) (int, error) {
		switch num {
		case 1:
			return decString(typ, b, &m.Domain)
		case 2:
			return decVarint(typ, b, &m.Version)
		}
		return 0, errWireType
	})
}

func (m *StringStringEntryProto) unmarshal(b []byte, depth int) error {
	depth--
	return decodeMessage("StringStringEntryProto", b, depth, &m.unknownFields, func(num protowire.Number, typ protowire.Type, b []byte) (int, error) {
		switch num {
		case 1:
			return decString(typ, b, &m.Key)
		case 2:
			return decString(typ, b, &m.Value)
		}
		return 0, errWireType
	})
}

func (m *GraphProto) unmarshal(b []byte, depth int) error {
	depth--
	valueInfo := func(dst *[]*ValueInfoProto) func([]byte) error {
		return func(v []byte) error {
			x := &ValueInfoProto{}
			*dst = append(*dst, x)
			return x.unmarshal(v, depth)
		}
	}
	return decodeMessage("GraphProto", b, depth, &m.unknownFields, func(num protowire.Number, typ protowire.Type, b []byte) (int, error) {
		switch num {
		case 1:
			return decMessage(typ, b, func(v []byte) error {
				x := &NodeProto{}
				m.Node = append(m.Node, x)
				return x.unmarshal(v, depth)
			})
		case 2:
			return decString(typ, b, &m.Name)
		case 5:
			return decMessage(typ, b, func(v []byte) error {
				x := &TensorProto{}
				m.Initializer = append(m.Initializer, x)
				return x.unmarshal(v, depth)
			})
		case 10:
			return decString(typ, b, &m.DocString)
		case 11:
			return decMessage(typ, b, valueInfo(&m.Input))
		case 12:
			return decMessage(typ, b, valueInfo(&m.Output))
		case 13:
			return decMessage(typ, b, valueInfo(&m.ValueInfo))
		}
		return 0, errWireType
	})
}

func (m *NodeProto) unmarshal(b []byte, depth int) error {
	depth--
	return decodeMessage("NodeProto", b, depth, &m.unknownFields, func(num protowire.Number, typ protowire.Type, b []byte) (int, error) {
		switch num {
		case 1:
			return decStrings(typ, b, &m.Input)
		case 2:
			return decStrings(typ, b, &m.Output)
		case 3:
			return decString(typ, b, &m.Name)
		case 4:
			return decString(typ, b, &m.OpType)
		case 5:
			return decMessage(typ, b, func(v []byte) error {
				x := &AttributeProto{}
				m.Attribute = append(m.Attribute, x)
				return x.unmarshal(v, depth)
			})
		case 6:
			return decString(typ, b, &m.DocString)
		case 7:
			return decString(typ, b, &m.Domain)
		}
		return 0, errWireType
	})
}

func (m *AttributeProto) unmarshal(b []byte, depth int) error {
	depth--
	return decodeMessage("AttributeProto", b, depth, &m.unknownFields, func(num protowire.Number, typ protowire.Type, b []byte) (int, error) {
		switch num {
		case 1:
			return decString(typ, b, &m.Name)
		case 2:
			return decFloat32(typ, b, &m.F)
		case 3:
			return decVarint(typ, b, &m.I)
		case 4:
			return decBytes(typ, b, &m.S)
		case 5:
			return decMessage(typ, b, func(v []byte) error {
				if m.T == nil {
					m.T = &TensorProto{}
				}
				return m.T.unmarshal(v, depth)
			})
		case 6:
			return decMessage(typ, b, func(v []byte) error {
				if m.G == nil {
					m.G = &GraphProto{}
				}
				return m.G.unmarshal(v, depth)
			})
		case 7:
			return decFloat32s(typ, b, &m.Floats)
		case 8:
			return decVarints(typ, b, &m.Ints)
		case 9:
			return decBytesList(typ, b, &m.Strings)
		case 10:
			return decMessage(typ, b, func(v []byte) error {
				x := &TensorProto{}
				m.Tensors = append(m.Tensors, x)
				return x.unmarshal(v, depth)
			})
		case 20:
			return decVarint(typ, b, (*int32)(&m.Type))
		}
		return 0, errWireType
	})
}

func (m *ValueInfoProto) unmarshal(b []byte, depth int) error {
	depth--
	return decodeMessage("ValueInfoProto", b, depth, &m.unknownFields, func(num protowire.Number, typ protowire.Type, b []byte) (int, error) {
		switch num {
		case 1:
			return decString(typ, b, &m.Name)
		case 2:
			return decMessage(typ, b, func(v []byte) error {
				if m.Type == nil {
					m.Type = &TypeProto{}
				}
				return m.Type.unmarshal(v, depth)
			})
		case 3:
			return decString(typ, b, &m.DocString)
		}
		return 0, errWireType
	})
}

func (m *TypeProto) unmarshal(b []byte, depth int) error {
	depth--
	return decodeMessage("TypeProto", b, depth, &m.unknownFields, func(num protowire.Number, typ protowire.Type, b []byte) (int, error) {
		switch num {
		case 1:
			return decMessage(typ, b, func(v []byte) error {
				// The oneof already holding a tensor type merges into it; anything else is replaced.
				w, ok := m.Value.(*TypeProto_TensorType)
				if !ok || w == nil {
					w = &TypeProto_TensorType{}
				}
				if w.TensorType == nil {
					w.TensorType = &TypeProto_Tensor{}
				}
				m.Value = w
				return w.TensorType.unmarshal(v, depth)
			})
		case 6:
			return decString(typ, b, &m.Denotation)
		}
		return 0, errWireType
	})
}

func (m *TypeProto_Tensor) unmarshal(b []byte, depth int) error {
	depth--
	return decodeMessage("TypeProto.Tensor", b, depth, &m.unknownFields, func(num protowire.Number, typ protowire.Type, b []byte) (int, error) {
		switch num {
		case 1:
			return decVarint(typ, b, &m.ElemType)
		case 2:
			return decMessage(typ, b, func(v []byte) error {
				if m.Shape == nil {
					m.Shape = &TensorShapeProto{}
				}
				return m.Shape.unmarshal(v, depth)
			})
		}
		return 0, errWireType
	})
}

func (m *TensorShapeProto) unmarshal(b []byte, depth int) error {
	depth--
	return decodeMessage("TensorShapeProto", b, depth, &m.unknownFields, func(num protowire.Number, typ protowire.Type, b []byte) (int, error) {
		if num == 1 {
			return decMessage(typ, b, func(v []byte) error {
				x := &TensorShapeProto_Dimension{}
				m.Dim = append(m.Dim, x)
				return x.unmarshal(v, depth)
			})
		}
		return 0, errWireType
	})
}

func (m *TensorShapeProto_Dimension) unmarshal(b []byte, depth int) error {
	depth--
	return decodeMessage("TensorShapeProto.Dimension", b, depth, &m.unknownFields, func(num protowire.Number, typ protowire.Type, b []byte) (int, error) {
		switch num {
		case 1:
			var v int64
			n, err := decVarint(typ, b, &v)
			if err == nil {
				m.Value = &TensorShapeProto_Dimension_DimValue{DimValue: v}
			}
			return n, err
		case 2:
			var v string
			n, err := decString(typ, b, &v)
			if err == nil {
				m.Value = &TensorShapeProto_Dimension_DimParam{DimParam: v}
			}
			return n, err
		case 3:
			return decString(typ, b, &m.Denotation)
		}
		return 0, errWireType
	})
}

func (m *TensorProto) unmarshal(b []byte, depth int) error {
	depth--
	return decodeMessage("TensorProto", b, depth, &m.unknownFields, func(num protowire.Number, typ protowire.Type, b []byte) (int, error) {
		switch num {
		case 1:
			return decVarints(typ, b, &m.Dims)
		case 2:
			return decVarint(typ, b, &m.DataType)
		case 4:
			return decFloat32s(typ, b, &m.FloatData)
		case 5:
			return decVarints(typ, b, &m.Int32Data)
		case 6:
			return decBytesList(typ, b, &m.StringData)
		case 7:
			return decVarints(typ, b, &m.Int64Data)
		case 8:
			return decString(typ, b, &m.Name)
		case 9:
			return decBytes(typ, b, &m.RawData)
		case 10:
			return decFloat64s(typ, b, &m.DoubleData)
		case 12:
			return decString(typ, b, &m.DocString)
		}
		return 0, errWireType
	})
}
