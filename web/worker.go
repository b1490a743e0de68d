package web

import "github.com/maxence-charriere/go-app/v9/pkg/app"

// refEngine names the reference engine in the worker protocol: onnx-go + gorgonia, in its
// own binary that the page fetches only when the user asks for a cross-check.
const refEngine = "onnx-go"

// inferenceWorker is the page's end of the Web Worker that runs the model (see
// web/assets/worker.js for the message protocol).
type inferenceWorker struct {
	w app.Value
}

// startWorker starts the worker; onMessage gets each message's data on the JS event loop.
func startWorker(onMessage func(data app.Value)) *inferenceWorker {
	w := app.Window().Get("Worker").New(WorkerScript)
	w.Set("onmessage", app.FuncOf(func(this app.Value, args []app.Value) any {
		onMessage(args[0].Get("data"))
		return nil
	}))
	w.Set("onerror", app.FuncOf(func(this app.Value, args []app.Value) any {
		msg := app.Window().Get("Object").New()
		msg.Set("type", "fatal")
		msg.Set("message", "the inference worker failed: "+args[0].Get("message").String())
		onMessage(msg)
		return nil
	}))
	return &inferenceWorker{w: w}
}

// load starts the worker's engine and loads the model into it: engine "" is the product's
// (worker.wasm), refEngine the onnx-go reference (refworker.wasm).
func (iw *inferenceWorker) load(engine string) {
	msg := app.Window().Get("Object").New()
	msg.Set("type", "load")
	if engine != "" {
		msg.Set("engine", engine)
	}
	iw.w.Call("postMessage", msg)
}

// screen queues one file: a Blob (the File itself, which the worker reads when its turn
// comes: cloning a File copies no bytes) or an ArrayBuffer, which is transferred, not copied.
func (iw *inferenceWorker) screen(id int, name string, file app.Value) {
	iw.screenSite(id, name, file, "")
}

// screenSite is screen with the site profile kept in the page (its JSON text, "" for none):
// the result then carries its verdict at the site point too, marked site.
func (iw *inferenceWorker) screenSite(id int, name string, file app.Value, site string) {
	msg := app.Window().Get("Object").New()
	if site != "" {
		msg.Set("site", site)
	}
	msg.Set("type", "screen")
	msg.Set("id", id)
	msg.Set("name", name)
	msg.Set("bytes", file)
	if file.InstanceOf(app.Window().Get("ArrayBuffer")) {
		iw.w.Call("postMessage", msg, app.Window().Get("Array").New(file))
		return
	}
	iw.w.Call("postMessage", msg)
}
