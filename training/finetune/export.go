package finetune

import (
	"pneumoscan/model"
	"pneumoscan/modelfile"
	"pneumoscan/onnxpb"
	"pneumoscan/resnet"
	"pneumoscan/training/head"
)

// ContractModel is the float32 contract model of bb with the net's trainable stages and
// head taken from ps (a State's Params or Best), the standardisation norm folded into the
// head: the frozen part stays bb's.
func (n *Net) ContractModel(bb *resnet.Backbone, ps [][]float32, norm head.Norm, md model.Metadata) (*onnxpb.ModelProto, error) {
	nb, err := n.Backbone(bb, ps)
	if err != nil {
		return nil, err
	}
	h, err := n.Head(ps, norm)
	if err != nil {
		return nil, err
	}
	return modelfile.Build(nb, h, md)
}
