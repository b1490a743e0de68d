// Package onnxpb holds Go types for the part of the ONNX protobuf schema pneumoscan edits:
// models, graphs, nodes, tensors and metadata. Regenerate with `make proto`.
package onnxpb
