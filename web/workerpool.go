package web

import (
	"strconv"

	"github.com/maxence-charriere/go-app/v9/pkg/app"
)

// workersKey remembers in localStorage how many workers the user chose.
const workersKey = "pneumoscan.workers"

// maxWorkers bounds the choice: each worker holds its own engine (about 350 MB of wasm
// memory for ResNet50, bench-web's "peak wasm memory").
const maxWorkers = 8

// workerMiB is what one worker needs, for the default's memory cap.
const workerMiB = 400

// defaultWorkers is one worker per logical core (navigator.hardwareConcurrency), capped so
// the workers take at most half the device's memory (navigator.deviceMemory, GiB, where the
// browser tells it; 4 workers when it does not) and at maxWorkers.
func defaultWorkers() int {
	nav := app.Window().Get("navigator")
	n := 1
	if c := nav.Get("hardwareConcurrency"); c.Truthy() {
		n = c.Int()
	}
	memCap := 4
	if m := nav.Get("deviceMemory"); m.Truthy() {
		memCap = int(m.Float() * 1024 / 2 / workerMiB)
	}
	return clampWorkers(min(n, memCap))
}

func clampWorkers(n int) int { return max(1, min(n, maxWorkers)) }

// workerPool screens files in several product workers at once, so a batch uses every core.
// The page keeps the queue and hands a file only to an idle, ready worker: each result
// goes to its card by id, and cards stay in file order whatever order the workers finish in.
// Worker 0 downloads the model (with progress); the others start once it is ready and find
// the model in Cache Storage.
type workerPool struct {
	want    int
	workers []*poolWorker
	queue   []job
	// onMessage gets every worker's messages, with the worker's index.
	onMessage func(i int, data app.Value)
	// started is told which worker took which card.
	started func(id, worker int)
}

type poolWorker struct {
	w     *inferenceWorker
	ready bool
	dead  bool
	busy  int // the card id it screens, 0 when idle
}

// job is one file waiting for a worker: its card id, name and the File (or its bytes).
// The File is read by the worker when its turn comes, so a long queue holds no bytes.
type job struct {
	id   int
	name string
	file app.Value
	site string // the site profile's JSON text, "" for none (inferenceWorker.screenSite)
}

func newWorkerPool(want int, onMessage func(i int, data app.Value), started func(id, worker int)) *workerPool {
	p := &workerPool{want: clampWorkers(want), onMessage: onMessage, started: started}
	p.start() // worker 0: the one that downloads the model
	return p
}

func (p *workerPool) start() {
	i := len(p.workers)
	iw := startWorker(func(data app.Value) { p.onMessage(i, data) })
	p.workers = append(p.workers, &poolWorker{w: iw})
	iw.load("")
}

// ready marks worker i ready; after worker 0, it starts the rest of the pool.
func (p *workerPool) ready(i int) {
	p.workers[i].ready = true
	if i == 0 {
		p.grow()
	}
	p.pump()
}

// grow starts workers up to want (once worker 0 has the model cached).
func (p *workerPool) grow() {
	for p.live() < p.want {
		p.start()
	}
}

// resize applies a new worker count: more workers start now (when the model is loaded),
// idle ones beyond it stop now, busy ones when they finish their file.
func (p *workerPool) resize(n int) {
	p.want = clampWorkers(n)
	if len(p.workers) > 0 && p.workers[0].ready {
		p.grow()
	}
	p.shrink()
}

func (p *workerPool) shrink() {
	for i := len(p.workers) - 1; i > 0 && p.live() > p.want; i-- {
		if w := p.workers[i]; !w.dead && w.busy == 0 {
			w.w.w.Call("terminate")
			w.dead = true
		}
	}
}

// live counts the workers not stopped.
func (p *workerPool) live() int {
	n := 0
	for _, w := range p.workers {
		if !w.dead {
			n++
		}
	}
	return n
}

// readyCount counts the workers that can screen (0 for no pool: the prerendered page).
func (p *workerPool) readyCount() int {
	if p == nil {
		return 0
	}
	n := 0
	for _, w := range p.workers {
		if w.ready && !w.dead {
			n++
		}
	}
	return n
}

// add queues a file.
func (p *workerPool) add(j job) {
	p.queue = append(p.queue, j)
	p.pump()
}

// cancel drops the files not yet handed to a worker and returns their card ids; the files
// the workers have go on to their result.
func (p *workerPool) cancel() []int {
	ids := make([]int, 0, len(p.queue))
	for _, j := range p.queue {
		ids = append(ids, j.id)
	}
	p.queue = nil
	return ids
}

// done frees worker i after its file's result or error.
func (p *workerPool) done(i int) {
	p.workers[i].busy = 0
	p.shrink()
	p.pump()
}

// fail stops worker i after a fatal error and returns the card it was screening (0: none),
// which the page fails; the other workers go on with the queue.
func (p *workerPool) fail(i int) int {
	w := p.workers[i]
	id := w.busy
	w.dead, w.ready, w.busy = true, false, 0
	p.pump()
	return id
}

// anyReady is a ready worker, nil when there is none.
func (p *workerPool) anyReady() *inferenceWorker {
	for _, w := range p.workers {
		if w.ready && !w.dead {
			return w.w
		}
	}
	return nil
}

// pump hands queued files, in order, to idle ready workers.
func (p *workerPool) pump() {
	for i, w := range p.workers {
		if len(p.queue) == 0 {
			return
		}
		if w.ready && !w.dead && w.busy == 0 {
			j := p.queue[0]
			p.queue = p.queue[1:]
			w.busy = j.id
			w.w.screenSite(j.id, j.name, j.file, j.site)
			p.started(j.id, i)
		}
	}
}

// workerSelector lets the user choose how many workers screen at once.
func workerSelector(n, ready int, onChange app.EventHandler) app.UI {
	opts := make([]app.UI, 0, maxWorkers)
	for i := 1; i <= maxWorkers; i++ {
		opts = append(opts, app.Option().Value(strconv.Itoa(i)).Selected(i == n).Text(strconv.Itoa(i)))
	}
	return app.Div().Class("workers").Body(
		app.Label().For("workers").Text("Images screened at once "),
		app.Select().ID("workers").DataSet("ready", ready).OnChange(onChange).Body(opts...),
		app.Span().Class("hint").Text(" (one worker each, about "+strconv.Itoa(workerMiB)+" MB of memory per worker; default: one per core)"),
	)
}
