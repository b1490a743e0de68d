package model

import (
	"encoding/binary"
	"fmt"
	"math"
	"sort"
	"strings"

	"pneumoscan/onnxpb"
)

// Supported lists the operators onnx-go v0.5.0's gorgonnx backend registers, less Gemm, which
// Prepare rewrites. Anything else is refused before onnx-go sees it, with the operator named,
// instead of failing deep inside its graph builder.
var Supported = map[string]bool{
	"Abs": true, "Add": true, "BatchNormalization": true, "Ceil": true, "Concat": true,
	"Constant": true, "Conv": true, "Cos": true, "Cube": true, "Div": true, "Dropout": true,
	"Exp": true, "Expm1": true, "Flatten": true, "Floor": true, "GlobalAveragePool": true,
	"Identity": true, "ImageScaler": true, "Inverse": true, "LeakyRelu": true, "Log": true,
	"Log1p": true, "Log2": true, "MatMul": true, "Max": true, "MaxPool": true, "Min": true,
	"Mul": true, "Neg": true, "Relu": true, "Reshape": true, "Sigmoid": true, "Sign": true,
	"Sin": true, "Softmax": true, "Softplus": true, "Sqrt": true, "Square": true,
	"Squeeze": true, "Sub": true, "Tanh": true, "Transpose": true, "Unsqueeze": true,
}

// Prepare rewrites a contract model in place into a graph onnx-go v0.5.0 runs correctly:
//
//  1. Every DequantizeLinear whose inputs are all initializers (int8/uint8 weights, float
//     scale, optional zero point, attribute axis defaulting to 1) becomes a float32
//     initializer named like the node's output: onnx-go has no integer operators.
//  2. Every Gemm becomes MatMul (+ Add when it has a bias): onnx-go's Gemm writes into its
//     bias when the bias has M x N elements, so results drift from run to run.
//  3. A graph output that other nodes also consume gets an Identity in front of it: onnx-go
//     never refreshes such an output after the first run.
//  4. Graph inputs that are initializers are dropped from graph.input, so the image is input 0
//     (onnx-go's SetInput addresses inputs by position).
//
// It then refuses, with a specific error, what onnx-go cannot run: operators outside
// Supported, grouped convolutions (onnx-go ignores group), non-float tensors left over.
func Prepare(mp *onnxpb.ModelProto) error {
	g := mp.GetGraph()
	if g == nil {
		return fmt.Errorf("prepare: model has no graph")
	}
	p := &preparer{g: g}
	p.index()
	if err := p.foldDequantize(); err != nil {
		return err
	}
	if err := p.rewriteGemm(); err != nil {
		return err
	}
	if err := p.guardOutputs(); err != nil {
		return err
	}
	p.dropInitializerInputs()
	return p.check()
}

type preparer struct {
	g     *onnxpb.GraphProto
	inits map[string]*onnxpb.TensorProto
	names map[string]bool // every value name in the graph, for fresh names
}

func (p *preparer) index() {
	p.inits = map[string]*onnxpb.TensorProto{}
	p.names = map[string]bool{}
	for _, t := range p.g.Initializer {
		p.inits[t.Name] = t
		p.names[t.Name] = true
	}
	for _, v := range p.g.Input {
		p.names[v.Name] = true
	}
	for _, v := range p.g.Output {
		p.names[v.Name] = true
	}
	for _, n := range p.g.Node {
		for _, s := range n.Input {
			p.names[s] = true
		}
		for _, s := range n.Output {
			p.names[s] = true
		}
	}
}

// fresh returns an unused value name starting with base.
func (p *preparer) fresh(base string) string {
	name := base
	for i := 1; p.names[name]; i++ {
		name = fmt.Sprintf("%s_%d", base, i)
	}
	p.names[name] = true
	return name
}

// uses counts how many node inputs read each value.
func (p *preparer) uses() map[string]int {
	u := map[string]int{}
	for _, n := range p.g.Node {
		for _, s := range n.Input {
			u[s]++
		}
	}
	return u
}

func (p *preparer) removeInitializers(names ...string) {
	drop := map[string]bool{}
	for _, n := range names {
		drop[n] = true
		delete(p.inits, n)
	}
	kept := p.g.Initializer[:0]
	for _, t := range p.g.Initializer {
		if !drop[t.Name] {
			kept = append(kept, t)
		}
	}
	p.g.Initializer = kept
}

func (p *preparer) addInitializer(t *onnxpb.TensorProto) {
	p.inits[t.Name] = t
	p.names[t.Name] = true
	p.g.Initializer = append(p.g.Initializer, t)
}

func nodeName(n *onnxpb.NodeProto) string {
	if n.Name != "" {
		return fmt.Sprintf("%s node %q", n.OpType, n.Name)
	}
	return fmt.Sprintf("%s node producing %q", n.OpType, strings.Join(n.Output, ","))
}

func (p *preparer) foldDequantize() error {
	var kept []*onnxpb.NodeProto
	var consumed []string
	for _, n := range p.g.Node {
		if n.OpType != "DequantizeLinear" {
			kept = append(kept, n)
			continue
		}
		t, err := p.dequantize(n)
		if err != nil {
			return err
		}
		p.addInitializer(t)
		consumed = append(consumed, n.Input...)
	}
	p.g.Node = kept
	// Drop the integer tensors and scales nothing reads any more.
	u := p.uses()
	var unused []string
	for _, name := range consumed {
		if name != "" && u[name] == 0 && !p.isOutput(name) {
			unused = append(unused, name)
		}
	}
	p.removeInitializers(unused...)
	return nil
}

func (p *preparer) isOutput(name string) bool {
	for _, o := range p.g.Output {
		if o.Name == name {
			return true
		}
	}
	return false
}

func (p *preparer) dequantize(n *onnxpb.NodeProto) (*onnxpb.TensorProto, error) {
	if len(n.Input) < 2 || len(n.Input) > 3 || len(n.Output) != 1 {
		return nil, fmt.Errorf("prepare: %s: want 2 or 3 inputs and 1 output", nodeName(n))
	}
	var in [3]*onnxpb.TensorProto
	for i, name := range n.Input {
		if name == "" {
			continue
		}
		if in[i] = p.inits[name]; in[i] == nil {
			return nil, fmt.Errorf("prepare: %s: input %q is not an initializer; onnx-go cannot dequantize at run time", nodeName(n), name)
		}
	}
	x, scaleT, zpT := in[0], in[1], in[2]
	q, err := intValues(x)
	if err != nil {
		return nil, fmt.Errorf("prepare: %s: %w", nodeName(n), err)
	}
	if scaleT.DataType != int32(onnxpb.TensorProto_FLOAT) {
		return nil, fmt.Errorf("prepare: %s: scale %q is %v, want FLOAT", nodeName(n), scaleT.Name, onnxpb.TensorProto_DataType(scaleT.DataType))
	}
	scale, err := FloatValues(scaleT)
	if err != nil {
		return nil, fmt.Errorf("prepare: %s: %w", nodeName(n), err)
	}
	zp := make([]int32, len(scale))
	if zpT != nil {
		if zpT.DataType != x.DataType {
			return nil, fmt.Errorf("prepare: %s: zero point type %v differs from data type %v", nodeName(n),
				onnxpb.TensorProto_DataType(zpT.DataType), onnxpb.TensorProto_DataType(x.DataType))
		}
		if zp, err = intValues(zpT); err != nil {
			return nil, fmt.Errorf("prepare: %s: %w", nodeName(n), err)
		}
		if len(zp) != len(scale) {
			return nil, fmt.Errorf("prepare: %s: %d zero points for %d scales", nodeName(n), len(zp), len(scale))
		}
	}
	dims := x.Dims
	// One scale is per-tensor (per-axis over a size-1 axis is the same thing); more are per-axis.
	outer, channels, inner := 1, 1, len(q)
	if len(scale) != 1 {
		axis := normAxis(attrInt(n, "axis", 1), len(dims))
		if axis < 0 {
			return nil, fmt.Errorf("prepare: %s: axis %d out of range for rank %d", nodeName(n), attrInt(n, "axis", 1), len(dims))
		}
		if int(dims[axis]) != len(scale) {
			return nil, fmt.Errorf("prepare: %s: %d scales for axis %d of size %d", nodeName(n), len(scale), axis, dims[axis])
		}
		outer, channels, inner = 1, int(dims[axis]), 1
		for i, d := range dims {
			if i < axis {
				outer *= int(d)
			} else if i > axis {
				inner *= int(d)
			}
		}
	}
	out := make([]float32, len(q))
	for o := 0; o < outer; o++ {
		for c := 0; c < channels; c++ {
			base := (o*channels + c) * inner
			s, z := scale[c], zp[c]
			for i := base; i < base+inner; i++ {
				out[i] = float32(q[i]-z) * s
			}
		}
	}
	return FloatTensor(n.Output[0], dimsInt(dims), out), nil
}

func normAxis(axis int64, rank int) int {
	if axis < 0 {
		axis += int64(rank)
	}
	if axis < 0 || axis >= int64(rank) {
		return -1
	}
	return int(axis)
}

func attrInt(n *onnxpb.NodeProto, name string, def int64) int64 {
	for _, a := range n.Attribute {
		if a.Name == name {
			return a.I
		}
	}
	return def
}

func attrFloat(n *onnxpb.NodeProto, name string, def float32) float32 {
	for _, a := range n.Attribute {
		if a.Name == name {
			return a.F
		}
	}
	return def
}

func (p *preparer) rewriteGemm() error {
	var nodes []*onnxpb.NodeProto
	for _, n := range p.g.Node {
		if n.OpType != "Gemm" {
			nodes = append(nodes, n)
			continue
		}
		rewritten, err := p.gemm(n)
		if err != nil {
			return err
		}
		nodes = append(nodes, rewritten...)
	}
	p.g.Node = nodes
	return nil
}

// gemm turns Y = alpha * A * op(B) + beta * C into MatMul(A, B') [+ Add(., C')], folding
// transB, alpha and beta into the initializers B and C.
func (p *preparer) gemm(n *onnxpb.NodeProto) ([]*onnxpb.NodeProto, error) {
	if len(n.Input) < 2 || len(n.Output) != 1 {
		return nil, fmt.Errorf("prepare: %s: want 2 or 3 inputs and 1 output", nodeName(n))
	}
	if attrInt(n, "transA", 0) != 0 {
		return nil, fmt.Errorf("prepare: %s: transA=1 is not supported", nodeName(n))
	}
	transB := attrInt(n, "transB", 0) != 0
	alpha, beta := attrFloat(n, "alpha", 1), attrFloat(n, "beta", 1)
	bName := n.Input[1]
	b := p.inits[bName]
	if b == nil && (transB || alpha != 1) {
		return nil, fmt.Errorf("prepare: %s: weight %q must be an initializer to fold transB/alpha", nodeName(n), bName)
	}
	if b != nil && (transB || alpha != 1) {
		if len(b.Dims) != 2 {
			return nil, fmt.Errorf("prepare: %s: weight %q has rank %d, want 2", nodeName(n), bName, len(b.Dims))
		}
		v, err := FloatValues(b)
		if err != nil {
			return nil, fmt.Errorf("prepare: %s: %w", nodeName(n), err)
		}
		rows, cols := int(b.Dims[0]), int(b.Dims[1])
		w := make([]float32, len(v))
		dims := []int{rows, cols}
		if transB {
			dims = []int{cols, rows}
			for r := 0; r < rows; r++ {
				for c := 0; c < cols; c++ {
					w[c*rows+r] = v[r*cols+c] * alpha
				}
			}
		} else {
			for i := range v {
				w[i] = v[i] * alpha
			}
		}
		bName = p.fresh(bName + "/matmul")
		p.addInitializer(FloatTensor(bName, dims, w))
	}
	var cName string
	if len(n.Input) > 2 && n.Input[2] != "" {
		cName = n.Input[2]
		if beta != 1 {
			c := p.inits[cName]
			if c == nil {
				return nil, fmt.Errorf("prepare: %s: bias %q must be an initializer to fold beta=%v", nodeName(n), cName, beta)
			}
			v, err := FloatValues(c)
			if err != nil {
				return nil, fmt.Errorf("prepare: %s: %w", nodeName(n), err)
			}
			for i := range v {
				v[i] *= beta
			}
			cName = p.fresh(cName + "/scaled")
			p.addInitializer(FloatTensor(cName, dimsInt(c.Dims), v))
		}
	}
	mm := &onnxpb.NodeProto{Name: n.Name + "/matmul", OpType: "MatMul", Input: []string{n.Input[0], bName}, Output: n.Output}
	if cName == "" {
		return []*onnxpb.NodeProto{mm}, nil
	}
	mid := p.fresh(n.Output[0] + "/matmul")
	mm.Output = []string{mid}
	add := &onnxpb.NodeProto{Name: n.Name + "/bias", OpType: "Add", Input: []string{mid, cName}, Output: n.Output}
	return []*onnxpb.NodeProto{mm, add}, nil
}

func (p *preparer) guardOutputs() error {
	u := p.uses()
	for _, o := range p.g.Output {
		if u[o.Name] == 0 {
			continue
		}
		var producer *onnxpb.NodeProto
		for _, n := range p.g.Node {
			for _, s := range n.Output {
				if s == o.Name {
					producer = n
				}
			}
		}
		if producer == nil {
			return fmt.Errorf("prepare: graph output %q is read by other nodes but no node produces it", o.Name)
		}
		inner := p.fresh(o.Name + "/value")
		for i, s := range producer.Output {
			if s == o.Name {
				producer.Output[i] = inner
			}
		}
		for _, n := range p.g.Node {
			for i, s := range n.Input {
				if s == o.Name {
					n.Input[i] = inner
				}
			}
		}
		p.g.Node = append(p.g.Node, &onnxpb.NodeProto{
			Name: o.Name + "/identity", OpType: "Identity", Input: []string{inner}, Output: []string{o.Name},
		})
	}
	return nil
}

func (p *preparer) dropInitializerInputs() {
	kept := p.g.Input[:0]
	for _, v := range p.g.Input {
		if p.inits[v.Name] == nil {
			kept = append(kept, v)
		}
	}
	p.g.Input = kept
}

// intIndexInputs are the operator inputs that legitimately hold int64 tensors (shapes, axes).
var intIndexInputs = map[string]int{"Reshape": 1, "Squeeze": 1, "Unsqueeze": 1}

func (p *preparer) check() error {
	intOK := map[string]bool{}
	for _, n := range p.g.Node {
		if n.Domain != "" && n.Domain != "ai.onnx" {
			return fmt.Errorf("prepare: %s: operator domain %q is not supported by onnx-go", nodeName(n), n.Domain)
		}
		if !Supported[n.OpType] {
			return fmt.Errorf("prepare: %s: operator %s is not supported by onnx-go", nodeName(n), n.OpType)
		}
		if n.OpType == "Conv" {
			if g := attrInt(n, "group", 1); g != 1 {
				return fmt.Errorf("prepare: %s: group=%d; onnx-go ignores group and would compute a wrong result", nodeName(n), g)
			}
		}
		for _, a := range n.Attribute {
			if a.Type == onnxpb.AttributeProto_GRAPH || a.Type == onnxpb.AttributeProto_GRAPHS || a.Type == onnxpb.AttributeProto_TENSORS {
				return fmt.Errorf("prepare: %s: attribute %q of type %v is not supported by onnx-go", nodeName(n), a.Name, a.Type)
			}
		}
		if i, ok := intIndexInputs[n.OpType]; ok && i < len(n.Input) {
			intOK[n.Input[i]] = true
		}
	}
	names := make([]string, 0, len(p.inits))
	for name := range p.inits {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		t := p.inits[name]
		switch {
		case t.DataType == int32(onnxpb.TensorProto_FLOAT):
		case t.DataType == int32(onnxpb.TensorProto_INT64) && intOK[name]:
		default:
			return fmt.Errorf("prepare: initializer %q is %v; onnx-go needs FLOAT (was it a DequantizeLinear input left unfolded?)",
				name, onnxpb.TensorProto_DataType(t.DataType))
		}
	}
	for _, v := range p.g.Input {
		if et := v.GetType().GetTensorType().GetElemType(); et != int32(onnxpb.TensorProto_FLOAT) {
			return fmt.Errorf("prepare: graph input %q is %v, want FLOAT", v.Name, onnxpb.TensorProto_DataType(et))
		}
	}
	return nil
}

// FloatTensor builds a float32 initializer stored as little-endian raw_data.
func FloatTensor(name string, dims []int, v []float32) *onnxpb.TensorProto {
	raw := make([]byte, 4*len(v))
	for i, f := range v {
		binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(f))
	}
	d := make([]int64, len(dims))
	for i, x := range dims {
		d[i] = int64(x)
	}
	return &onnxpb.TensorProto{Name: name, Dims: d, DataType: int32(onnxpb.TensorProto_FLOAT), RawData: raw}
}

// FloatValues reads a FLOAT tensor's elements from raw_data or float_data, checking the count
// against its dims.
func FloatValues(t *onnxpb.TensorProto) ([]float32, error) {
	if t.DataType != int32(onnxpb.TensorProto_FLOAT) {
		return nil, fmt.Errorf("tensor %q is %v, want FLOAT", t.Name, onnxpb.TensorProto_DataType(t.DataType))
	}
	n := numel(t.Dims)
	var v []float32
	if t.RawData != nil {
		if len(t.RawData) != 4*n {
			return nil, fmt.Errorf("tensor %q: %d raw bytes for %d floats", t.Name, len(t.RawData), n)
		}
		v = make([]float32, n)
		for i := range v {
			v[i] = math.Float32frombits(binary.LittleEndian.Uint32(t.RawData[4*i:]))
		}
		return v, nil
	}
	if len(t.FloatData) != n {
		return nil, fmt.Errorf("tensor %q: %d floats for shape %v", t.Name, len(t.FloatData), t.Dims)
	}
	return append([]float32(nil), t.FloatData...), nil
}

// intValues reads an INT8 or UINT8 tensor as int32 (raw_data, or int32_data as ONNX allows).
func intValues(t *onnxpb.TensorProto) ([]int32, error) {
	signed := t.DataType == int32(onnxpb.TensorProto_INT8)
	if !signed && t.DataType != int32(onnxpb.TensorProto_UINT8) {
		return nil, fmt.Errorf("tensor %q is %v, want INT8 or UINT8", t.Name, onnxpb.TensorProto_DataType(t.DataType))
	}
	n := numel(t.Dims)
	v := make([]int32, n)
	switch {
	case t.RawData != nil:
		if len(t.RawData) != n {
			return nil, fmt.Errorf("tensor %q: %d raw bytes for %d elements", t.Name, len(t.RawData), n)
		}
		for i, b := range t.RawData {
			if signed {
				v[i] = int32(int8(b))
			} else {
				v[i] = int32(b)
			}
		}
	case len(t.Int32Data) == n:
		copy(v, t.Int32Data)
	default:
		return nil, fmt.Errorf("tensor %q: %d values for shape %v", t.Name, len(t.Int32Data), t.Dims)
	}
	return v, nil
}

func numel(dims []int64) int {
	n := 1
	for _, d := range dims {
		n *= int(d)
	}
	return n
}

func dimsInt(d []int64) []int {
	out := make([]int, len(d))
	for i, x := range d {
		out[i] = int(x)
	}
	return out
}
