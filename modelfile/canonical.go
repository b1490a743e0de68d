package modelfile

import (
	"fmt"
	"strings"

	"pneumoscan/onnxpb"
)

// Canonicalize rewrites a contract model in place into the canonical float form every
// pneumoscan engine runs (convnet and the onnx-go reference alike):
//
//  1. Every DequantizeLinear whose inputs are all initializers (int8/uint8 weights, float
//     scale, optional zero point, attribute axis defaulting to 1) becomes a float32
//     initializer named like the node's output, computed by the one dequantizer
//     (quant.Affine): the engines have no integer operators.
//  2. Every Gemm becomes MatMul (+ Add when it has a bias), with transB, alpha and beta
//     folded into the weights: the engines run MatMul only (and onnx-go's Gemm writes into
//     its bias when the bias has M x N elements, so results drift from run to run).
//  3. A graph output that other nodes also consume gets an Identity in front of it, so each
//     output is a value nothing else reads (onnx-go never refreshes such an output after the
//     first run).
//  4. Graph inputs that are initializers are dropped from graph.input, so the image is
//     input 0.
//
// What an engine cannot run is refused by that engine's loader, not here.
func Canonicalize(mp *onnxpb.ModelProto) error {
	g := mp.GetGraph()
	if g == nil {
		return fmt.Errorf("canonicalize: model has no graph")
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
	return nil
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

func NodeName(n *onnxpb.NodeProto) string {
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
		t, err := dequantizeNode(n, p.inits)
		if err != nil {
			return err
		}
		p.addInitializer(FloatTensor(n.Output[0], t.Dims, t.Data))
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

func normAxis(axis int64, rank int) int {
	if axis < 0 {
		axis += int64(rank)
	}
	if axis < 0 || axis >= int64(rank) {
		return -1
	}
	return int(axis)
}

func AttrInt(n *onnxpb.NodeProto, name string, def int64) int64 {
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
		return nil, fmt.Errorf("canonicalize: %s: want 2 or 3 inputs and 1 output", NodeName(n))
	}
	if AttrInt(n, "transA", 0) != 0 {
		return nil, fmt.Errorf("canonicalize: %s: transA=1 is not supported", NodeName(n))
	}
	transB := AttrInt(n, "transB", 0) != 0
	alpha, beta := attrFloat(n, "alpha", 1), attrFloat(n, "beta", 1)
	bName := n.Input[1]
	b := p.inits[bName]
	if b == nil && (transB || alpha != 1) {
		return nil, fmt.Errorf("canonicalize: %s: weight %q must be an initializer to fold transB/alpha", NodeName(n), bName)
	}
	if b != nil && (transB || alpha != 1) {
		if len(b.Dims) != 2 {
			return nil, fmt.Errorf("canonicalize: %s: weight %q has rank %d, want 2", NodeName(n), bName, len(b.Dims))
		}
		v, err := Floats(b)
		if err != nil {
			return nil, fmt.Errorf("canonicalize: %s: %w", NodeName(n), err)
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
				return nil, fmt.Errorf("canonicalize: %s: bias %q must be an initializer to fold beta=%v", NodeName(n), cName, beta)
			}
			v, err := Floats(c)
			if err != nil {
				return nil, fmt.Errorf("canonicalize: %s: %w", NodeName(n), err)
			}
			for i := range v {
				v[i] *= beta
			}
			cName = p.fresh(cName + "/scaled")
			p.addInitializer(FloatTensor(cName, mustDims(c.Dims), v))
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
			return fmt.Errorf("canonicalize: graph output %q is read by other nodes but no node produces it", o.Name)
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
