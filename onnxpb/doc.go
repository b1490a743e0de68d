// Package onnxpb holds Go types for the part of the ONNX protobuf schema pneumoscan edits:
// models, graphs, nodes, tensors and metadata (the schema: internal/pbgen/onnx.proto), and
// their codec: Unmarshal, Marshal, Clone and Equal.
//
// The types are plain structs with the names, fields and getters protoc-gen-go would give
// them, and the codec is written on protowire alone: protobuf-go's reflection runtime and the
// generated code cost the browser worker about 0.9 MB gzip, and the worker only reads models.
// The codec keeps protobuf-go's behaviour byte for byte (unknown fields included, so a
// rewrite never drops what an ONNX exporter wrote that this schema does not list);
// codec_test.go checks that against the generated code, which is kept in internal/pbgen for
// the tests only. Regenerate that with
//
//	cd onnxpb/internal/pbgen && protoc --go_out=. --go_opt=paths=source_relative onnx.proto
//
// and change the types here to match when the schema changes.
package onnxpb
