//go:build js && wasm

// Command worker is the product's inference Web Worker binary (static/web/worker.wasm): the
// screening path with the project's own engine, convnet, and nothing else linked (no onnx-go,
// no gorgonia), so every visitor downloads the small binary. web/assets/worker.js runs it.
package main

import (
	"pneumoscan/convnet"
	"pneumoscan/wasm/bridge"
)

func main() { bridge.Serve(convnet.Engine) }
