package onnxpb_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"pneumoscan/internal/testmodel"
	"pneumoscan/model"
	"pneumoscan/modelfile"
	"pneumoscan/onnxpb"
	"pneumoscan/onnxpb/internal/pbgen"
	"pneumoscan/resnet"
)

// The hand-written codec is checked against protobuf-go with the generated code (pbgen):
// every input is decoded by both and compared field by field, and re-encoded by both and
// compared byte for byte; hand-built messages are converted field by field into generated
// ones and encoded by both. What protobuf-go does is the specification.

// pairs lists each hand-written type with its generated twin.
var pairs = []struct{ mine, gen any }{
	{&onnxpb.ModelProto{}, &pbgen.ModelProto{}},
	{&onnxpb.OperatorSetIdProto{}, &pbgen.OperatorSetIdProto{}},
	{&onnxpb.StringStringEntryProto{}, &pbgen.StringStringEntryProto{}},
	{&onnxpb.GraphProto{}, &pbgen.GraphProto{}},
	{&onnxpb.NodeProto{}, &pbgen.NodeProto{}},
	{&onnxpb.AttributeProto{}, &pbgen.AttributeProto{}},
	{&onnxpb.ValueInfoProto{}, &pbgen.ValueInfoProto{}},
	{&onnxpb.TypeProto{}, &pbgen.TypeProto{}},
	{&onnxpb.TypeProto_Tensor{}, &pbgen.TypeProto_Tensor{}},
	{&onnxpb.TensorShapeProto{}, &pbgen.TensorShapeProto{}},
	{&onnxpb.TensorShapeProto_Dimension{}, &pbgen.TensorShapeProto_Dimension{}},
	{&onnxpb.TensorProto{}, &pbgen.TensorProto{}},
	{&onnxpb.TypeProto_TensorType{}, &pbgen.TypeProto_TensorType{}},
	{&onnxpb.TensorShapeProto_Dimension_DimValue{}, &pbgen.TensorShapeProto_Dimension_DimValue{}},
	{&onnxpb.TensorShapeProto_Dimension_DimParam{}, &pbgen.TensorShapeProto_Dimension_DimParam{}},
}

// genType maps a type name to the generated pointer type (for oneof wrappers).
var genType = func() map[string]reflect.Type {
	m := map[string]reflect.Type{}
	for _, p := range pairs {
		t := reflect.TypeOf(p.gen)
		m[t.Elem().Name()] = t
	}
	return m
}()

// typeShape names a Go type with its package left out, so that []*onnxpb.NodeProto and
// []*pbgen.NodeProto read the same.
func typeShape(t reflect.Type) string {
	return strings.NewReplacer("onnxpb.", "", "pbgen.", "").Replace(t.String())
}

// TestSameAPI: every type has the generated type's exported fields (names, order and types)
// and its getters, and no other exported field, so code written for one compiles with the other.
func TestSameAPI(t *testing.T) {
	for _, p := range pairs {
		mt, gt := reflect.TypeOf(p.mine), reflect.TypeOf(p.gen)
		if mt.Elem().Name() != gt.Elem().Name() {
			t.Fatalf("%v paired with %v", mt, gt)
		}
		var mf, gf []string
		for f := range mt.Elem().Fields() {
			if f.IsExported() {
				mf = append(mf, f.Name+" "+typeShape(f.Type))
			}
		}
		for f := range gt.Elem().Fields() {
			if f.IsExported() {
				gf = append(gf, f.Name+" "+typeShape(f.Type))
			}
		}
		if !reflect.DeepEqual(mf, gf) {
			t.Errorf("%s fields:\n  %v\nwant\n  %v", mt.Elem().Name(), mf, gf)
		}
		for meth := range gt.Methods() {
			if !strings.HasPrefix(meth.Name, "Get") {
				continue
			}
			mm, ok := mt.MethodByName(meth.Name)
			if !ok {
				t.Errorf("%s lacks %s", mt.Elem().Name(), meth.Name)
				continue
			}
			if got, want := typeShape(mm.Type.Out(0)), typeShape(meth.Type.Out(0)); got != want {
				t.Errorf("%s.%s returns %s, want %s", mt.Elem().Name(), meth.Name, got, want)
			}
		}
	}
	for v := int32(-1); v <= 21; v++ {
		if got, want := onnxpb.TensorProto_DataType(v).String(), pbgen.TensorProto_DataType(v).String(); got != want {
			t.Errorf("TensorProto_DataType(%d) is %q, want %q", v, got, want)
		}
		if got, want := onnxpb.AttributeProto_AttributeType(v).String(), pbgen.AttributeProto_AttributeType(v).String(); got != want {
			t.Errorf("AttributeProto_AttributeType(%d) is %q, want %q", v, got, want)
		}
	}
	if !reflect.DeepEqual(onnxpb.TensorProto_DataType_value, pbgen.TensorProto_DataType_value) ||
		!reflect.DeepEqual(onnxpb.AttributeProto_AttributeType_value, pbgen.AttributeProto_AttributeType_value) {
		t.Error("enum value maps differ")
	}
	// Getters on nil return zero values, as generated ones do.
	var n *onnxpb.TensorShapeProto_Dimension
	if n.GetDimValue() != 0 || n.GetDimParam() != "" || (*onnxpb.ModelProto)(nil).GetGraph().GetNode() != nil {
		t.Error("getters on nil")
	}
}

// toGen converts a hand-written value (a message pointer, a slice, a scalar) into the
// generated type gt, field by field, unknown fields included.
func toGen(a reflect.Value, gt reflect.Type) reflect.Value {
	switch a.Kind() {
	case reflect.Pointer:
		if a.IsNil() {
			return reflect.Zero(gt)
		}
		b := reflect.New(gt.Elem())
		for i, f := range reflect.VisibleFields(a.Type().Elem()) {
			if !f.IsExported() {
				continue
			}
			av, bv := a.Elem().Field(i), b.Elem().FieldByName(f.Name)
			if f.Type.Kind() == reflect.Interface { // a oneof: its wrapper, by name
				if !av.IsNil() {
					bv.Set(toGen(av.Elem(), genType[av.Elem().Type().Elem().Name()]))
				}
				continue
			}
			bv.Set(toGen(av, bv.Type()))
		}
		if u := onnxpb.UnknownField(a.Interface()); u != nil && *u != nil {
			b.Interface().(proto.Message).ProtoReflect().SetUnknown(append([]byte{}, *u...))
		}
		return b
	case reflect.Slice:
		if a.IsNil() {
			return reflect.Zero(gt)
		}
		b := reflect.MakeSlice(gt, a.Len(), a.Len())
		if k := a.Type().Elem().Kind(); k != reflect.Pointer && k != reflect.Slice { // numbers, bytes: the same Go type
			reflect.Copy(b, a)
			return b
		}
		for i := range a.Len() {
			b.Index(i).Set(toGen(a.Index(i), gt.Elem()))
		}
		return b
	}
	return a.Convert(gt)
}

func genOf(m *onnxpb.ModelProto) *pbgen.ModelProto {
	return toGen(reflect.ValueOf(m), reflect.TypeOf(&pbgen.ModelProto{})).Interface().(*pbgen.ModelProto)
}

// sameFields reports (on t) every difference between a hand-written value a and a generated b.
// (No t.Helper here: it is recursive, and Helper costs the stack's depth at each call.)
func sameFields(t *testing.T, path string, a, b reflect.Value) {
	if len(path) > 200 { // deep nesting: keep the path short, or building it is quadratic
		path = "..." + path[len(path)-100:]
	}
	switch a.Kind() {
	case reflect.Pointer:
		if a.IsNil() || b.IsNil() {
			if a.IsNil() != b.IsNil() {
				t.Errorf("%s: nil %v here, nil %v in protobuf-go", path, a.IsNil(), b.IsNil())
			}
			return
		}
		for i, f := range reflect.VisibleFields(a.Type().Elem()) {
			if !f.IsExported() {
				continue
			}
			av, bv := a.Elem().Field(i), b.Elem().FieldByName(f.Name)
			if f.Type.Kind() == reflect.Interface {
				if av.IsNil() != bv.IsNil() {
					t.Errorf("%s.%s: oneof set %v here, %v in protobuf-go", path, f.Name, !av.IsNil(), !bv.IsNil())
					continue
				}
				if av.IsNil() {
					continue
				}
				if an, bn := av.Elem().Type().Elem().Name(), bv.Elem().Type().Elem().Name(); an != bn {
					t.Errorf("%s.%s: oneof holds %s here, %s in protobuf-go", path, f.Name, an, bn)
					continue
				}
				av, bv = av.Elem(), bv.Elem()
			}
			sameFields(t, path+"."+f.Name, av, bv)
		}
		if pm, ok := b.Interface().(proto.Message); ok {
			if u, g := *onnxpb.UnknownField(a.Interface()), pm.ProtoReflect().GetUnknown(); !bytes.Equal(u, g) {
				t.Errorf("%s: unknown fields %x here, %x in protobuf-go", path, u, g)
			}
		}
	case reflect.Slice:
		if a.Type().Elem().Kind() == reflect.Uint8 {
			if !bytes.Equal(a.Bytes(), b.Bytes()) {
				t.Errorf("%s: %q here, %q in protobuf-go", path, a.Bytes(), b.Bytes())
			}
			return
		}
		if a.Len() != b.Len() {
			t.Errorf("%s: %d elements here, %d in protobuf-go", path, a.Len(), b.Len())
			return
		}
		if k := a.Type().Elem().Kind(); k != reflect.Pointer && k != reflect.Slice {
			// Numbers, the same Go type: compared by their bits (NaN too), fast for weights.
			if k == reflect.String {
				if !slices.Equal(a.Interface().([]string), b.Interface().([]string)) {
					t.Errorf("%s: %q here, %q in protobuf-go", path, a.Interface(), b.Interface())
				}
				return
			}
			var x, y bytes.Buffer
			if err := errors.Join(binary.Write(&x, binary.LittleEndian, a.Interface()), binary.Write(&y, binary.LittleEndian, b.Interface())); err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			if !bytes.Equal(x.Bytes(), y.Bytes()) {
				t.Errorf("%s: %v here, %v in protobuf-go", path, a.Interface(), b.Interface())
			}
			return
		}
		for i := range a.Len() {
			sameFields(t, path+"["+strconv.Itoa(i)+"]", a.Index(i), b.Index(i))
		}
	case reflect.Float32, reflect.Float64:
		if math.Float64bits(a.Float()) != math.Float64bits(b.Float()) {
			t.Errorf("%s: %v here, %v in protobuf-go", path, a.Float(), b.Float())
		}
	case reflect.String:
		if a.String() != b.String() {
			t.Errorf("%s: %q here, %q in protobuf-go", path, a.String(), b.String())
		}
	default:
		if a.Int() != b.Int() {
			t.Errorf("%s: %d here, %d in protobuf-go", path, a.Int(), b.Int())
		}
	}
}

// crossCheck decodes data with both codecs: both refuse it, or both give the same message,
// which both encode to the same bytes. It reports whether data decoded.
func crossCheck(t *testing.T, name string, data []byte) bool {
	t.Helper()
	var m onnxpb.ModelProto
	err := onnxpb.Unmarshal(data, &m)
	g := &pbgen.ModelProto{}
	gerr := proto.Unmarshal(data, g)
	if (err == nil) != (gerr == nil) {
		t.Errorf("%s: onnxpb.Unmarshal: %v; proto.Unmarshal: %v", name, err, gerr)
		return false
	}
	if err != nil {
		return false
	}
	sameFields(t, name, reflect.ValueOf(&m), reflect.ValueOf(g))
	encodeCheck(t, name, &m)
	want, err := proto.MarshalOptions{Deterministic: true}.Marshal(g)
	if err != nil {
		t.Fatalf("%s: protobuf-go re-encodes: %v", name, err)
	}
	if got, _ := onnxpb.Marshal(&m); !bytes.Equal(got, want) {
		t.Errorf("%s: re-encoded to %d bytes, protobuf-go to %d, or different ones", name, len(got), len(want))
	}
	return true
}

// encodeCheck encodes a hand-written message and its generated copy: same bytes (or both
// refuse), and the bytes decode back to an equal message.
func encodeCheck(t *testing.T, name string, m *onnxpb.ModelProto) []byte {
	t.Helper()
	g := genOf(m)
	sameFields(t, name+" (converted)", reflect.ValueOf(m), reflect.ValueOf(g))
	got, err := onnxpb.Marshal(m)
	want, gerr := proto.MarshalOptions{Deterministic: true}.Marshal(g)
	if (err == nil) != (gerr == nil) {
		t.Fatalf("%s: onnxpb.Marshal: %v; protobuf-go: %v", name, err, gerr)
	}
	if err != nil {
		return nil
	}
	if !bytes.Equal(got, want) {
		i := 0
		for i < min(len(got), len(want)) && got[i] == want[i] {
			i++
		}
		t.Fatalf("%s: onnxpb.Marshal wrote %d bytes, protobuf-go %d; they differ from byte %d:\n%x\n%x", name, len(got), len(want), i, head(got[i:]), head(want[i:]))
	}
	var back onnxpb.ModelProto
	if err := onnxpb.Unmarshal(got, &back); err != nil {
		t.Fatalf("%s: Marshal's bytes do not decode: %v", name, err)
	}
	if !onnxpb.Equal(&back, m) || !proto.Equal(genOf(&back), g) {
		t.Errorf("%s: does not round-trip to an equal message", name)
	}
	if c := onnxpb.Clone(m); !onnxpb.Equal(c, m) {
		t.Errorf("%s: Clone is not Equal to the original", name)
	} else if b, _ := onnxpb.Marshal(c); !bytes.Equal(b, got) {
		t.Errorf("%s: Clone encodes differently", name)
	}
	return got
}

func head(b []byte) []byte {
	if len(b) > 200 {
		return b[:200]
	}
	return b
}

// demoModel is what modelconv demo builds (its seeds and width; the command is package main).
func demoModel(t *testing.T) *onnxpb.ModelProto {
	b, err := resnet.RandomBackbone(resnet.ResNet50, 1)
	if err != nil {
		t.Fatal(err)
	}
	h, err := resnet.RandomHead(resnet.ResNet50.Features(), 128, 2)
	if err != nil {
		t.Fatal(err)
	}
	m, err := modelfile.Build(b, h, model.Metadata{
		Name: "pneumoscan-demo", Version: "0.1.0", Description: "the demonstration model's graph, for the codec cross-check",
		Preprocess: model.ImageNetPreprocess(224), Classes: []string{"NORMAL", "PNEUMONIA"},
		Thresholds: []model.Threshold{{Name: "default", Value: 0.5, Criterion: "none"}}, Operating: "default",
		Temperature: 1, Metrics: map[string]float64{},
	})
	if err != nil {
		t.Fatal(err)
	}
	if m, err = modelfile.Quantize(m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestModelsCrossCheck(t *testing.T) {
	for name, data := range map[string][]byte{
		"tiny":    testmodel.Tiny(t),
		"shipped": testmodel.Shipped(t),
	} {
		if !crossCheck(t, name, data) {
			t.Fatalf("%s does not decode", name)
		}
		if got, _ := modelfile.Unmarshal(data); got == nil {
			t.Fatalf("%s: modelfile.Unmarshal refuses it", name)
		}
	}
	if testing.Short() {
		t.Skip("builds a ResNet50")
	}
	crossCheck(t, "demo", encodeCheck(t, "demo", demoModel(t)))
}

// unknown is one field of each wire type with numbers the schema does not use, a group too.
func unknown(base protowire.Number) []byte {
	var b []byte
	b = protowire.AppendTag(b, base, protowire.VarintType)
	b = protowire.AppendVarint(b, 300)
	b = protowire.AppendTag(b, base+1, protowire.Fixed32Type)
	b = protowire.AppendFixed32(b, 7)
	b = protowire.AppendTag(b, base+2, protowire.Fixed64Type)
	b = protowire.AppendFixed64(b, 9)
	b = protowire.AppendTag(b, base+3, protowire.BytesType)
	b = protowire.AppendString(b, "opaque")
	b = protowire.AppendTag(b, base+4, protowire.StartGroupType)
	b = protowire.AppendTag(b, 1, protowire.VarintType)
	b = protowire.AppendVarint(b, 1)
	b = protowire.AppendTag(b, base+4, protowire.EndGroupType)
	return b
}

func withUnknown[T any](m *T, base protowire.Number) *T {
	*onnxpb.UnknownField(m) = unknown(base)
	return m
}

// full sets every field of every message, and unknown fields in each.
func full() *onnxpb.ModelProto {
	tensor := func(name string) *onnxpb.TensorProto {
		return withUnknown(&onnxpb.TensorProto{
			Dims: []int64{2, -3, 1 << 40}, DataType: -5,
			FloatData: []float32{1.5, float32(math.Copysign(0, -1)), float32(math.NaN()), float32(math.Inf(-1))},
			Int32Data: []int32{-1, 0, math.MaxInt32}, StringData: [][]byte{nil, []byte("s"), {}},
			Int64Data: []int64{math.MinInt64, 0}, Name: name, DocString: "doc", RawData: []byte{0, 1, 2},
			DoubleData: []float64{math.Pi, -0.0},
		}, 200)
	}
	shape := withUnknown(&onnxpb.TensorShapeProto{Dim: []*onnxpb.TensorShapeProto_Dimension{
		withUnknown(&onnxpb.TensorShapeProto_Dimension{Value: &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: 0}, Denotation: "N"}, 300),
		{Value: &onnxpb.TensorShapeProto_Dimension_DimParam{DimParam: ""}},
		{Value: &onnxpb.TensorShapeProto_Dimension_DimParam{DimParam: "batch"}},
		{Value: &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: -7}},
		{},
		nil,
	}}, 310)
	vi := func(name string) *onnxpb.ValueInfoProto {
		return withUnknown(&onnxpb.ValueInfoProto{Name: name, DocString: "v", Type: withUnknown(&onnxpb.TypeProto{
			Value:      &onnxpb.TypeProto_TensorType{TensorType: withUnknown(&onnxpb.TypeProto_Tensor{ElemType: 1, Shape: shape}, 320)},
			Denotation: "IMAGE",
		}, 330)}, 340)
	}
	sub := &onnxpb.GraphProto{Name: "sub", Node: []*onnxpb.NodeProto{{OpType: "Identity"}}}
	attr := withUnknown(&onnxpb.AttributeProto{
		Name: "a", Type: onnxpb.AttributeProto_TENSORS, F: float32(math.Copysign(0, -1)), I: -1, S: []byte("bytes"),
		T: tensor("t"), G: sub, Floats: []float32{0.25, -0.0}, Ints: []int64{1, -1},
		Strings: [][]byte{[]byte("x"), nil}, Tensors: []*onnxpb.TensorProto{tensor("u"), nil, {}},
	}, 400)
	node := withUnknown(&onnxpb.NodeProto{
		Input: []string{"x", "", "w"}, Output: []string{"y"}, Name: "n", OpType: "Conv", Domain: "ai.onnx",
		Attribute: []*onnxpb.AttributeProto{attr, {Name: "neg", Type: -3}, nil}, DocString: "node",
	}, 500)
	graph := withUnknown(&onnxpb.GraphProto{
		Node: []*onnxpb.NodeProto{node, nil, {}}, Name: "g", Initializer: []*onnxpb.TensorProto{tensor("w"), {}},
		DocString: "graph", Input: []*onnxpb.ValueInfoProto{vi("x")}, Output: []*onnxpb.ValueInfoProto{vi("y"), nil},
		ValueInfo: []*onnxpb.ValueInfoProto{{Name: "z", Type: &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{}}}, {Type: &onnxpb.TypeProto{}}},
	}, 600)
	return withUnknown(&onnxpb.ModelProto{
		IrVersion: 8, OpsetImport: []*onnxpb.OperatorSetIdProto{withUnknown(&onnxpb.OperatorSetIdProto{Domain: "", Version: 17}, 700), nil},
		ProducerName: "pneumoscan", ProducerVersion: "1", Domain: "d", ModelVersion: -2, DocString: "model ✓",
		Graph: graph, MetadataProps: []*onnxpb.StringStringEntryProto{withUnknown(&onnxpb.StringStringEntryProto{Key: "k", Value: "v"}, 800), {}},
	}, 900)
}

func TestEveryFieldCrossCheck(t *testing.T) {
	data := encodeCheck(t, "full", full())
	if !crossCheck(t, "full", data) {
		t.Fatal("the full message does not decode")
	}
	// Every unknown field survives a decode and re-encode in its message.
	var m onnxpb.ModelProto
	if err := onnxpb.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		msg  any
		base protowire.Number
	}{
		{"model", &m, 900}, {"graph", m.Graph, 600}, {"node", m.Graph.Node[0], 500},
		{"attribute", m.Graph.Node[0].Attribute[0], 400}, {"tensor", m.Graph.Initializer[0], 200},
		{"value info", m.Graph.Input[0], 340}, {"type", m.Graph.Input[0].Type, 330},
		{"tensor type", m.Graph.Input[0].Type.GetTensorType(), 320},
		{"shape", m.Graph.Input[0].Type.GetTensorType().Shape, 310},
		{"dimension", m.Graph.Input[0].Type.GetTensorType().Shape.Dim[0], 300},
		{"opset", m.OpsetImport[0], 700}, {"metadata", m.MetadataProps[0], 800},
	} {
		if got := *onnxpb.UnknownField(c.msg); !bytes.Equal(got, unknown(c.base)) {
			t.Errorf("%s: unknown fields %x, want %x", c.name, got, unknown(c.base))
		}
	}
	// A string that is not UTF-8 is refused by both encoders.
	bad := full()
	bad.Graph.Node[0].Input[1] = "\xff"
	encodeCheck(t, "invalid UTF-8", bad)
	if _, err := onnxpb.Marshal(bad); err == nil {
		t.Error("Marshal wrote a string field that is not UTF-8")
	}
}

func TestClone(t *testing.T) {
	m := full()
	c := onnxpb.Clone(m)
	c.Graph.Initializer[0].RawData[0] = 99
	c.Graph.Node[0].Input[0] = "changed"
	c.Graph.Input[0].Type.GetTensorType().Shape.Dim[0].Value.(*onnxpb.TensorShapeProto_Dimension_DimValue).DimValue = 5
	(*onnxpb.UnknownField(c.Graph))[1] = 0
	if !onnxpb.Equal(m, full()) {
		t.Error("changing the clone changed the original")
	}
	if onnxpb.Equal(m, c) {
		t.Error("Equal misses the changes")
	}
	if onnxpb.Clone(nil) != nil || !onnxpb.Equal(nil, nil) || onnxpb.Equal(nil, m) || onnxpb.Equal(m, nil) {
		t.Error("nil models")
	}
}

// TestEqualAsProtobufGo: Equal agrees with proto.Equal on the cases where equality is subtle.
func TestEqualAsProtobufGo(t *testing.T) {
	negZero := float32(math.Copysign(0, -1))
	nan := float32(math.NaN())
	g := func(nodes ...*onnxpb.NodeProto) *onnxpb.ModelProto {
		return &onnxpb.ModelProto{Graph: &onnxpb.GraphProto{Node: nodes}}
	}
	attr := func(a *onnxpb.AttributeProto) *onnxpb.ModelProto {
		return g(&onnxpb.NodeProto{Attribute: []*onnxpb.AttributeProto{a}})
	}
	tt := func(v *onnxpb.TypeProto) *onnxpb.ModelProto {
		return &onnxpb.ModelProto{Graph: &onnxpb.GraphProto{Input: []*onnxpb.ValueInfoProto{{Type: v}}}}
	}
	dim := func(d *onnxpb.TensorShapeProto_Dimension) *onnxpb.ModelProto {
		return tt(&onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{TensorType: &onnxpb.TypeProto_Tensor{
			Shape: &onnxpb.TensorShapeProto{Dim: []*onnxpb.TensorShapeProto_Dimension{d}}}}})
	}
	unk := func(b ...byte) *onnxpb.ModelProto {
		m := &onnxpb.ModelProto{}
		*onnxpb.UnknownField(m) = b
		return m
	}
	cases := [][2]*onnxpb.ModelProto{
		{{}, {}},
		{{}, {Graph: &onnxpb.GraphProto{}}},
		{g(nil), g(&onnxpb.NodeProto{})},
		{g(nil), g()},
		{attr(&onnxpb.AttributeProto{F: negZero}), attr(&onnxpb.AttributeProto{})},
		{attr(&onnxpb.AttributeProto{F: negZero}), attr(&onnxpb.AttributeProto{F: negZero})},
		{attr(&onnxpb.AttributeProto{F: nan}), attr(&onnxpb.AttributeProto{F: nan})},
		{attr(&onnxpb.AttributeProto{F: nan}), attr(&onnxpb.AttributeProto{F: 1})},
		{attr(&onnxpb.AttributeProto{Floats: []float32{negZero, nan}}), attr(&onnxpb.AttributeProto{Floats: []float32{0, nan}})},
		{attr(&onnxpb.AttributeProto{S: []byte{}}), attr(&onnxpb.AttributeProto{})},
		{attr(&onnxpb.AttributeProto{Strings: [][]byte{{}}}), attr(&onnxpb.AttributeProto{Strings: [][]byte{nil}})},
		{attr(&onnxpb.AttributeProto{T: &onnxpb.TensorProto{}}), attr(&onnxpb.AttributeProto{})},
		{attr(&onnxpb.AttributeProto{Tensors: []*onnxpb.TensorProto{nil}}), attr(&onnxpb.AttributeProto{Tensors: []*onnxpb.TensorProto{{}}})},
		{tt(&onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{}}), tt(&onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{TensorType: &onnxpb.TypeProto_Tensor{}}})},
		{tt(&onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{}}), tt(&onnxpb.TypeProto{})},
		{dim(&onnxpb.TensorShapeProto_Dimension{Value: &onnxpb.TensorShapeProto_Dimension_DimValue{}}), dim(&onnxpb.TensorShapeProto_Dimension{})},
		{dim(&onnxpb.TensorShapeProto_Dimension{Value: &onnxpb.TensorShapeProto_Dimension_DimParam{}}), dim(&onnxpb.TensorShapeProto_Dimension{Value: &onnxpb.TensorShapeProto_Dimension_DimValue{}})},
		{dim(&onnxpb.TensorShapeProto_Dimension{Value: &onnxpb.TensorShapeProto_Dimension_DimParam{DimParam: "a"}}), dim(&onnxpb.TensorShapeProto_Dimension{Value: &onnxpb.TensorShapeProto_Dimension_DimParam{DimParam: "a"}})},
		{unk(8, 1, 16, 2), unk(16, 2, 8, 1)},
		{unk(8, 1, 8, 2), unk(8, 2, 8, 1)},
		{unk(8, 1), unk()},
		{full(), full()},
		{full(), onnxpb.Clone(full())},
	}
	for i, c := range cases {
		if got, want := onnxpb.Equal(c[0], c[1]), proto.Equal(genOf(c[0]), genOf(c[1])); got != want {
			t.Errorf("case %d: Equal %v, proto.Equal %v", i, got, want)
		}
		if got, want := onnxpb.Equal(c[1], c[0]), proto.Equal(genOf(c[1]), genOf(c[0])); got != want {
			t.Errorf("case %d swapped: Equal %v, proto.Equal %v", i, got, want)
		}
	}
}

// field appends one field to b.
func field(b []byte, num protowire.Number, typ protowire.Type, v []byte) []byte {
	return append(protowire.AppendTag(b, num, typ), v...)
}

func lenPrefixed(v []byte) []byte { return protowire.AppendBytes(nil, v) }

func varint(v uint64) []byte { return protowire.AppendVarint(nil, v) }

func fixed32(v uint32) []byte { return protowire.AppendFixed32(nil, v) }

// TestWireCornersCrossCheck: inputs that exercise each decoding rule, valid or not.
func TestWireCornersCrossCheck(t *testing.T) {
	V, I32, I64, L := protowire.VarintType, protowire.Fixed32Type, protowire.Fixed64Type, protowire.BytesType
	tensor := func(fields ...[]byte) []byte {
		return field(nil, 7, L, lenPrefixed(field(nil, 5, L, lenPrefixed(bytes.Join(fields, nil)))))
	}
	typeProto := func(fields ...[]byte) []byte { // ModelProto.graph.input[0].type
		vi := field(nil, 2, L, lenPrefixed(bytes.Join(fields, nil)))
		return field(nil, 7, L, lenPrefixed(field(nil, 11, L, lenPrefixed(vi))))
	}
	dim := func(fields ...[]byte) []byte {
		shape := field(nil, 1, L, lenPrefixed(bytes.Join(fields, nil)))
		tensorType := field(nil, 2, L, lenPrefixed(shape))
		return typeProto(field(nil, 1, L, lenPrefixed(tensorType)))
	}
	valid := map[string][]byte{
		"empty":                      {},
		"last scalar wins":           append(field(nil, 1, V, varint(3)), field(nil, 1, V, varint(8))...),
		"known field, wrong type":    bytes.Join([][]byte{field(nil, 1, I32, fixed32(3)), field(nil, 7, V, varint(1)), field(nil, 2, V, varint(1)), field(nil, 8, I64, make([]byte, 8))}, nil),
		"graph twice merges":         append(field(nil, 7, L, lenPrefixed(field(nil, 2, L, lenPrefixed([]byte("a"))))), field(nil, 7, L, lenPrefixed(field(nil, 1, L, lenPrefixed(nil))))...),
		"unpacked and packed dims":   tensor(field(nil, 1, V, varint(2)), field(nil, 1, L, lenPrefixed(append(varint(3), varint(1<<63)...))), field(nil, 1, V, varint(4))),
		"unpacked floats":            tensor(field(nil, 4, I32, fixed32(0x3f800000)), field(nil, 4, L, lenPrefixed(nil)), field(nil, 10, I64, make([]byte, 8)), field(nil, 5, V, varint(1<<40))),
		"int32 from a 64-bit varint": tensor(field(nil, 2, V, varint(1<<33+5))),
		"negative data type":         tensor(field(nil, 2, V, varint(math.MaxUint64))),
		"bytes need not be UTF-8":    tensor(field(nil, 9, L, lenPrefixed([]byte{0xff, 0xfe})), field(nil, 6, L, lenPrefixed([]byte{0xff}))),
		"oneof twice merges":         typeProto(field(nil, 1, L, lenPrefixed(field(nil, 1, V, varint(1)))), field(nil, 1, L, lenPrefixed(field(nil, 2, L, lenPrefixed(nil))))),
		"dimension value then param": dim(field(nil, 1, V, varint(3)), field(nil, 2, L, lenPrefixed([]byte("n"))), field(nil, 3, L, lenPrefixed([]byte("d")))),
		"dimension param then value": dim(field(nil, 2, L, lenPrefixed([]byte("n"))), field(nil, 1, V, varint(0))),
		"oneof with wrong type":      dim(field(nil, 1, I64, make([]byte, 8)), field(nil, 2, V, varint(1))),
		"non-minimal unknown tag":    {0xf8, 0x86, 0x80, 0x00, 0x05},
		"unknown group":              field(field(field(nil, 40, protowire.StartGroupType, nil), 1, L, lenPrefixed([]byte("x"))), 40, protowire.EndGroupType, nil),
		"max field number":           field(nil, protowire.MaxValidNumber, V, varint(1)),
	}
	invalid := map[string][]byte{
		"field number 0":           {0x00, 0x01},
		"field number too large":   protowire.AppendVarint(nil, uint64(protowire.MaxValidNumber+1)<<3),
		"end group at top":         field(nil, 9, protowire.EndGroupType, nil),
		"unterminated group":       field(nil, 40, protowire.StartGroupType, nil),
		"reserved wire type":       {0x0e, 0x00},
		"truncated varint":         {0x08, 0x80},
		"varint too long":          append([]byte{0x08}, bytes.Repeat([]byte{0xff}, 10)...),
		"length past the end":      {0x3a, 0x05, 0x01},
		"string not UTF-8":         field(nil, 2, L, lenPrefixed([]byte{0xff})),
		"node input not UTF-8":     field(nil, 7, L, lenPrefixed(field(nil, 1, L, lenPrefixed(field(nil, 1, L, lenPrefixed([]byte{0xc0})))))),
		"dim param not UTF-8":      dim(field(nil, 2, L, lenPrefixed([]byte{0xff}))),
		"packed floats, 3 bytes":   tensor(field(nil, 4, L, lenPrefixed([]byte{1, 2, 3}))),
		"packed varint truncated":  tensor(field(nil, 1, L, lenPrefixed([]byte{0x80}))),
		"bad nested message":       field(nil, 7, L, lenPrefixed([]byte{0x0a, 0x09})),
		"bad unknown in a message": tensor([]byte{0xf8, 0x06}),
	}
	for name, b := range valid {
		if !crossCheck(t, name, b) {
			t.Errorf("%s: refused, want decoded", name)
		}
	}
	for name, b := range invalid {
		if crossCheck(t, name, b) {
			t.Errorf("%s: decoded, want refused", name)
		}
		var m onnxpb.ModelProto
		if err := onnxpb.Unmarshal(b, &m); err == nil || !onnxpb.Equal(&m, &onnxpb.ModelProto{}) {
			t.Errorf("%s: error %v, message left %+v", name, err, m)
		}
	}
	// Nesting: graph -> node -> attribute -> graph ... counts three messages a level, and
	// protobuf-go refuses more than protowire.DefaultRecursionLimit in all.
	nest := func(levels int) []byte {
		g := []byte{}
		for range levels {
			attr := field(nil, 6, L, lenPrefixed(g))
			node := field(nil, 5, L, lenPrefixed(attr))
			g = field(nil, 1, L, lenPrefixed(node))
		}
		return field(nil, 7, L, lenPrefixed(g))
	}
	limit := (protowire.DefaultRecursionLimit - 2) / 3 // the model and the outer graph, then 3 a level
	if !crossCheck(t, "deepest nesting", nest(limit)) {
		t.Error("the deepest nesting protobuf-go takes is refused")
	}
	if crossCheck(t, "nesting too deep", nest(limit+1)) {
		t.Error("nesting past the limit decoded")
	}
}

// TestMutationsCrossCheck: random mutations of the tiny model give an error in both decoders
// or the same message (and bytes) in both; none panics.
func TestMutationsCrossCheck(t *testing.T) {
	tiny := testmodel.Tiny(t)
	rng := rand.New(rand.NewPCG(9, 9))
	n := 3000
	if testing.Short() {
		n = 300
	}
	decoded := 0
	for i := range n {
		b := append([]byte{}, tiny...)
		for range 1 + rng.IntN(4) {
			p := rng.IntN(len(b))
			switch rng.IntN(5) {
			case 0:
				b[p] = byte(rng.Uint32())
			case 1:
				b[p] ^= 1 << rng.IntN(8)
			case 2:
				b = append(b[:p:p], append([]byte{byte(rng.Uint32())}, b[p:]...)...)
			case 3:
				b = append(b[:p:p], b[min(len(b), p+1+rng.IntN(8)):]...)
			case 4:
				b = b[:p]
			}
			if len(b) == 0 {
				b = []byte{0}
			}
		}
		if crossCheck(t, "mutation "+strconv.Itoa(i), b) {
			decoded++
		}
		if t.Failed() {
			t.Fatalf("mutation %d: %x", i, head(b))
		}
	}
	// The check must see both outcomes to mean anything.
	if decoded == 0 || decoded == n {
		t.Errorf("%d of %d mutations decoded: the mutations do not exercise both paths", decoded, n)
	}
	t.Logf("%d of %d mutations decoded", decoded, n)
}

// FuzzCrossCheck runs the same comparison on what the fuzzer makes of the tiny model.
func FuzzCrossCheck(f *testing.F) {
	f.Add(testmodel.Tiny(f))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		crossCheck(t, "input", b)
	})
}

// BenchmarkUnmarshalShipped decodes models/default.onnx with onnxpb and, for comparison,
// with protobuf-go (what the worker did before).
func BenchmarkUnmarshalShipped(b *testing.B) {
	data := testmodel.Shipped(b)
	b.Run("onnxpb", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			var m onnxpb.ModelProto
			if err := onnxpb.Unmarshal(data, &m); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("protobuf-go", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			if err := proto.Unmarshal(data, &pbgen.ModelProto{}); err != nil {
				b.Fatal(err)
			}
		}
	})
}
