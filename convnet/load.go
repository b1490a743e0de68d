package convnet

import (
	"fmt"
	"slices"
	"strings"

	"pneumoscan/model"
	"pneumoscan/modelfile"
	"pneumoscan/onnxpb"
	"pneumoscan/sgemm"
)

// Load builds the plan for a contract model whose weights are float32 initializers, i.e. one
// that modelfile.Canonicalize has rewritten (int8 DequantizeLinear folded, Gemm split into MatMul +
// Add). It reads the initializers it needs; mp is not kept.
func Load(mp *onnxpb.ModelProto) (*Net, error) {
	g := mp.GetGraph()
	if g == nil {
		return nil, fmt.Errorf("convnet: model has no graph")
	}
	l := &loader{net: &Net{}, inits: map[string]*onnxpb.TensorProto{}, values: map[string]*value{}, uses: map[string]int{}}
	for _, t := range g.Initializer {
		l.inits[t.Name] = t
	}
	if err := l.input(g); err != nil {
		return nil, err
	}
	for _, n := range g.Node {
		for _, s := range n.Input {
			l.uses[s]++
		}
	}
	for _, o := range g.Output {
		l.uses[o.Name]++ // an output is read after the last step
	}
	for _, n := range g.Node {
		if err := l.node(n); err != nil {
			return nil, err
		}
	}
	net := l.net
	var err error
	if net.prob, err = l.output(g, model.ProbName); err != nil {
		return nil, err
	}
	if shapeLen(net.prob.shape) != 1 {
		return nil, fmt.Errorf("convnet: output %q has shape %v, want one value", model.ProbName, net.prob.shape)
	}
	if net.features, err = l.output(g, model.FeaturesName); err != nil {
		return nil, err
	}
	if s := net.features.shape; len(s) != 4 || s[0] != 1 {
		return nil, fmt.Errorf("convnet: output %q has shape %v, want [1,K,H,W]", model.FeaturesName, s)
	}
	l.allocate()
	return net, nil
}

type loader struct {
	net    *Net
	inits  map[string]*onnxpb.TensorProto
	values map[string]*value
	uses   map[string]int // how many node inputs and graph outputs read each value
}

func nodeName(n *onnxpb.NodeProto) string {
	if n.Name != "" {
		return fmt.Sprintf("%s node %q", n.OpType, n.Name)
	}
	return fmt.Sprintf("%s node producing %q", n.OpType, strings.Join(n.Output, ","))
}

func (l *loader) input(g *onnxpb.GraphProto) error {
	var in *onnxpb.ValueInfoProto
	for _, v := range g.Input {
		if l.inits[v.Name] != nil {
			continue
		}
		if in != nil || v.Name != model.InputName {
			return fmt.Errorf("convnet: model inputs include %q; want exactly one, %q", v.Name, model.InputName)
		}
		in = v
	}
	if in == nil {
		return fmt.Errorf("convnet: model has no input %q", model.InputName)
	}
	if et := in.GetType().GetTensorType().GetElemType(); et != int32(onnxpb.TensorProto_FLOAT) {
		return fmt.Errorf("convnet: input %q is %v, want FLOAT", in.Name, onnxpb.TensorProto_DataType(et))
	}
	var shape []int
	for _, d := range in.GetType().GetTensorType().GetShape().GetDim() {
		v := d.GetDimValue()
		if v <= 0 {
			return fmt.Errorf("convnet: input %q needs a fixed shape, got dimension %v", in.Name, d)
		}
		shape = append(shape, int(v))
	}
	if len(shape) != 4 || shape[0] != 1 || shape[1] != 3 {
		return fmt.Errorf("convnet: input %q has shape %v, want [1,3,S,S]", in.Name, shape)
	}
	l.net.inputShape = shape
	l.net.input = l.define(in.Name, shape)
	return nil
}

func (l *loader) output(g *onnxpb.GraphProto, name string) (*value, error) {
	for _, o := range g.Output {
		if o.Name == name {
			if v := l.values[name]; v != nil {
				return v, nil
			}
			return nil, fmt.Errorf("convnet: no node produces output %q", name)
		}
	}
	return nil, fmt.Errorf("convnet: model has no output %q", name)
}

func (l *loader) define(name string, shape []int) *value {
	v := &value{name: name, shape: shape, size: shapeLen(shape), slot: -1}
	l.values[name] = v
	return v
}

// get is a node input that an earlier node (or the graph input) produced.
func (l *loader) get(n *onnxpb.NodeProto, i int) (*value, error) {
	if i >= len(n.Input) || n.Input[i] == "" {
		return nil, fmt.Errorf("convnet: %s: missing input %d", nodeName(n), i)
	}
	v := l.values[n.Input[i]]
	if v == nil {
		if l.inits[n.Input[i]] != nil {
			return nil, fmt.Errorf("convnet: %s: input %q is a constant; only weights and biases may be", nodeName(n), n.Input[i])
		}
		return nil, fmt.Errorf("convnet: %s: input %q is not produced before it (graph not in topological order?)", nodeName(n), n.Input[i])
	}
	return v, nil
}

// weight reads a float32 initializer input with the given rank (0: any).
func (l *loader) weight(n *onnxpb.NodeProto, i, rank int) ([]float32, []int, error) {
	name := n.Input[i]
	t := l.inits[name]
	if t == nil {
		return nil, nil, fmt.Errorf("convnet: %s: input %q must be a float32 initializer", nodeName(n), name)
	}
	if t.DataType != int32(onnxpb.TensorProto_FLOAT) {
		return nil, nil, fmt.Errorf("convnet: %s: initializer %q is %v, want FLOAT (run modelfile.Canonicalize first to fold int8 weights)",
			nodeName(n), name, onnxpb.TensorProto_DataType(t.DataType))
	}
	dims := make([]int, len(t.Dims))
	for j, d := range t.Dims {
		dims[j] = int(d)
	}
	if rank > 0 && len(dims) != rank {
		return nil, nil, fmt.Errorf("convnet: %s: initializer %q has shape %v, want rank %d", nodeName(n), name, dims, rank)
	}
	v, err := modelfile.Floats(t)
	if err != nil {
		return nil, nil, fmt.Errorf("convnet: %s: %w", nodeName(n), err)
	}
	return v, dims, nil
}

func (l *loader) node(n *onnxpb.NodeProto) error {
	if n.Domain != "" && n.Domain != "ai.onnx" {
		return fmt.Errorf("convnet: %s: operator domain %q is not supported", nodeName(n), n.Domain)
	}
	if len(n.Output) != 1 || n.Output[0] == "" {
		return fmt.Errorf("convnet: %s: want exactly one output", nodeName(n))
	}
	if l.values[n.Output[0]] != nil || l.inits[n.Output[0]] != nil {
		return fmt.Errorf("convnet: %s: value %q is defined twice", nodeName(n), n.Output[0])
	}
	if load := operators[n.OpType]; load != nil {
		return load(l, n)
	}
	switch n.OpType {
	case "DequantizeLinear", "Gemm":
		return fmt.Errorf("convnet: %s: operator %s is not supported; run modelfile.Canonicalize first", nodeName(n), n.OpType)
	default:
		return fmt.Errorf("convnet: %s: operator %s is not supported (want Conv, Relu, MaxPool, Add, GlobalAveragePool, Flatten, MatMul, Sigmoid or Identity)",
			nodeName(n), n.OpType)
	}
}

// operators are the loaders of the operators the engine runs, by ONNX op type.
var operators = map[string]func(*loader, *onnxpb.NodeProto) error{
	"Conv":              (*loader).conv,
	"Relu":              (*loader).relu,
	"MaxPool":           (*loader).maxPool,
	"Add":               (*loader).addNode,
	"GlobalAveragePool": (*loader).globalAveragePool,
	"Flatten":           (*loader).flatten,
	"MatMul":            (*loader).matmul,
	"Sigmoid":           (*loader).sigmoid,
	"Identity":          (*loader).identity,
}

// identity only renames its input.
func (l *loader) identity(n *onnxpb.NodeProto) error {
	x, err := l.get(n, 0)
	if err != nil {
		return err
	}
	l.define(n.Output[0], x.shape).alias = x
	return nil
}

func (l *loader) push(s step) { l.net.steps = append(l.net.steps, s) }

// begin opens every operator's loader: it reads the node's attributes (refusing any not in
// allowed), checks that it has minIn to maxIn inputs (minIn 0: any number) and gets its first
// input, the value the operator works on.
func (l *loader) begin(n *onnxpb.NodeProto, minIn, maxIn int, allowed ...string) (attrs, *value, error) {
	a, err := readAttrs(n, allowed...)
	if err != nil {
		return nil, nil, err
	}
	switch {
	case minIn > 0 && minIn == maxIn && len(n.Input) != minIn:
		return nil, nil, fmt.Errorf("convnet: %s: want %d inputs", nodeName(n), minIn)
	case minIn > 0 && (len(n.Input) < minIn || len(n.Input) > maxIn):
		return nil, nil, fmt.Errorf("convnet: %s: want %d or %d inputs", nodeName(n), minIn, maxIn)
	}
	x, err := l.get(n, 0)
	if err != nil {
		return nil, nil, err
	}
	return a, x, nil
}

// attrs reads a node's attributes, refusing any not listed in allowed.
type attrs map[string]*onnxpb.AttributeProto

func readAttrs(n *onnxpb.NodeProto, allowed ...string) (attrs, error) {
	a := attrs{}
	for _, at := range n.Attribute {
		ok := false
		for _, name := range allowed {
			ok = ok || at.Name == name
		}
		if !ok {
			return nil, fmt.Errorf("convnet: %s: attribute %q is not supported", nodeName(n), at.Name)
		}
		a[at.Name] = at
	}
	return a, nil
}

func (a attrs) int(name string, def int) int {
	if at := a[name]; at != nil {
		return int(at.I)
	}
	return def
}

// ints reads an INTS attribute of length n, or def repeated n times when absent.
func (a attrs) ints(node *onnxpb.NodeProto, name string, n, def int) ([]int, error) {
	at := a[name]
	out := make([]int, n)
	if at == nil {
		for i := range out {
			out[i] = def
		}
		return out, nil
	}
	if len(at.Ints) != n {
		return nil, fmt.Errorf("convnet: %s: attribute %s has %d values, want %d", nodeName(node), name, len(at.Ints), n)
	}
	for i, v := range at.Ints {
		out[i] = int(v)
	}
	return out, nil
}

func (a attrs) autoPad(n *onnxpb.NodeProto) error {
	if at := a["auto_pad"]; at != nil && string(at.S) != "NOTSET" {
		return fmt.Errorf("convnet: %s: auto_pad %q is not supported; give explicit pads", nodeName(n), at.S)
	}
	return nil
}

// window is the geometry shared by Conv and MaxPool: a kh x kw kernel over [C,H,W].
type window struct {
	c, h, w        int // input
	oh, ow         int // output
	kh, kw         int
	sh, sw         int
	pt, pl, pb, pr int
	dh, dw         int
}

func readWindow(n *onnxpb.NodeProto, a attrs, x *value, kernel []int) (window, error) {
	if len(x.shape) != 4 || x.shape[0] != 1 {
		return window{}, fmt.Errorf("convnet: %s: input %q has shape %v, want [1,C,H,W]", nodeName(n), x.name, x.shape)
	}
	if err := a.autoPad(n); err != nil {
		return window{}, err
	}
	if ks, err := a.ints(n, "kernel_shape", 2, 0); err != nil {
		return window{}, err
	} else if a["kernel_shape"] != nil && (kernel == nil || ks[0] != kernel[0] || ks[1] != kernel[1]) {
		if kernel != nil {
			return window{}, fmt.Errorf("convnet: %s: kernel_shape %v differs from the weight's %v", nodeName(n), ks, kernel)
		}
		kernel = ks
	}
	if kernel == nil {
		return window{}, fmt.Errorf("convnet: %s: no kernel_shape", nodeName(n))
	}
	st, err := a.ints(n, "strides", 2, 1)
	if err != nil {
		return window{}, err
	}
	pads, err := a.ints(n, "pads", 4, 0)
	if err != nil {
		return window{}, err
	}
	dil, err := a.ints(n, "dilations", 2, 1)
	if err != nil {
		return window{}, err
	}
	w := window{c: x.shape[1], h: x.shape[2], w: x.shape[3], kh: kernel[0], kw: kernel[1], sh: st[0], sw: st[1],
		pt: pads[0], pl: pads[1], pb: pads[2], pr: pads[3], dh: dil[0], dw: dil[1]}
	if w.kh < 1 || w.kw < 1 || w.sh < 1 || w.sw < 1 || w.dh < 1 || w.dw < 1 || min(w.pt, w.pl, w.pb, w.pr) < 0 {
		return window{}, fmt.Errorf("convnet: %s: kernel %v, strides %v, pads %v, dilations %v out of range", nodeName(n), kernel, st, pads, dil)
	}
	w.oh = (w.h+w.pt+w.pb-w.dh*(w.kh-1)-1)/w.sh + 1
	w.ow = (w.w+w.pl+w.pr-w.dw*(w.kw-1)-1)/w.sw + 1
	if w.oh < 1 || w.ow < 1 {
		return window{}, fmt.Errorf("convnet: %s: kernel %v does not fit input %v", nodeName(n), kernel, x.shape)
	}
	return w, nil
}

func (l *loader) conv(n *onnxpb.NodeProto) error {
	a, x, err := l.begin(n, 2, 3, "auto_pad", "dilations", "group", "kernel_shape", "pads", "strides")
	if err != nil {
		return err
	}
	if g := a.int("group", 1); g != 1 {
		return fmt.Errorf("convnet: %s: group=%d is not supported", nodeName(n), g)
	}
	wv, wd, err := l.weight(n, 1, 4)
	if err != nil {
		return err
	}
	win, err := readWindow(n, a, x, wd[2:])
	if err != nil {
		return err
	}
	if wd[1] != win.c {
		return fmt.Errorf("convnet: %s: weight %v takes %d channels, input %q has %d", nodeName(n), wd, wd[1], x.name, win.c)
	}
	out := wd[0]
	var bias []float32
	if len(n.Input) == 3 && n.Input[2] != "" {
		var bd []int
		if bias, bd, err = l.weight(n, 2, 1); err != nil {
			return err
		}
		if bd[0] != out {
			return fmt.Errorf("convnet: %s: bias has %d values for %d output channels", nodeName(n), bd[0], out)
		}
	}
	y := l.define(n.Output[0], []int{1, out, win.oh, win.ow})
	if useWinograd && canWinograd(&win) {
		w := newWinograd(x, y, win, wv, bias, out)
		vin, vout := w.scratch()
		l.net.col = grow(l.net.col, vin)
		l.net.wino = grow(l.net.wino, vout)
		l.push(w)
		return nil
	}
	k := win.c * win.kh * win.kw
	c := &conv{x: x, y: y, win: win,
		w: sgemm.Pack(out, k, wv, k), bias: bias}
	c.direct = win.kh == 1 && win.kw == 1 && win.sh == 1 && win.sw == 1 && win.pt+win.pl+win.pb+win.pr == 0
	if !c.direct {
		l.net.col = grow(l.net.col, k*win.oh*win.ow)
	}
	l.push(c)
	return nil
}

// useWinograd picks Winograd F(2x2,3x3) for 3x3 stride-1 convolutions; tests and
// benchmarks turn it off to compare with im2col.
var useWinograd = true

// grow returns buf, or a longer one when it holds fewer than n values.
func grow(buf []float32, n int) []float32 {
	if len(buf) < n {
		return make([]float32, n)
	}
	return buf
}

// relu fuses into the Conv or Add before it when that result is read by nothing else;
// otherwise it is a step of its own.
func (l *loader) relu(n *onnxpb.NodeProto) error {
	_, x, err := l.begin(n, 0, 0)
	if err != nil {
		return err
	}
	y := l.define(n.Output[0], x.shape)
	if last := len(l.net.steps) - 1; last >= 0 && l.uses[x.name] == 1 && x.alias == nil {
		switch s := l.net.steps[last].(type) {
		case *conv:
			if s.y == x && !s.relu {
				s.relu, y.alias = true, x
				return nil
			}
		case *winograd:
			if s.y == x && !s.relu {
				s.relu, y.alias = true, x
				return nil
			}
		case *add:
			if s.y == x && !s.relu {
				s.relu, y.alias = true, x
				return nil
			}
		}
	}
	l.push(&unary{x: x, y: y, f: reluFunc})
	return nil
}

func (l *loader) sigmoid(n *onnxpb.NodeProto) error {
	_, x, err := l.begin(n, 0, 0)
	if err != nil {
		return err
	}
	l.push(&unary{x: x, y: l.define(n.Output[0], x.shape), f: sigmoidFunc})
	return nil
}

func (l *loader) maxPool(n *onnxpb.NodeProto) error {
	a, x, err := l.begin(n, 0, 0, "auto_pad", "ceil_mode", "dilations", "kernel_shape", "pads", "storage_order", "strides")
	if err != nil {
		return err
	}
	if a.int("ceil_mode", 0) != 0 || a.int("storage_order", 0) != 0 {
		return fmt.Errorf("convnet: %s: ceil_mode and storage_order must be 0", nodeName(n))
	}
	win, err := readWindow(n, a, x, nil)
	if err != nil {
		return err
	}
	l.push(&maxPool{x: x, y: l.define(n.Output[0], []int{1, win.c, win.oh, win.ow}), win: win})
	return nil
}

// add takes two values of one shape, or a value and a constant or value that broadcasts
// along its leading axes (a bias [U] added to [1,U]).
func (l *loader) addNode(n *onnxpb.NodeProto) error {
	_, x, err := l.begin(n, 2, 2)
	if err != nil {
		return err
	}
	s := &add{x: x}
	if c := l.inits[n.Input[1]]; c != nil {
		if s.c, _, err = l.weight(n, 1, 0); err != nil {
			return err
		}
	} else if s.z, err = l.get(n, 1); err != nil {
		return err
	}
	if s.z != nil && !slices.Equal(s.z.shape, x.shape) {
		return fmt.Errorf("convnet: %s: shapes %v and %v differ; only a constant may broadcast", nodeName(n), x.shape, s.z.shape)
	}
	if s.z == nil && !suffixLen(x.shape, len(s.c)) {
		return fmt.Errorf("convnet: %s: constant of %d values does not broadcast over %v", nodeName(n), len(s.c), x.shape)
	}
	if l.fuseResidual(n, s) {
		return nil
	}
	s.y = l.define(n.Output[0], x.shape)
	l.push(s)
	return nil
}

// fuseResidual folds the Add of a residual block into the convolution just before it when
// that convolution's result is read by this Add only: the convolution then adds the other
// input as it writes its output (sgemm's MulResidual), and the Add's result is the
// convolution's, so a following Relu fuses into the convolution too. It saves a pass over the
// block's output (a residual add was 3-4% of an inference).
func (l *loader) fuseResidual(n *onnxpb.NodeProto, a *add) bool {
	last := len(l.net.steps) - 1
	if a.z == nil || last < 0 {
		return false
	}
	c, ok := l.net.steps[last].(*conv)
	if !ok || c.relu || c.res != nil || c.y.alias != nil || l.uses[c.y.name] != 1 {
		return false
	}
	switch c.y {
	case a.x:
		c.res = a.z
	case a.z:
		c.res = a.x
	default:
		return false
	}
	if c.res == c.x || c.res.root() == c.y {
		c.res = nil
		return false
	}
	l.values[n.Output[0]] = c.y
	l.uses[c.y.name] = l.uses[n.Output[0]] // its readers are now the Add's
	return true
}

// suffixLen reports whether n is the element count of some trailing axes of shape, so that a
// constant of n values repeats over the leading ones.
func suffixLen(shape []int, n int) bool {
	p := 1
	for i := len(shape) - 1; i >= 0 && p < n; i-- {
		p *= shape[i]
	}
	return n > 0 && p == n
}

func (l *loader) globalAveragePool(n *onnxpb.NodeProto) error {
	_, x, err := l.begin(n, 0, 0)
	if err != nil {
		return err
	}
	if len(x.shape) != 4 || x.shape[0] != 1 {
		return fmt.Errorf("convnet: %s: input %q has shape %v, want [1,C,H,W]", nodeName(n), x.name, x.shape)
	}
	l.push(&globalAveragePool{x: x, y: l.define(n.Output[0], []int{1, x.shape[1], 1, 1})})
	return nil
}

// flatten only renames: [d0..d(axis-1) | d(axis)..] has the same row-major data.
func (l *loader) flatten(n *onnxpb.NodeProto) error {
	a, x, err := l.begin(n, 0, 0, "axis")
	if err != nil {
		return err
	}
	axis := a.int("axis", 1)
	if axis < 0 {
		axis += len(x.shape)
	}
	if axis < 0 || axis > len(x.shape) {
		return fmt.Errorf("convnet: %s: axis %d out of range for shape %v", nodeName(n), a.int("axis", 1), x.shape)
	}
	rows := shapeLen(x.shape[:axis])
	l.define(n.Output[0], []int{rows, x.size / rows}).alias = x
	return nil
}

// matmul is [M,K] x a constant [K,N].
func (l *loader) matmul(n *onnxpb.NodeProto) error {
	_, x, err := l.begin(n, 2, 2)
	if err != nil {
		return err
	}
	w, wd, err := l.weight(n, 1, 2)
	if err != nil {
		return err
	}
	if len(x.shape) != 2 || x.shape[1] != wd[0] {
		return fmt.Errorf("convnet: %s: cannot multiply %v by %v", nodeName(n), x.shape, wd)
	}
	l.push(&matmul{x: x, y: l.define(n.Output[0], []int{x.shape[0], wd[1]}), w: w, k: wd[0], n: wd[1]})
	return nil
}

// allocate gives every value with its own buffer a slot, reusing slots whose values are no
// longer read. A step's output never shares a slot with its inputs.
func (l *loader) allocate() {
	net := l.net
	lastUse := map[*value]int{}
	end := len(net.steps)
	for i, s := range net.steps {
		for _, v := range s.inputs() {
			lastUse[v.root()] = i
		}
	}
	for _, v := range []*value{net.prob, net.features} {
		lastUse[v.root()] = end
	}
	var sizes []int
	var free []int
	take := func(v *value) {
		// The smallest free slot that fits; else the largest free one, grown; else a new one.
		best := -1
		for j, slot := range free {
			switch {
			case best < 0:
				best = j
			case sizes[slot] >= v.size:
				if b := sizes[free[best]]; b < v.size || sizes[slot] < b {
					best = j
				}
			case sizes[free[best]] < v.size && sizes[slot] > sizes[free[best]]:
				best = j
			}
		}
		if best < 0 {
			v.slot = len(sizes)
			sizes = append(sizes, v.size)
			return
		}
		v.slot = free[best]
		free = append(free[:best], free[best+1:]...)
		sizes[v.slot] = max(sizes[v.slot], v.size)
	}
	take(net.input)
	if _, read := lastUse[net.input]; !read {
		lastUse[net.input] = 0
	}
	for i, s := range net.steps {
		if y := s.output(); y.alias == nil {
			take(y)
			if _, read := lastUse[y]; !read {
				lastUse[y] = i // computed but never read
			}
		}
		for v, last := range lastUse {
			if last == i && v.slot >= 0 {
				free = append(free, v.slot)
				delete(lastUse, v)
			}
		}
	}
	net.slots = make([][]float32, len(sizes))
	for i, s := range sizes {
		net.slots[i] = make([]float32, s)
	}
}
