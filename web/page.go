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

	restored   []resultRow // the rows an earlier load of this tab kept (sessionStorage)
	results    resultsTable
	batchStart time.Time // when the files now pending began to be screened, for the ETA
	batchDone  int       // files finished since batchStart
	audit      *auditLog
	auditView  auditView
	viewing    *card       // the card the film viewer shows, nil when it is closed
	report     *report     // the printable report being made or printed, nil when none
	calib      calibration // the site calibration view and the site point in use (calibration.go)
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
	p.restored = loadResults(ctx)
	for _, r := range p.restored {
		p.nextID = max(p.nextID, r.ID)
	}
	p.audit = openAuditLog(func(msg string) { ctx.Dispatch(func(app.Context) { p.auditView.err = msg }) })
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
	if id := d.Get("id"); id.Type() == app.TypeNumber && isCalibrationID(id.Int()) {
		p.onCalibrationFilm(i, d) // a film of the site calibration, not a card's
		return
	}
	switch d.Get("type").String() {
	case "calibrated", "site-checked", "site-error":
		p.onSiteMessage(ctx, d)
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
		p.restoreSite(ctx)
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
		p.pool.cancel() // nothing will screen them: their cards fail below
		for _, c := range p.cards {
			if !c.row().finished() {
				c.fail(d.Get("message").String())
			}
		}
		saveResults(ctx, p.rows())
	case "stage":
		if c := p.card(d.Get("id").Int()); c != nil {
			c.setStage(d.Get("stage").String())
		}
	case "result":
		p.pool.done(i)
		if c := p.card(d.Get("id").Int()); c != nil {
			c.setResult(d)
			p.finished(ctx, c)
			ctx.Defer(func(app.Context) { c.drawHeatmap() })
			// The thumbnail is made once, from the File; the card then holds no decoded film
			// unless it is open.
			c.makeThumb(func() { ctx.Dispatch(func(app.Context) {}) })
		}
	case "error":
		p.pool.done(i)
		if c := p.card(d.Get("id").Int()); c != nil {
			c.refuse(d)
			c.noThumb = true
			c.close()
			p.finished(ctx, c)
		}
	}
}

// finished records a card's result or refusal: the batch's rate, the rows kept for a
// reload, and the audit log.
func (p *Page) finished(ctx app.Context, c *card) {
	p.batchDone++
	c.model = modelRef{Name: p.model.name, Version: p.model.version, SHA256: p.model.sha256}
	saveResults(ctx, p.rows())
	r := c.row()
	op := p.model.info.point(p.operating)
	verdict, _ := r.verdict(op.Name)
	e := auditEntry{Time: r.Time, FileSHA256: r.FileSHA256, ModelSHA256: r.Model.SHA256, Operating: op.Name,
		Score: r.score(), Verdict: verdictLabel(verdict), Gate: r.gateText()}
	if r.Status == stageDone {
		e.Prob = r.Prob
	}
	p.audit.add(e, func(msg string) { ctx.Dispatch(func(app.Context) { p.auditView.err = msg }) })
	if p.auditView.open {
		p.auditView.entries = append(p.auditView.entries, e)
	}
}

// rows are the results table's rows: those kept from before a reload, then this load's.
func (p *Page) rows() []resultRow {
	rows := make([]resultRow, 0, len(p.restored)+len(p.cards))
	rows = append(rows, p.restored...)
	for _, c := range p.cards {
		rows = append(rows, c.row())
	}
	return rows
}

// pending counts the files queued or being screened.
func (p *Page) pending() int {
	n := 0
	for _, c := range p.cards {
		if !c.row().finished() {
			n++
		}
	}
	return n
}

// cancelBatch drops the files no worker has yet; the ones being screened finish.
func (p *Page) cancelBatch(ctx app.Context, e app.Event) {
	for _, id := range p.pool.cancel() {
		if c := p.card(id); c != nil {
			c.stage = stageCancelled
			c.finishedAt = time.Now()
			c.close()
		}
	}
	saveResults(ctx, p.rows())
}

// clearResults empties the table and the cards (not the audit log), once nothing is pending.
func (p *Page) clearResults(ctx app.Context, e app.Event) {
	if p.pending() > 0 {
		return
	}
	for _, c := range p.cards {
		c.close()
	}
	p.cards, p.restored = nil, nil
	saveResults(ctx, nil)
}

func (p *Page) toggleAudit(ctx app.Context, e app.Event) {
	p.auditView.open = !p.auditView.open
	p.auditView.confirming = false
	if p.auditView.open {
		p.refreshAudit()
	}
}

func (p *Page) refreshAudit() {
	p.audit.list(func(entries []auditEntry, err string) {
		p.ctx.Dispatch(func(app.Context) { p.auditView.entries, p.auditView.err = entries, err })
	})
}

func (p *Page) exportAudit(ctx app.Context, e app.Event) {
	p.auditView.csvURL = downloadURL(p.auditView.csvURL, "pneumoscan-audit.csv", "text/csv", auditCSV(p.auditView.entries))
}

func (p *Page) confirmClearAudit(ctx app.Context, e app.Event) {
	p.auditView.confirming = false
	p.audit.clear(func(err string) {
		p.ctx.Dispatch(func(app.Context) { p.auditView.err = err })
		p.refreshAudit()
	})
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

// addFiles queues each chosen or dropped file in the worker pool. The File itself is queued
// (the worker reads it when its turn comes), so a batch of hundreds holds no bytes waiting.
func (p *Page) addFiles(files []app.Value) {
	if p.pending() == 0 {
		p.batchStart, p.batchDone = time.Now(), 0
	}
	for _, f := range files {
		p.nextID++
		c := &card{id: p.nextID, name: f.Get("name").String(), file: f, stage: stageQueued, opacity: 0.5, showHeatmap: true, worker: -1}
		if len(p.cards) < openCards {
			c.open()
		}
		// Appended, not prepended: go-app diffs by position, and drawn canvases must stay put.
		p.cards = append(p.cards, c)
		p.pool.add(job{id: c.id, name: c.name, file: f, site: p.calib.site})
	}
}

// fileList is a FileList (or any array-like of Files) as a slice.
func fileList(files app.Value) []app.Value {
	out := make([]app.Value, 0, files.Length())
	for i := 0; i < files.Length(); i++ {
		out = append(out, files.Index(i))
	}
	return out
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
			app.If(p.model.ready, p.calibrationView()),
			app.If(len(p.cards) > 0, batchProgress(p.cards, p.batchStart, p.batchDone, p.cancelBatch)),
			// Always there, so what appears in it never moves the cards (go-app diffs by position).
			app.Div().Class("results-wrap").Body(
				app.If(len(p.restored)+len(p.cards) > 0, p.results.render(p.rows(), p.model.info.point(p.operating),
					func(ctx app.Context, e app.Event) { p.results.exportCSV(p.rows(), p.model.info.point(p.operating)) },
					func(ctx app.Context, e app.Event) { p.results.exportJSON(p.rows(), p.model.info.point(p.operating)) },
					p.clearResults, p.pending() == 0, p.printButton())),
			),
			app.Div().Class("cards").Body(
				app.Range(p.cards).Slice(func(i int) app.UI {
					return p.cards[i].render(p.model.info, p.model.info.point(p.operating), p.crossCheck, p.view)
				}),
			),
			app.If(p.viewing != nil, p.viewer()),
			p.auditView.render(p.toggleAudit, p.exportAudit,
				func(ctx app.Context, e app.Event) { p.auditView.confirming = true }, p.confirmClearAudit,
				func(ctx app.Context, e app.Event) { p.auditView.confirming = false }),
		),
		footer(p.model),
		// The report is on the page only while it is printed; the print stylesheet shows it alone.
		app.If(p.report != nil && p.report.ready, p.printed()),
	)
}

// view opens the film viewer on c; closeViewer is called when its dialog has closed.
func (p *Page) view(c *card) { p.viewing = c }

func (p *Page) closeViewer() { p.ctx.Dispatch(func(app.Context) { p.viewing = nil }) }

// viewer is the film viewer of the card being viewed (nil when none: go-app's If takes
// its elements built).
func (p *Page) viewer() app.UI {
	if p.viewing == nil {
		return nil
	}
	return newViewer(p.viewing, p.closeViewer)
}

// printed is the report while it is printed, nil when there is none.
func (p *Page) printed() app.UI {
	if p.report == nil || !p.report.ready {
		return nil
	}
	return p.report.render(p.rows(), p.model.info.point(p.operating), p.model.info,
		modelRef{Name: p.model.name, Version: p.model.version, SHA256: p.model.sha256})
}

func (p *Page) onFilesEvent(ctx app.Context, e app.Event) {
	input := ctx.JSSrc()
	files := fileList(input.Get("files"))
	if input.Get("webkitdirectory").Bool() {
		files = screenable(files)
	}
	p.addFiles(files)
	input.Set("value", "") // so picking the same file again queues it again
}

func (p *Page) onDrop(ctx app.Context, e app.Event) {
	e.PreventDefault()
	droppedFiles(e.Get("dataTransfer"), func(files []app.Value) {
		p.ctx.Dispatch(func(app.Context) { p.addFiles(files) })
	})
}
