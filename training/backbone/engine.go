package backbone

import (
	"fmt"
	"slices"

	"pneumoscan/convnet"
	"pneumoscan/model"
	"pneumoscan/modelfile"
	"pneumoscan/onnxpb"
	"pneumoscan/resnet"
)

// engine runs the contract model on one input tensor; features are [C, h, w] row-major. One
// engine serves one goroutine at a time.
type engine interface {
	Run(input []float32) (prob float32, features []float32, err error)
}

// loadEngine is the forward engine for frozen layers: switching engines is this one line.
var loadEngine = func(mp *onnxpb.ModelProto) (engine, error) { return convnet.Load(mp) }

// contractModel is the backbone as a contract model (with a throwaway one-unit head, whose
// output Extract ignores), prepared for the engines.
func (b *Backbone) contractModel() (*onnxpb.ModelProto, error) {
	h, err := resnet.RandomHead(b.weights.Arch.Features(), 1, b.cfg.Seed)
	if err != nil {
		return nil, err
	}
	md := model.Metadata{
		Name: "pneumoscan-trainer-backbone", Version: b.id, Preprocess: b.preprocess,
		Classes: []string{"NORMAL", "PNEUMONIA"}, Operating: "unused", Temperature: 1,
		Thresholds:  []model.Threshold{{Name: "unused", Value: 0.5, Criterion: "feature extraction only"}},
		Description: "in-memory backbone for feature extraction",
	}
	mp, err := modelfile.Build(b.weights, h, md)
	if err != nil {
		return nil, fmt.Errorf("backbone: %w", err)
	}
	if err := modelfile.Canonicalize(mp); err != nil {
		return nil, fmt.Errorf("backbone: %w", err)
	}
	return mp, nil
}

// takeEngines returns n idle engines, building the missing ones from one in-memory model.
func (b *Backbone) takeEngines(n int) ([]engine, error) {
	p := b.pool
	p.mu.Lock()
	defer p.mu.Unlock()
	var mp *onnxpb.ModelProto
	for len(p.engines) < n {
		if mp == nil {
			var err error
			if mp, err = b.contractModel(); err != nil {
				return nil, err
			}
		}
		e, err := loadEngine(mp)
		if err != nil {
			return nil, fmt.Errorf("backbone: %w", err)
		}
		p.engines = append(p.engines, e)
	}
	out := slices.Clone(p.engines[len(p.engines)-n:])
	p.engines = p.engines[:len(p.engines)-n]
	return out, nil
}

func (b *Backbone) putEngines(es []engine) {
	b.pool.mu.Lock()
	b.pool.engines = append(b.pool.engines, es...)
	b.pool.mu.Unlock()
}
