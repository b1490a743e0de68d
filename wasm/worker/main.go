//go:build js && wasm

// Command worker is the model side of the page's inference Web Worker (static/web/worker.wasm).
// web/assets/worker.js loads it and calls the two functions it registers on
// globalThis.pneumoscan:
//
//	load(bytes Uint8Array, engine string) -> {name, version, sha256, trained, thresholdName,
//	    thresholdValue, engine} | {error}   (engine "": the default, screen.EngineConvnet;
//	    the benchmark page, bench/web, passes screen.EngineOnnxGo to measure the old engine)
//	screen(bytes Uint8Array, onStage(stage)) -> {prob, positive, thresholdName, thresholdValue,
//	    heatmap: ArrayBuffer (RGBA, jet colours), size, width, height} | {error}
//
// Both run synchronously on the worker's thread; the page's thread is never blocked.
package main

import (
	"fmt"
	"syscall/js"

	"pneumoscan/gradcam"
	"pneumoscan/imagedecode"
	"pneumoscan/screen"
)

var screener *screen.Screener

func main() {
	api := js.Global().Get("Object").New()
	api.Set("load", js.FuncOf(load))
	api.Set("screen", js.FuncOf(screenOne))
	js.Global().Set("pneumoscan", api)
	select {} // keep the functions alive
}

func bytesArg(args []js.Value) ([]byte, error) {
	if len(args) == 0 || args[0].Type() != js.TypeObject || args[0].Get("byteLength").IsUndefined() {
		return nil, fmt.Errorf("expected a Uint8Array")
	}
	b := make([]byte, args[0].Get("byteLength").Int())
	js.CopyBytesToGo(b, args[0])
	return b, nil
}

func errorObject(err error) js.Value {
	o := js.Global().Get("Object").New()
	o.Set("error", err.Error())
	return o
}

// guard turns a panic inside the model code into that call's error, so one bad file never
// kills the worker and the rest of the queue.
func guard(f func() (js.Value, error)) (out js.Value) {
	defer func() {
		if r := recover(); r != nil {
			out = errorObject(fmt.Errorf("internal error while screening: %v", r))
		}
	}()
	v, err := f()
	if err != nil {
		return errorObject(err)
	}
	return v
}

func load(this js.Value, args []js.Value) any {
	return guard(func() (js.Value, error) {
		data, err := bytesArg(args)
		if err != nil {
			return js.Value{}, err
		}
		var opts []screen.Option
		if len(args) > 1 && args[1].Type() == js.TypeString && args[1].String() != "" {
			opts = append(opts, screen.Engine(args[1].String()))
		}
		s, err := screen.New(data, opts...)
		if err != nil {
			return js.Value{}, fmt.Errorf("the model file cannot be used: %w", err)
		}
		m := s.Metadata()
		t, err := m.OperatingThreshold()
		if err != nil {
			return js.Value{}, err
		}
		screener = s
		o := js.Global().Get("Object").New()
		o.Set("name", m.Name)
		o.Set("version", m.Version)
		o.Set("sha256", s.SHA256())
		o.Set("trained", m.Trained)
		o.Set("thresholdName", t.Name)
		o.Set("thresholdValue", t.Value)
		o.Set("engine", s.EngineName())
		return o, nil
	})
}

func screenOne(this js.Value, args []js.Value) any {
	return guard(func() (js.Value, error) {
		if screener == nil {
			return js.Value{}, fmt.Errorf("the model is not loaded")
		}
		data, err := bytesArg(args)
		if err != nil {
			return js.Value{}, err
		}
		stage := func(string) {}
		if len(args) > 1 && args[1].Type() == js.TypeFunction {
			stage = func(s string) { args[1].Invoke(s) }
		}
		img, err := imagedecode.Decode(data)
		if err != nil {
			return js.Value{}, err // *imagedecode.Error: its message is written for the user
		}
		stage("running")
		res, err := screener.ScreenImage(img)
		if err != nil {
			return js.Value{}, err
		}
		rgba := gradcam.Jet(res.Heatmap, res.HeatmapSize)
		heat := js.Global().Get("Uint8Array").New(len(rgba.Pix))
		js.CopyBytesToJS(heat, rgba.Pix)
		o := js.Global().Get("Object").New()
		o.Set("prob", res.Prob)
		o.Set("positive", res.Positive)
		o.Set("thresholdName", res.Threshold.Name)
		o.Set("thresholdValue", res.Threshold.Value)
		o.Set("heatmap", heat.Get("buffer"))
		o.Set("size", res.HeatmapSize)
		o.Set("width", res.Width)
		o.Set("height", res.Height)
		return o, nil
	})
}
