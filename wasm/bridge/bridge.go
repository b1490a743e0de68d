//go:build js && wasm

// Package bridge exposes the screening path to the JavaScript of an inference Web Worker
// (web/assets/worker.js). Each worker binary is a one-line main that calls Serve with the
// engine it links: wasm/worker (convnet, the product) and wasm/refworker (onnx-go, the
// reference cross-check the page loads only on request). Serve registers two functions on
// globalThis.pneumoscan:
//
//	load(bytes Uint8Array) -> {name, version, sha256, trained, thresholdName,
//	    thresholdValue, engine, metadata: JSON text of model.Metadata} | {error}
//	screen(bytes Uint8Array, onStage(stage), siteProfile string) -> {prob, positive,
//	    decisions: [{name, verdict, text, site}] (one per threshold, then the site point's when
//	    a profile is given), siteError?, heatmap: ArrayBuffer (RGBA, jet colours), size,
//	    width, height} | {error}
//	calibrate(request JSON text) -> {answer: JSON text} | {error} (site.go)
//	checkSite(profile JSON text) -> {profile: JSON text} | {error} (site.go)
//
// The thresholds and what the file records about them are sent once, with load; a result
// carries its verdict at every threshold, each decided by model.Metadata.Decide, so the page
// can switch operating points without deciding anything itself.
// Both run synchronously on the worker's thread; the page's thread is never blocked.
package bridge

import (
	"encoding/json"
	"fmt"
	"syscall/js"
	"time"

	"pneumoscan/model"
	"pneumoscan/screen"
)

type bridge struct {
	engine   model.Engine
	screener *screen.Screener
}

// Serve registers load and screen on globalThis.pneumoscan, screening with engine, and
// blocks forever (the worker lives as long as the page keeps it).
func Serve(engine model.Engine) {
	b := &bridge{engine: engine}
	api := js.Global().Get("Object").New()
	api.Set("load", js.FuncOf(b.load))
	api.Set("screen", js.FuncOf(b.screen))
	api.Set("calibrate", js.FuncOf(b.calibrate))
	api.Set("checkSite", js.FuncOf(b.checkSite))
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
	if code := screen.RefusalCode(err); code != "" { // why the image was refused, as the API names it
		o.Set("code", code)
	}
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

func (b *bridge) load(this js.Value, args []js.Value) any {
	return guard(func() (js.Value, error) {
		data, err := bytesArg(args)
		if err != nil {
			return js.Value{}, err
		}
		s, err := screen.New(data, b.engine)
		if err != nil {
			return js.Value{}, fmt.Errorf("the model file cannot be used: %w", err)
		}
		m := s.Metadata()
		t, err := m.OperatingThreshold()
		if err != nil {
			return js.Value{}, err
		}
		b.screener = s
		o := js.Global().Get("Object").New()
		o.Set("name", m.Name)
		o.Set("version", m.Version)
		o.Set("sha256", s.SHA256())
		o.Set("trained", m.Trained)
		o.Set("thresholdName", t.Name)
		o.Set("thresholdValue", t.Value)
		o.Set("engine", s.EngineName())
		meta, err := json.Marshal(m)
		if err != nil {
			return js.Value{}, err
		}
		o.Set("metadata", string(meta))
		return o, nil
	})
}

func (b *bridge) screen(this js.Value, args []js.Value) any {
	return guard(func() (js.Value, error) {
		if b.screener == nil {
			return js.Value{}, fmt.Errorf("the model is not loaded")
		}
		data, err := bytesArg(args)
		if err != nil {
			return js.Value{}, err
		}
		var stage func(screen.Stage)
		if len(args) > 1 && args[1].Type() == js.TypeFunction {
			stage = func(s screen.Stage) { args[1].Invoke(string(s)) }
		}
		res, err := b.screener.ScreenStages(data, stage)
		if err != nil {
			return js.Value{}, err // an *imagedecode.Error's message is written for the user
		}
		rgba := res.HeatmapRGBA()
		heat := js.Global().Get("Uint8Array").New(len(rgba.Pix))
		js.CopyBytesToJS(heat, rgba.Pix)
		o := js.Global().Get("Object").New()
		o.Set("prob", res.Prob)
		o.Set("positive", res.Positive)
		profile := ""
		if len(args) > 2 && args[2].Type() == js.TypeString {
			profile = args[2].String()
		}
		ds, siteErr, err := decisions(b.screener.Metadata(), b.screener.SHA256(), res.RawProb, profile)
		if err != nil {
			return js.Value{}, err
		}
		list := js.Global().Get("Array").New()
		for _, d := range ds {
			e := js.Global().Get("Object").New()
			e.Set("name", d.Name)
			e.Set("verdict", string(d.Verdict))
			e.Set("text", d.Verdict.Text())
			e.Set("site", d.Site)
			list.Call("push", e)
		}
		o.Set("decisions", list)
		if siteErr != nil {
			o.Set("siteError", siteErr.Error())
		}
		o.Set("heatmap", heat.Get("buffer"))
		o.Set("size", res.HeatmapSize)
		o.Set("width", res.Width)
		o.Set("height", res.Height)
		// The gate's part (screen.Result): no gate in a contract-1 file, what was corrected,
		// and whether the film is like the training population.
		gate := js.Global().Get("Object").New()
		if res.Gate.Available {
			gate.Set("verdict", "frontal chest X-ray")
			gate.Set("text", res.Correction) // "" when screened as supplied
		} else {
			gate.Set("verdict", "not available")
			gate.Set("text", res.Gate.Note)
		}
		o.Set("gate", gate)
		o.Set("gateAvailable", res.Gate.Available)
		o.Set("correction", res.Correction)
		if p := res.Population; p != nil {
			o.Set("populationInside", p.Inside)
			o.Set("populationPercentile", p.Percentile)
			o.Set("populationWarning", p.Warning)
		}
		return o, nil
	})
}

// textArg is args[0] as a string.
func textArg(args []js.Value) ([]byte, error) {
	if len(args) == 0 || args[0].Type() != js.TypeString {
		return nil, fmt.Errorf("expected JSON text")
	}
	return []byte(args[0].String()), nil
}

func (b *bridge) calibrate(this js.Value, args []js.Value) any {
	return guard(func() (js.Value, error) {
		if b.screener == nil {
			return js.Value{}, fmt.Errorf("the model is not loaded")
		}
		req, err := textArg(args)
		if err != nil {
			return js.Value{}, err
		}
		answer, err := calibrate(b.screener.Metadata(), b.screener.SHA256(), req, time.Now())
		if err != nil {
			return js.Value{}, err
		}
		o := js.Global().Get("Object").New()
		o.Set("answer", string(answer))
		return o, nil
	})
}

func (b *bridge) checkSite(this js.Value, args []js.Value) any {
	return guard(func() (js.Value, error) {
		if b.screener == nil {
			return js.Value{}, fmt.Errorf("the model is not loaded")
		}
		text, err := textArg(args)
		if err != nil {
			return js.Value{}, err
		}
		profile, err := checkSite(b.screener.Metadata(), b.screener.SHA256(), text)
		if err != nil {
			return js.Value{}, err
		}
		o := js.Global().Get("Object").New()
		o.Set("profile", string(profile))
		return o, nil
	})
}
