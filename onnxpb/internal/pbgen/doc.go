// Package pbgen is protoc-gen-go's code for onnx.proto: the reference that onnxpb's tests
// check the hand-written types and codec against (decoded fields, encoded bytes, Equal).
// Only _test.go files may import it: linking it brings protobuf-go's reflection runtime,
// which is what onnxpb exists to keep out of the browser worker.
package pbgen
