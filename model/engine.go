package model

import "pneumoscan/onnxpb"

// Net is a contract graph loaded for running: for one preprocessed input ([1,3,S,S],
// row-major) it gives the "prob" output and the "features" output. A Net need not be safe
// for concurrent use; package screen serialises calls.
type Net interface {
	Run(input []float32) (prob float32, features []float32, err error)
	InputShape() []int    // [1,3,S,S]
	FeaturesShape() []int // [1,K,H,W]
}

// Engine loads contract graphs. It is the seam between the screening path and the code that
// runs the graph: each program picks the engine it links (package convnet in the product,
// package inference, onnx-go + gorgonia, for the reference cross-check), the way a program
// picks image formats by importing them, so a binary links only the engine it names.
// Load may rewrite mp in place (into the canonical float form of package modelfile).
type Engine interface {
	Name() string
	Load(mp *onnxpb.ModelProto) (Net, error)
}
