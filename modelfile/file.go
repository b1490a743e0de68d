package modelfile

import (
	"errors"
	"fmt"
	"os"
	"pneumoscan/atomicfile"

	"pneumoscan/onnxpb"
)

// Marshal encodes m deterministically, so the same model always gives the same bytes.
func Marshal(m *onnxpb.ModelProto) ([]byte, error) {
	return onnxpb.Marshal(m)
}

// Unmarshal decodes an ONNX model, refusing data that is not one.
func Unmarshal(data []byte) (*onnxpb.ModelProto, error) {
	m := &onnxpb.ModelProto{}
	if err := onnxpb.Unmarshal(data, m); err != nil {
		return nil, fmt.Errorf("not an ONNX model (protobuf: %v)", err)
	}
	if m.Graph == nil || len(m.Graph.Node) == 0 {
		return nil, errors.New("not an ONNX model: no graph nodes")
	}
	return m, nil
}

// ReadFile reads and decodes an ONNX model file.
func ReadFile(path string) (*onnxpb.ModelProto, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	m, err := Unmarshal(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

// WriteFile writes m to path atomically: a temporary file in the same folder, synced, then
// renamed over path, so a reader never sees half a model.
func WriteFile(path string, m *onnxpb.ModelProto) error {
	data, err := Marshal(m)
	if err != nil {
		return err
	}
	return atomicfile.Write(path, data)
}
