package onnxpb

import "strconv"

// The types below mirror onnxpb/internal/pbgen/onnx.proto field for field, with the names,
// Go types and getters protoc-gen-go gives them, so code written against the generated
// package reads the same. They are plain structs: the codec (codec.go) is hand-written on
// protowire, because protobuf-go's reflection runtime cost the browser worker ~0.9 MB gzip.

// AttributeProto_AttributeType says which of an attribute's value fields is set.
type AttributeProto_AttributeType int32

const (
	AttributeProto_UNDEFINED AttributeProto_AttributeType = 0
	AttributeProto_FLOAT     AttributeProto_AttributeType = 1
	AttributeProto_INT       AttributeProto_AttributeType = 2
	AttributeProto_STRING    AttributeProto_AttributeType = 3
	AttributeProto_TENSOR    AttributeProto_AttributeType = 4
	AttributeProto_GRAPH     AttributeProto_AttributeType = 5
	AttributeProto_FLOATS    AttributeProto_AttributeType = 6
	AttributeProto_INTS      AttributeProto_AttributeType = 7
	AttributeProto_STRINGS   AttributeProto_AttributeType = 8
	AttributeProto_TENSORS   AttributeProto_AttributeType = 9
	AttributeProto_GRAPHS    AttributeProto_AttributeType = 10
)

// Enum value maps for AttributeProto_AttributeType.
var (
	AttributeProto_AttributeType_name = map[int32]string{
		0:  "UNDEFINED",
		1:  "FLOAT",
		2:  "INT",
		3:  "STRING",
		4:  "TENSOR",
		5:  "GRAPH",
		6:  "FLOATS",
		7:  "INTS",
		8:  "STRINGS",
		9:  "TENSORS",
		10: "GRAPHS",
	}
	AttributeProto_AttributeType_value = map[string]int32{
		"UNDEFINED": 0,
		"FLOAT":     1,
		"INT":       2,
		"STRING":    3,
		"TENSOR":    4,
		"GRAPH":     5,
		"FLOATS":    6,
		"INTS":      7,
		"STRINGS":   8,
		"TENSORS":   9,
		"GRAPHS":    10,
	}
)

func (x AttributeProto_AttributeType) Enum() *AttributeProto_AttributeType {
	p := new(AttributeProto_AttributeType)
	*p = x
	return p
}

// String is the value's name, or its number for a value the schema does not list (as
// protobuf-go prints it).
func (x AttributeProto_AttributeType) String() string {
	return enumString(AttributeProto_AttributeType_name, int32(x))
}

// TensorProto_DataType is a tensor's element type (TensorProto.DataType, TypeProto_Tensor.ElemType).
type TensorProto_DataType int32

const (
	TensorProto_UNDEFINED TensorProto_DataType = 0
	TensorProto_FLOAT     TensorProto_DataType = 1
	TensorProto_UINT8     TensorProto_DataType = 2
	TensorProto_INT8      TensorProto_DataType = 3
	TensorProto_UINT16    TensorProto_DataType = 4
	TensorProto_INT16     TensorProto_DataType = 5
	TensorProto_INT32     TensorProto_DataType = 6
	TensorProto_INT64     TensorProto_DataType = 7
	TensorProto_STRING    TensorProto_DataType = 8
	TensorProto_BOOL      TensorProto_DataType = 9
	TensorProto_FLOAT16   TensorProto_DataType = 10
	TensorProto_DOUBLE    TensorProto_DataType = 11
)

// Enum value maps for TensorProto_DataType.
var (
	TensorProto_DataType_name = map[int32]string{
		0:  "UNDEFINED",
		1:  "FLOAT",
		2:  "UINT8",
		3:  "INT8",
		4:  "UINT16",
		5:  "INT16",
		6:  "INT32",
		7:  "INT64",
		8:  "STRING",
		9:  "BOOL",
		10: "FLOAT16",
		11: "DOUBLE",
	}
	TensorProto_DataType_value = map[string]int32{
		"UNDEFINED": 0,
		"FLOAT":     1,
		"UINT8":     2,
		"INT8":      3,
		"UINT16":    4,
		"INT16":     5,
		"INT32":     6,
		"INT64":     7,
		"STRING":    8,
		"BOOL":      9,
		"FLOAT16":   10,
		"DOUBLE":    11,
	}
)

func (x TensorProto_DataType) Enum() *TensorProto_DataType {
	p := new(TensorProto_DataType)
	*p = x
	return p
}

// String is the value's name, or its number for a value the schema does not list (as
// protobuf-go prints it).
func (x TensorProto_DataType) String() string {
	return enumString(TensorProto_DataType_name, int32(x))
}

func enumString(names map[int32]string, v int32) string {
	if s, ok := names[v]; ok {
		return s
	}
	return strconv.Itoa(int(v))
}

// isTypeProto_Value is TypeProto's oneof value: *TypeProto_TensorType or nil.
type isTypeProto_Value interface {
	isTypeProto_Value()
}

// TypeProto_TensorType is TypeProto's oneof value when the type is a tensor.
type TypeProto_TensorType struct {
	TensorType *TypeProto_Tensor
}

func (*TypeProto_TensorType) isTypeProto_Value() {}

func (x *TypeProto) GetTensorType() *TypeProto_Tensor {
	if x != nil {
		if x, ok := x.Value.(*TypeProto_TensorType); ok {
			return x.TensorType
		}
	}
	return nil
}

// isTensorShapeProto_Dimension_Value is a dimension's oneof value: *TensorShapeProto_Dimension_DimValue,
// *TensorShapeProto_Dimension_DimParam or nil.
type isTensorShapeProto_Dimension_Value interface {
	isTensorShapeProto_Dimension_Value()
}

// TensorShapeProto_Dimension_DimValue is a dimension given as a number.
type TensorShapeProto_Dimension_DimValue struct {
	DimValue int64
}

// TensorShapeProto_Dimension_DimParam is a dimension given as a symbolic name (a batch size, say).
type TensorShapeProto_Dimension_DimParam struct {
	DimParam string
}

func (*TensorShapeProto_Dimension_DimValue) isTensorShapeProto_Dimension_Value() {}

func (*TensorShapeProto_Dimension_DimParam) isTensorShapeProto_Dimension_Value() {}

func (x *TensorShapeProto_Dimension) GetDimValue() int64 {
	if x != nil {
		if x, ok := x.Value.(*TensorShapeProto_Dimension_DimValue); ok {
			return x.DimValue
		}
	}
	return 0
}

func (x *TensorShapeProto_Dimension) GetDimParam() string {
	if x != nil {
		if x, ok := x.Value.(*TensorShapeProto_Dimension_DimParam); ok {
			return x.DimParam
		}
	}
	return ""
}

// ModelProto is a model: the header, the operator sets, the graph and the metadata.
type ModelProto struct {
	IrVersion       int64
	OpsetImport     []*OperatorSetIdProto
	ProducerName    string
	ProducerVersion string
	Domain          string
	ModelVersion    int64
	DocString       string
	Graph           *GraphProto
	MetadataProps   []*StringStringEntryProto

	unknownFields []byte // fields this schema does not list, as read: written back after the known ones
}

func (x *ModelProto) GetIrVersion() int64 {
	if x != nil {
		return x.IrVersion
	}
	return 0
}

func (x *ModelProto) GetOpsetImport() []*OperatorSetIdProto {
	if x != nil {
		return x.OpsetImport
	}
	return nil
}

func (x *ModelProto) GetProducerName() string {
	if x != nil {
		return x.ProducerName
	}
	return ""
}

func (x *ModelProto) GetProducerVersion() string {
	if x != nil {
		return x.ProducerVersion
	}
	return ""
}

func (x *ModelProto) GetDomain() string {
	if x != nil {
		return x.Domain
	}
	return ""
}

func (x *ModelProto) GetModelVersion() int64 {
	if x != nil {
		return x.ModelVersion
	}
	return 0
}

func (x *ModelProto) GetDocString() string {
	if x != nil {
		return x.DocString
	}
	return ""
}

func (x *ModelProto) GetGraph() *GraphProto {
	if x != nil {
		return x.Graph
	}
	return nil
}

func (x *ModelProto) GetMetadataProps() []*StringStringEntryProto {
	if x != nil {
		return x.MetadataProps
	}
	return nil
}

// OperatorSetIdProto is an operator set the model uses.
type OperatorSetIdProto struct {
	Domain  string
	Version int64

	unknownFields []byte // fields this schema does not list, as read: written back after the known ones
}

func (x *OperatorSetIdProto) GetDomain() string {
	if x != nil {
		return x.Domain
	}
	return ""
}

func (x *OperatorSetIdProto) GetVersion() int64 {
	if x != nil {
		return x.Version
	}
	return 0
}

// StringStringEntryProto is one metadata entry.
type StringStringEntryProto struct {
	Key   string
	Value string

	unknownFields []byte // fields this schema does not list, as read: written back after the known ones
}

func (x *StringStringEntryProto) GetKey() string {
	if x != nil {
		return x.Key
	}
	return ""
}

func (x *StringStringEntryProto) GetValue() string {
	if x != nil {
		return x.Value
	}
	return ""
}

// GraphProto is the computation: nodes in topological order, weights, inputs and outputs.
type GraphProto struct {
	Node        []*NodeProto
	Name        string
	Initializer []*TensorProto
	DocString   string
	Input       []*ValueInfoProto
	Output      []*ValueInfoProto
	ValueInfo   []*ValueInfoProto

	unknownFields []byte // fields this schema does not list, as read: written back after the known ones
}

func (x *GraphProto) GetNode() []*NodeProto {
	if x != nil {
		return x.Node
	}
	return nil
}

func (x *GraphProto) GetName() string {
	if x != nil {
		return x.Name
	}
	return ""
}

func (x *GraphProto) GetInitializer() []*TensorProto {
	if x != nil {
		return x.Initializer
	}
	return nil
}

func (x *GraphProto) GetDocString() string {
	if x != nil {
		return x.DocString
	}
	return ""
}

func (x *GraphProto) GetInput() []*ValueInfoProto {
	if x != nil {
		return x.Input
	}
	return nil
}

func (x *GraphProto) GetOutput() []*ValueInfoProto {
	if x != nil {
		return x.Output
	}
	return nil
}

func (x *GraphProto) GetValueInfo() []*ValueInfoProto {
	if x != nil {
		return x.ValueInfo
	}
	return nil
}

// NodeProto is one operator call.
type NodeProto struct {
	Input     []string
	Output    []string
	Name      string
	OpType    string
	Domain    string
	Attribute []*AttributeProto
	DocString string

	unknownFields []byte // fields this schema does not list, as read: written back after the known ones
}

func (x *NodeProto) GetInput() []string {
	if x != nil {
		return x.Input
	}
	return nil
}

func (x *NodeProto) GetOutput() []string {
	if x != nil {
		return x.Output
	}
	return nil
}

func (x *NodeProto) GetName() string {
	if x != nil {
		return x.Name
	}
	return ""
}

func (x *NodeProto) GetOpType() string {
	if x != nil {
		return x.OpType
	}
	return ""
}

func (x *NodeProto) GetDomain() string {
	if x != nil {
		return x.Domain
	}
	return ""
}

func (x *NodeProto) GetAttribute() []*AttributeProto {
	if x != nil {
		return x.Attribute
	}
	return nil
}

func (x *NodeProto) GetDocString() string {
	if x != nil {
		return x.DocString
	}
	return ""
}

// AttributeProto is a named attribute of a node.
type AttributeProto struct {
	Name    string
	Type    AttributeProto_AttributeType
	F       float32
	I       int64
	S       []byte
	T       *TensorProto
	G       *GraphProto
	Floats  []float32
	Ints    []int64
	Strings [][]byte
	Tensors []*TensorProto

	unknownFields []byte // fields this schema does not list, as read: written back after the known ones
}

func (x *AttributeProto) GetName() string {
	if x != nil {
		return x.Name
	}
	return ""
}

func (x *AttributeProto) GetType() AttributeProto_AttributeType {
	if x != nil {
		return x.Type
	}
	return AttributeProto_UNDEFINED
}

func (x *AttributeProto) GetF() float32 {
	if x != nil {
		return x.F
	}
	return 0
}

func (x *AttributeProto) GetI() int64 {
	if x != nil {
		return x.I
	}
	return 0
}

func (x *AttributeProto) GetS() []byte {
	if x != nil {
		return x.S
	}
	return nil
}

func (x *AttributeProto) GetT() *TensorProto {
	if x != nil {
		return x.T
	}
	return nil
}

func (x *AttributeProto) GetG() *GraphProto {
	if x != nil {
		return x.G
	}
	return nil
}

func (x *AttributeProto) GetFloats() []float32 {
	if x != nil {
		return x.Floats
	}
	return nil
}

func (x *AttributeProto) GetInts() []int64 {
	if x != nil {
		return x.Ints
	}
	return nil
}

func (x *AttributeProto) GetStrings() [][]byte {
	if x != nil {
		return x.Strings
	}
	return nil
}

func (x *AttributeProto) GetTensors() []*TensorProto {
	if x != nil {
		return x.Tensors
	}
	return nil
}

// ValueInfoProto is a graph input, output or intermediate value with its type.
type ValueInfoProto struct {
	Name      string
	Type      *TypeProto
	DocString string

	unknownFields []byte // fields this schema does not list, as read: written back after the known ones
}

func (x *ValueInfoProto) GetName() string {
	if x != nil {
		return x.Name
	}
	return ""
}

func (x *ValueInfoProto) GetType() *TypeProto {
	if x != nil {
		return x.Type
	}
	return nil
}

func (x *ValueInfoProto) GetDocString() string {
	if x != nil {
		return x.DocString
	}
	return ""
}

// TypeProto is a value's type; only tensors are modelled (oneof value).
type TypeProto struct {
	Value      isTypeProto_Value
	Denotation string

	unknownFields []byte // fields this schema does not list, as read: written back after the known ones
}

func (x *TypeProto) GetValue() isTypeProto_Value {
	if x != nil {
		return x.Value
	}
	return nil
}

func (x *TypeProto) GetDenotation() string {
	if x != nil {
		return x.Denotation
	}
	return ""
}

// TensorShapeProto is a tensor's shape.
type TensorShapeProto struct {
	Dim []*TensorShapeProto_Dimension

	unknownFields []byte // fields this schema does not list, as read: written back after the known ones
}

func (x *TensorShapeProto) GetDim() []*TensorShapeProto_Dimension {
	if x != nil {
		return x.Dim
	}
	return nil
}

// TensorProto is a tensor: a weight or a constant.
type TensorProto struct {
	Dims       []int64
	DataType   int32
	FloatData  []float32
	Int32Data  []int32
	StringData [][]byte
	Int64Data  []int64
	Name       string
	DocString  string
	RawData    []byte
	DoubleData []float64

	unknownFields []byte // fields this schema does not list, as read: written back after the known ones
}

func (x *TensorProto) GetDims() []int64 {
	if x != nil {
		return x.Dims
	}
	return nil
}

func (x *TensorProto) GetDataType() int32 {
	if x != nil {
		return x.DataType
	}
	return 0
}

func (x *TensorProto) GetFloatData() []float32 {
	if x != nil {
		return x.FloatData
	}
	return nil
}

func (x *TensorProto) GetInt32Data() []int32 {
	if x != nil {
		return x.Int32Data
	}
	return nil
}

func (x *TensorProto) GetStringData() [][]byte {
	if x != nil {
		return x.StringData
	}
	return nil
}

func (x *TensorProto) GetInt64Data() []int64 {
	if x != nil {
		return x.Int64Data
	}
	return nil
}

func (x *TensorProto) GetName() string {
	if x != nil {
		return x.Name
	}
	return ""
}

func (x *TensorProto) GetDocString() string {
	if x != nil {
		return x.DocString
	}
	return ""
}

func (x *TensorProto) GetRawData() []byte {
	if x != nil {
		return x.RawData
	}
	return nil
}

func (x *TensorProto) GetDoubleData() []float64 {
	if x != nil {
		return x.DoubleData
	}
	return nil
}

// TypeProto_Tensor is a tensor type: element type and shape.
type TypeProto_Tensor struct {
	ElemType int32
	Shape    *TensorShapeProto

	unknownFields []byte // fields this schema does not list, as read: written back after the known ones
}

func (x *TypeProto_Tensor) GetElemType() int32 {
	if x != nil {
		return x.ElemType
	}
	return 0
}

func (x *TypeProto_Tensor) GetShape() *TensorShapeProto {
	if x != nil {
		return x.Shape
	}
	return nil
}

// TensorShapeProto_Dimension is one dimension, a number or a symbolic name (oneof value).
type TensorShapeProto_Dimension struct {
	Value      isTensorShapeProto_Dimension_Value
	Denotation string

	unknownFields []byte // fields this schema does not list, as read: written back after the known ones
}

func (x *TensorShapeProto_Dimension) GetValue() isTensorShapeProto_Dimension_Value {
	if x != nil {
		return x.Value
	}
	return nil
}

func (x *TensorShapeProto_Dimension) GetDenotation() string {
	if x != nil {
		return x.Denotation
	}
	return ""
}
