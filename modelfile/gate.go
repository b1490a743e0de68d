package modelfile

import (
	"errors"
	"fmt"
	"slices"

	"pneumoscan/model"
	"pneumoscan/onnxpb"
)

// gateShapes are the initializer shapes of a gate, for the feature length d, k principal
// directions and c gate classes.
func gateShapes(d, k, c int) map[string][]int {
	return map[string][]int{
		model.GateMean: {d}, model.GateBasis: {d, k}, model.GateVariance: {k + 1},
		model.GateWeight: {d, c}, model.GateBias: {c},
		model.OrientWeight: {d, int(model.Orientations)}, model.OrientBias: {int(model.Orientations)},
	}
}

func isGateName(name string) bool { return slices.Contains(model.GateInitializers, name) }

// ReadGate returns the gate a contract-2 model carries (its initializers, checked against
// md.Gate), or nil when md has none (a contract-1 file). A file whose metadata names a gate
// but lacks one of its tensors, or holds one where the metadata names none, is refused.
func ReadGate(mp *onnxpb.ModelProto, md model.Metadata) (*model.Gate, error) {
	g := mp.GetGraph()
	if g == nil {
		return nil, errors.New("modelfile: model has no graph")
	}
	found := map[string]*onnxpb.TensorProto{}
	for _, t := range g.Initializer {
		if isGateName(t.Name) {
			found[t.Name] = t
		}
	}
	if md.Gate == nil {
		if len(found) > 0 {
			return nil, fmt.Errorf("model gate: the file holds gate tensors but its metadata has no %s", model.KeyGate)
		}
		return nil, nil
	}
	read := func(name string) ([]float32, []int, error) {
		t, ok := found[name]
		if !ok {
			return nil, nil, fmt.Errorf("model gate: no %s initializer", name)
		}
		if t.DataType != int32(onnxpb.TensorProto_FLOAT) {
			return nil, nil, fmt.Errorf("model gate: %s is %v, want FLOAT", name, onnxpb.TensorProto_DataType(t.DataType))
		}
		dims, err := Dims(t)
		if err != nil {
			return nil, nil, fmt.Errorf("model gate: %w", err)
		}
		data, err := Floats(t)
		if err != nil {
			return nil, nil, fmt.Errorf("model gate: %w", err)
		}
		return data, dims, nil
	}
	var p model.GateParams
	var mdims, bdims, wdims []int
	var err error
	if p.Mean, mdims, err = read(model.GateMean); err != nil {
		return nil, err
	}
	if p.Basis, bdims, err = read(model.GateBasis); err != nil {
		return nil, err
	}
	if p.Weight, wdims, err = read(model.GateWeight); err != nil {
		return nil, err
	}
	dst := map[string]*[]float32{model.GateVariance: &p.Variance, model.GateBias: &p.Bias, model.OrientWeight: &p.OrientWeight, model.OrientBias: &p.OrientBias}
	dims := map[string][]int{model.GateMean: mdims, model.GateBasis: bdims, model.GateWeight: wdims}
	for _, name := range []string{model.GateVariance, model.GateBias, model.OrientWeight, model.OrientBias} {
		if *dst[name], dims[name], err = read(name); err != nil {
			return nil, err
		}
	}
	if len(mdims) != 1 || len(bdims) != 2 || len(wdims) != 2 {
		return nil, fmt.Errorf("model gate: %s, %s, %s have shapes %v, %v, %v: want [D], [D,K], [D,C]", model.GateMean, model.GateBasis, model.GateWeight, mdims, bdims, wdims)
	}
	p.Dim = mdims[0]
	for name, want := range gateShapes(p.Dim, bdims[1], wdims[1]) {
		if !slices.Equal(dims[name], want) {
			return nil, fmt.Errorf("model gate: %s has shape %v, want %v", name, dims[name], want)
		}
	}
	return model.NewGate(p, *md.Gate)
}

// StripGate removes the gate's initializers from mp: no node reads them, and an engine need
// not hold them (package screen reads them first, with ReadGate).
func StripGate(mp *onnxpb.ModelProto) {
	g := mp.GetGraph()
	if g == nil {
		return
	}
	g.Initializer = slices.DeleteFunc(g.Initializer, func(t *onnxpb.TensorProto) bool { return isGateName(t.Name) })
}

// WithGate returns the model file data with the gate p in it, replacing any gate it had,
// and its metadata as edit makes it (edit must set md.Gate, the spec for p). The graph, the
// classifier and its weights stay as they were: the result is decoded again and compared
// with the input, gate and metadata aside, before it is returned, so adding a gate can never
// change a score.
func WithGate(data []byte, p model.GateParams, edit func(*model.Metadata) error) ([]byte, model.Metadata, error) {
	mp, err := Unmarshal(data)
	if err != nil {
		return nil, model.Metadata{}, err
	}
	md, err := model.ParseMetadata(mp.MetadataProps)
	if err != nil {
		return nil, model.Metadata{}, err
	}
	if err := edit(&md); err != nil {
		return nil, model.Metadata{}, err
	}
	if md.Gate == nil {
		return nil, model.Metadata{}, errors.New("modelfile: WithGate needs the gate's spec in the metadata")
	}
	if _, err := model.NewGate(p, *md.Gate); err != nil {
		return nil, model.Metadata{}, err
	}
	StripGate(mp)
	d, k, c := p.Dim, p.K(), p.Classes()
	shapes := gateShapes(d, k, c)
	values := map[string][]float32{
		model.GateMean: p.Mean, model.GateBasis: p.Basis, model.GateVariance: p.Variance,
		model.GateWeight: p.Weight, model.GateBias: p.Bias, model.OrientWeight: p.OrientWeight, model.OrientBias: p.OrientBias,
	}
	for _, name := range model.GateInitializers {
		mp.Graph.Initializer = append(mp.Graph.Initializer, FloatTensor(name, shapes[name], values[name]))
	}
	if err := model.SetMetadata(mp, md); err != nil {
		return nil, model.Metadata{}, err
	}
	out, err := Marshal(mp)
	if err != nil {
		return nil, model.Metadata{}, err
	}
	// Read back: the gate must load as given, and the rest equal the input's.
	back, err := Unmarshal(out)
	if err != nil {
		return nil, model.Metadata{}, fmt.Errorf("the model with its gate does not decode: %w", err)
	}
	bmd, err := model.ParseMetadata(back.MetadataProps)
	if err != nil {
		return nil, model.Metadata{}, fmt.Errorf("the model with its gate: %w", err)
	}
	if _, err := ReadGate(back, bmd); err != nil {
		return nil, model.Metadata{}, fmt.Errorf("the model with its gate: %w", err)
	}
	before, err := Unmarshal(data)
	if err != nil {
		return nil, model.Metadata{}, err
	}
	StripGate(before)
	StripGate(back)
	before.MetadataProps, back.MetadataProps = nil, nil
	if !onnxpb.Equal(before, back) {
		return nil, model.Metadata{}, errors.New("adding the gate changed the model itself (graph, weights or header): refusing")
	}
	return out, bmd, nil
}
