package convnet

import (
	"pneumoscan/model"
	"pneumoscan/modelfile"
	"pneumoscan/onnxpb"
)

// Engine is convnet for package screen (screen.New(data, convnet.Engine)): the product's
// engine, in the page's worker, the server, the trainer and the batch screener.
var Engine model.Engine = engine{}

type engine struct{}

func (engine) Name() string { return "convnet" }

// Load puts mp into the canonical float form (in place) and builds the plan.
func (engine) Load(mp *onnxpb.ModelProto) (model.Net, error) {
	if err := modelfile.Canonicalize(mp); err != nil {
		return nil, err
	}
	return Load(mp)
}
