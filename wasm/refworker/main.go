//go:build js && wasm

// Command refworker is the reference engine's Web Worker binary (static/web/refworker.wasm):
// the same screening path run by onnx-go + gorgonia. The page starts it only when the user
// asks for a cross-check on a result, so it costs nothing to anyone who does not.
package main

import (
	"pneumoscan/inference"
	"pneumoscan/wasm/bridge"
)

func main() { bridge.Serve(inference.Engine) }
