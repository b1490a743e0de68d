package web

import (
	"strconv"
	"time"

	"github.com/maxence-charriere/go-app/v9/pkg/app"
)

// noticeKey remembers in localStorage that the research-use notice was accepted.
const noticeKey = "pneumoscan.notice.accepted"

// Page is the single screen of the app: notice, model loader, drop zone, result cards.
type Page struct {
	app.Compo

	// ctx is the page's own context: contexts of event handlers belong to their element,
	// and go-app drops dispatches for elements that are gone (the notice's button).
	ctx      app.Context
	accepted bool
	insecure bool             // not a secure context: no Cache Storage, no service worker
	updated  bool             // go-app's service worker has a new version of the app ready
	pool     *workerPool      // the product workers (one engine each)
	workers  int              // how many of them: URL ?workers=N, the user's choice, or one per core
	ref      *inferenceWorker // the onnx-go reference, started by the first cross-check
	model    modelState
	cards    []*card
	nextID   int
	// operating is the operating point the user chose (a threshold name); "" is the model's.
	operating string
}

// modelState is what the page knows about the model, all of it from the worker, which
// reads it from the model file's metadata.
type modelState struct {
	loading bool
	loaded  float64 // bytes
	total   float64
	stage   string // "downloading", "checking", "building graph"
	ready   bool
	err     string
	name    string
	version string
	sha256  string
	trained bool
	info    modelInfo // the model's metadata: its operating points and population
}

func (p *Page) OnMount(ctx app.Context) {
	if !app.IsClient {
		return // prerendering while generating the site: no storage, no worker
	}
	p.ctx = ctx
	// Service workers and Cache Storage exist only in a secure context (HTTPS, or localhost);
	// on plain http://host the worker would fail with "caches is not defined".
	if !app.Window().Get("isSecureContext").Bool() {
		p.insecure = true
		return
	}
	var ok bool
	if err := ctx.LocalStorage().Get(noticeKey, &ok); err == nil && ok {
		p.accepted = true
		p.startModel(ctx)
	}
	// The elapsed-seconds counters of running cards tick here, not in the worker, which
	// is busy inside the model.
	ctx.Async(func() {
		t := time.NewTicker(500 * time.Millisecond)
		defer t.Stop()
		for range t.C {
			if p.running() { // wasm is single-threaded: reading cards here cannot race the UI
				ctx.Dispatch(func(ctx app.Context) {})
			}
		}
	})
}

// OnAppUpdate is called by go-app when its service worker has fetched a new version.
func (p *Page) OnAppUpdate(ctx app.Context) { p.updated = ctx.AppUpdateAvailable() }

func (p *Page) acceptNotice(ctx app.Context, e app.Event) {
	if err := ctx.LocalStorage().Set(noticeKey, true); err != nil {
		app.Log("remembering the notice failed:", err)
	}
	p.accepted = true
	p.startModel(p.ctx)
}

func (p *Page) startModel(ctx app.Context) {
	if p.pool != nil {
		return
	}
	p.workers = p.chosenWorkers(ctx)
	p.model = modelState{loading: true, stage: "starting"}
	p.pool = newWorkerPool(p.workers, func(i int, data app.Value) {
		ctx.Dispatch(func(ctx app.Context) { p.onWorkerMessage(ctx, i, data) })
	}, func(id, worker int) {
		if c := p.card(id); c != nil {
			c.worker = worker
		}
	})
}

// chosenWorkers is the worker count: ?workers=N in the address (benchmarks, a clinic's
// bookmark), else the user's last choice, else one per core within the memory cap.
func (p *Page) chosenWorkers(ctx app.Context) int {
	if v, err := strconv.Atoi(ctx.Page().URL().Query().Get("workers")); err == nil {
		return clampWorkers(v)
	}
	var n int
	if err := ctx.LocalStorage().Get(workersKey, &n); err == nil && n > 0 {
		return clampWorkers(n)
	}
	return defaultWorkers()
}

func (p *Page) onWorkers(ctx app.Context, e app.Event) {
	n, err := strconv.Atoi(ctx.JSSrc().Get("value").String())
	if err != nil {
		return
	}
	p.workers = clampWorkers(n)
	if err := ctx.LocalStorage().Set(workersKey, p.workers); err != nil {
		app.Log("remembering the worker count failed:", err)
	}
	p.pool.resize(p.workers)
}

// onWorkerMessage applies one message of the worker protocol (web/assets/worker.js) from
// worker i of the pool. Worker 0 loads the model for the page: its progress and its "ready"
// are what the page shows; the others report ready when they have built their engine.
func (p *Page) onWorkerMessage(ctx app.Context, i int, d app.Value) {
	switch d.Get("type").String() {
	case "progress":
		if i != 0 {
			return
		}
		p.model.stage = d.Get("stage").String()
		p.model.loaded = d.Get("loaded").Float()
		p.model.total = d.Get("total").Float()
	case "ready":
		defer p.pool.ready(i)
		if i != 0 {
			return
		}
		p.model.loading = false
		p.model.ready = true
		p.model.name = d.Get("name").String()
		p.model.version = d.Get("version").String()
		p.model.sha256 = d.Get("sha256").String()
		p.model.trained = d.Get("trained").Bool()
		info, err := parseModelInfo(d.Get("metadata").String())
		if err != nil {
			p.model.ready, p.model.err = false, err.Error()
		}
		p.model.info = info
		p.restoreOperating(ctx)
	case "fatal":
		id := p.pool.fail(i)
		if p.pool.readyCount() > 0 || (i != 0 && p.pool.live() > 0) {
			// Another worker goes on with the queue: only this worker's file fails.
			if c := p.card(id); c != nil {
				c.fail(d.Get("message").String())
			}
			return
		}
		p.model.loading = false
		p.model.err = d.Get("message").String()
		for _, c := range p.cards {
			if c.stage != stageDone && c.stage != stageError {
				c.fail(d.Get("message").String())
			}
		}
	case "stage":
		if c := p.card(d.Get("id").Int()); c != nil {
			c.setStage(d.Get("stage").String())
		}
	case "result":
		p.pool.done(i)
		if c := p.card(d.Get("id").Int()); c != nil {
			c.setResult(d)
			ctx.Defer(func(app.Context) { c.drawHeatmap() })
		}
	case "error":
		p.pool.done(i)
		if c := p.card(d.Get("id").Int()); c != nil {
			c.fail(d.Get("message").String())
		}
	}
}

func (p *Page) running() bool {
	for _, c := range p.cards {
		if c.stage == stageRunning {
			return true
		}
	}
	return false
}

func (p *Page) card(id int) *card {
	for _, c := range p.cards {
		if c.id == id {
			return c
		}
	}
	return nil
}

// addFiles reads each chosen or dropped file and queues it in the worker.
func (p *Page) addFiles(ctx app.Context, files app.Value) {
	for i := 0; i < files.Length(); i++ {
		f := files.Index(i)
		p.nextID++
		c := &card{id: p.nextID, name: f.Get("name").String(), stage: stageQueued, opacity: 0.5, showHeatmap: true, worker: -1,
			imageURL: app.Window().Get("URL").Call("createObjectURL", f).String()}
		// Appended, not prepended: go-app diffs by position, and drawn canvases must stay put.
		p.cards = append(p.cards, c)
		var then app.Func
		then = app.FuncOf(func(this app.Value, args []app.Value) any {
			defer then.Release()
			p.pool.add(job{id: c.id, name: c.name, buf: args[0]})
			return nil
		})
		var fail app.Func
		fail = app.FuncOf(func(this app.Value, args []app.Value) any {
			defer fail.Release()
			p.ctx.Dispatch(func(app.Context) { c.fail("reading the file failed: " + args[0].Call("toString").String()) })
			return nil
		})
		f.Call("arrayBuffer").Call("then", then, fail)
	}
}

func (p *Page) Render() app.UI {
	// data-client tells the prerendered page (false) from the running app (true): a click
	// before app.wasm runs would go nowhere.
	return app.Div().Class("page").DataSet("client", app.IsClient).Body(
		app.Header().Class("top").Body(
			app.H1().Text("pneumoscan"),
			app.P().Class("tagline").Text("Chest X-ray pneumonia screening that runs entirely on this device."),
		),
		app.If(p.model.ready && !p.model.trained, untrainedBanner()),
		app.If(p.updated, updateBanner()),
		app.If(p.insecure, insecureNotice()).ElseIf(!p.accepted, notice(p.acceptNotice)).Else(
			modelLoader(p.model),
			app.If(p.model.ready, operatingSelector(p.model.info, p.operating, p.onOperating)),
			app.If(p.model.ready, dropZone(p.onFilesEvent, p.onDrop)),
			app.If(p.model.ready, workerSelector(p.workers, p.pool.readyCount(), p.onWorkers)),
			app.If(len(p.cards) > 0, batchProgress(p.cards)),
			app.Div().Class("cards").Body(
				app.Range(p.cards).Slice(func(i int) app.UI {
					return p.cards[i].render(p.model.info, p.model.info.point(p.operating), p.crossCheck)
				}),
			),
		),
		footer(p.model),
	)
}

func (p *Page) onFilesEvent(ctx app.Context, e app.Event) {
	input := ctx.JSSrc()
	p.addFiles(ctx, input.Get("files"))
	input.Set("value", "") // so picking the same file again queues it again
}

func (p *Page) onDrop(ctx app.Context, e app.Event) {
	e.PreventDefault()
	p.addFiles(ctx, e.Get("dataTransfer").Get("files"))
}
