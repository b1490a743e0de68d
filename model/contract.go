// Package model is the pneumoscan model contract, written down once: the names of the ONNX
// graph's input, outputs and head weights, and the metadata every model file carries so that
// the page, the server and the trainer read preprocessing and operating points from the file
// instead of copying constants between them.
//
// The contract (contract version 1):
//
//   - One ONNX file. Input "image": float32 [1,3,224,224] (size from metadata), NCHW.
//   - Output "prob": float32 [1,1], P(pneumonia) after a sigmoid.
//   - Output "features": float32 [1,2048,7,7], the last ResNet50 block (for Grad-CAM).
//   - The head is GlobalAveragePool -> MatMul(head.fc1.weight [2048,U]) + head.fc1.bias ->
//     Relu -> MatMul(head.fc2.weight [U,1]) + head.fc2.bias -> Sigmoid. Grad-CAM reads these
//     four initializers by name.
//   - metadata_props hold the keys below; values that are not plain strings are JSON.
//
// Contract version 2 adds the gate, orientation head and population check (gate.go): more
// initializers, no node reads them, and the KeyGate metadata. A version-1 file is a
// version-2 file without them.
package model

// Graph names fixed by the contract.
const (
	InputName    = "image"
	ProbName     = "prob"
	FeaturesName = "features"

	HeadHiddenWeight = "head.fc1.weight" // [2048, U], laid out for MatMul (K x N)
	HeadHiddenBias   = "head.fc1.bias"   // [U]
	HeadOutWeight    = "head.fc2.weight" // [U, 1]
	HeadOutBias      = "head.fc2.bias"   // [1]

	// FeatureChannels and FeatureSize describe the "features" output of a ResNet50 at 224x224.
	FeatureChannels = 2048
)

// ContractVersion is written into every model file without a gate; a file with one is
// ContractVersionGate (gate.go). Readers refuse other versions.
const ContractVersion = "1"

// Metadata keys (ONNX metadata_props).
const (
	KeyContract    = "pneumoscan.contract"
	KeyName        = "pneumoscan.name"
	KeyVersion     = "pneumoscan.version"
	KeyTrained     = "pneumoscan.trained"
	KeyDescription = "pneumoscan.description"
	KeyPreprocess  = "pneumoscan.preprocess"
	KeyClasses     = "pneumoscan.classes"
	KeyThresholds  = "pneumoscan.thresholds"
	KeyOperating   = "pneumoscan.operating_threshold"
	KeyTemperature = "pneumoscan.temperature"
	KeyMetrics     = "pneumoscan.metrics"
	// KeyPopulation is optional: who the model's figures were measured on, in words.
	KeyPopulation = "pneumoscan.population"
)
