package onnxpb

// UnknownField points at a message's unknown fields, for the external tests that compare
// them with protobuf-go's; nil for a value that is not a message (a oneof wrapper).
func UnknownField(m any) *[]byte {
	switch m := m.(type) {
	case *ModelProto:
		return &m.unknownFields
	case *OperatorSetIdProto:
		return &m.unknownFields
	case *StringStringEntryProto:
		return &m.unknownFields
	case *GraphProto:
		return &m.unknownFields
	case *NodeProto:
		return &m.unknownFields
	case *AttributeProto:
		return &m.unknownFields
	case *ValueInfoProto:
		return &m.unknownFields
	case *TypeProto:
		return &m.unknownFields
	case *TypeProto_Tensor:
		return &m.unknownFields
	case *TensorShapeProto:
		return &m.unknownFields
	case *TensorShapeProto_Dimension:
		return &m.unknownFields
	case *TensorProto:
		return &m.unknownFields
	}
	return nil
}
