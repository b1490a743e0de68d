package web

import (
	"bytes"
	"cmp"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/maxence-charriere/go-app/v9/pkg/app"
)

// resultsKey keeps the session's results (rows, never pictures) in sessionStorage, so a
// reload of the tab restores the table; closing the tab forgets them.
const resultsKey = "pneumoscan.results"

// Verdicts of the results table, beyond the model's own (positive, negative, indeterminate).
const (
	verdictRefused   = "refused"   // the file could not be screened (not an image, no film to read, a gate refusal)
	verdictOutside   = "outside"   // the result says the film is outside the population the model was validated on
	verdictCancelled = "cancelled" // the user cancelled the batch before the file reached a worker
	verdictPending   = "pending"   // queued or being screened
)

// verdictLabels name the verdicts in the table, its filter and its summary, in that order.
var verdictLabels = []struct{ key, label string }{
	{"positive", "positive"}, {"negative", "negative"}, {"indeterminate", "indeterminate"},
	{verdictRefused, "refused"}, {verdictOutside, "outside population"}, {verdictCancelled, "cancelled"},
	{verdictPending, "not finished"},
}

func verdictLabel(key string) string {
	for _, v := range verdictLabels {
		if v.key == key {
			return v.label
		}
	}
	return key // a verdict this page does not know (a newer worker): shown as it is
}

// gateResult is what a gate before the model said of the film, when the worker reports one
// (a result's "gate" field: a string, or an object with verdict and text). Absent: no gate.
type gateResult struct {
	Verdict string `json:"verdict,omitempty"`
	Text    string `json:"text,omitempty"`
}

// readGate reads a result's gate field, whatever of the two shapes it has.
func readGate(v app.Value) gateResult {
	switch v.Type() {
	case app.TypeString:
		return gateResult{Verdict: v.String()}
	case app.TypeObject:
		if v.IsNull() {
			return gateResult{}
		}
		g := gateResult{Verdict: jsString(v.Get("verdict")), Text: jsString(v.Get("text"))}
		if g.Text == "" {
			g.Text = jsString(v.Get("message"))
		}
		return g
	}
	return gateResult{}
}

// jsString is v's text when v is a string, else "" (undefined, null, a number).
func jsString(v app.Value) string {
	if v.Type() != app.TypeString {
		return ""
	}
	return v.String()
}

// modelRef names the model a result came from.
type modelRef struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	SHA256  string `json:"sha256"`
}

// resultRow is one screened file as the table, the exports and sessionStorage know it:
// everything but its pictures.
type resultRow struct {
	ID int `json:"id"`
	// File is the file's name as the user chose it, without the folder path. It is the
	// one thing in a row that may identify a patient: the exports say so.
	File       string              `json:"file"`
	Status     string              `json:"status"` // a card stage: done, error, cancelled, or still pending
	Prob       float64             `json:"prob"`
	Decisions  map[string]decision `json:"decisions"`
	Gate       gateResult          `json:"gate"`
	Outside    string              `json:"outside,omitempty"`  // why the film is outside the validated population
	Message    string              `json:"message,omitempty"`  // why the file was refused
	Category   string              `json:"category,omitempty"` // the refusal's category, when the worker names one
	FileSHA256 string              `json:"fileSha256,omitempty"`
	Model      modelRef            `json:"model"`
	Time       string              `json:"time,omitempty"` // when the result came, ISO 8601 UTC
	thumb      string              // data: URL of the thumbnail, "" when none (restored rows: not kept)
	restored   bool                // from sessionStorage: the pictures were not kept
	card       *card               // the card of a row of this page's life, nil when restored
}

func (r resultRow) finished() bool {
	return r.Status == stageDone || r.Status == stageError || r.Status == stageCancelled
}

// verdict is the row's verdict at operating point op, as a key of verdictLabels, and its text.
func (r resultRow) verdict(op string) (key, text string) {
	switch r.Status {
	case stageDone:
	case stageError:
		return verdictRefused, "Not screened: " + r.Message
	case stageCancelled:
		return verdictCancelled, "Cancelled before it was screened"
	default:
		return verdictPending, "Not finished"
	}
	if r.Outside != "" {
		return verdictOutside, "Outside the population the model was validated on: " + r.Outside
	}
	d, ok := r.Decisions[op]
	if !ok {
		return "unknown", fmt.Sprintf("No verdict at operating point %q", op)
	}
	return d.Verdict, d.Text
}

// score is the row's score as the card shows it (no false precision), "" when none.
func (r resultRow) score() string {
	if r.Status != stageDone {
		return ""
	}
	return scoreText(r.Prob)
}

func (r resultRow) gateText() string {
	if r.Gate.Verdict == "" {
		return "no gate"
	}
	return r.Gate.Verdict
}

// resultsTable is the batch's table: its sort column and direction and its verdict filter.
type resultsTable struct {
	sortBy  string // "", "file", "verdict", "score", "gate", "time"; "" is file order
	desc    bool
	filter  string // a verdict key, "" for all
	csvURL  string // blob: URL of the last CSV export
	jsonURL string
}

// shown are the rows the table shows at operating point op: filtered, then sorted.
func (t *resultsTable) shown(rows []resultRow, op string) []resultRow {
	out := make([]resultRow, 0, len(rows))
	for _, r := range rows {
		if k, _ := r.verdict(op); t.filter == "" || k == t.filter {
			out = append(out, r)
		}
	}
	slices.SortStableFunc(out, func(a, b resultRow) int {
		var c int
		switch t.sortBy {
		case "file":
			c = strings.Compare(strings.ToLower(a.File), strings.ToLower(b.File))
		case "verdict":
			ka, _ := a.verdict(op)
			kb, _ := b.verdict(op)
			c = cmp.Compare(verdictRank(ka), verdictRank(kb))
		case "score":
			// Unscored rows (refused, cancelled, pending) after every score, either way.
			if sa, sb := a.Status == stageDone, b.Status == stageDone; sa != sb {
				if sa {
					return -1
				}
				return 1
			}
			c = cmp.Compare(a.Prob, b.Prob)
		case "gate":
			c = strings.Compare(a.gateText(), b.gateText())
		case "time":
			c = strings.Compare(a.Time, b.Time)
		}
		if t.desc {
			c = -c
		}
		return cmp.Or(c, cmp.Compare(a.ID, b.ID))
	})
	return out
}

func verdictRank(key string) int {
	for i, v := range verdictLabels {
		if v.key == key {
			return i
		}
	}
	return len(verdictLabels)
}

// sortOn is a click on a column header: the same column again flips the direction.
func (t *resultsTable) sortOn(col string) {
	if t.sortBy == col {
		t.desc = !t.desc
		return
	}
	t.sortBy, t.desc = col, false
}

// summary counts the rows by verdict at op: "12 files: 3 positive, 8 negative, 1 refused".
func summary(rows []resultRow, op string) string {
	n := map[string]int{}
	for _, r := range rows {
		k, _ := r.verdict(op)
		n[k]++
	}
	var parts []string
	for _, v := range verdictLabels {
		if n[v.key] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n[v.key], v.label))
			delete(n, v.key)
		}
	}
	others := make([]string, 0, len(n))
	for k := range n {
		others = append(others, k)
	}
	slices.Sort(others)
	for _, k := range others {
		parts = append(parts, fmt.Sprintf("%d %s", n[k], k))
	}
	files := "files"
	if len(rows) == 1 {
		files = "file"
	}
	return fmt.Sprintf("%d %s: %s", len(rows), files, strings.Join(parts, ", "))
}

// exportColumns are the columns of both exports. The file name is the only field that may
// identify a patient; the model and operating point are in every row so a row stands alone.
var exportColumns = []string{"file", "screened_at", "verdict", "verdict_text", "score", "probability", "operating_point",
	"threshold", "gate", "gate_text", "refusal", "refusal_category", "file_sha256", "model_name", "model_version", "model_sha256"}

// exportRecord is one row for the exports, at operating point op.
func exportRecord(r resultRow, op operatingPoint) []string {
	key, text := r.verdict(op.Name)
	prob := ""
	if r.Status == stageDone {
		prob = strconv.FormatFloat(r.Prob, 'f', 6, 64)
	}
	gate := r.Gate.Verdict // "" when there was no gate: the export leaves it empty
	return []string{r.File, r.Time, verdictLabel(key), text, r.score(), prob, op.Name,
		strconv.FormatFloat(op.Value, 'f', 3, 64), gate, r.Gate.Text, r.Message, r.Category, r.FileSHA256,
		r.Model.Name, r.Model.Version, r.Model.SHA256}
}

// resultsCSV is the rows as CSV with a header line.
func resultsCSV(rows []resultRow, op operatingPoint) string {
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	w.Write(exportColumns)
	for _, r := range rows {
		w.Write(exportRecord(r, op))
	}
	w.Flush()
	return b.String()
}

// resultsJSON is the rows as a JSON array of objects keyed by exportColumns.
func resultsJSON(rows []resultRow, op operatingPoint) string {
	out := make([]map[string]string, 0, len(rows))
	for _, r := range rows {
		rec := exportRecord(r, op)
		m := make(map[string]string, len(rec))
		for i, c := range exportColumns {
			m[c] = rec[i]
		}
		out = append(out, m)
	}
	b, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return "[]" // maps of strings always marshal
	}
	return string(b) + "\n"
}

// exportCSV and exportJSON download the rows shown at op.
func (t *resultsTable) exportCSV(rows []resultRow, op operatingPoint) {
	t.csvURL = downloadURL(t.csvURL, "pneumoscan-results.csv", "text/csv", resultsCSV(t.shown(rows, op.Name), op))
}

func (t *resultsTable) exportJSON(rows []resultRow, op operatingPoint) {
	t.jsonURL = downloadURL(t.jsonURL, "pneumoscan-results.json", "application/json", resultsJSON(t.shown(rows, op.Name), op))
}

// downloadURL makes a blob: URL holding content (revoking prev, the last export's) and
// clicks a download link to it; the page keeps a link too, for a second download.
func downloadURL(prev, name, mime, content string) string {
	url := app.Window().Get("URL")
	if prev != "" {
		url.Call("revokeObjectURL", prev)
	}
	opts := app.Window().Get("Object").New()
	opts.Set("type", mime)
	blob := app.Window().Get("Blob").New(app.Window().Get("Array").New(content), opts)
	href := url.Call("createObjectURL", blob).String()
	a := app.Window().Get("document").Call("createElement", "a")
	a.Set("href", href)
	a.Set("download", name)
	a.Call("click")
	return href
}

// render draws the summary, the filter, the exports and the table.
// Its handlers are the page's methods or act on t alone: go-app keeps an element's first
// handler, so a closure over this render's rows would export the rows of the first render.
// tools are the page's own actions on the results (printing), put in the table's toolbar.
func (t *resultsTable) render(rows []resultRow, op operatingPoint, onExportCSV, onExportJSON, onClear app.EventHandler, clearable bool, tools ...app.UI) app.UI {
	shown := t.shown(rows, op.Name)
	header := func(col, label string) app.UI {
		sort := "none"
		mark := ""
		if t.sortBy == col {
			sort, mark = "ascending", " ▲"
			if t.desc {
				sort, mark = "descending", " ▼"
			}
		}
		return app.Th().Aria("sort", sort).Body(
			app.Button().Class("sort").DataSet("col", col).Text(label + mark).
				OnClick(func(ctx app.Context, e app.Event) { t.sortOn(col) }),
		)
	}
	filterOpts := []app.UI{app.Option().Value("").Selected(t.filter == "").Text("all verdicts")}
	for _, v := range verdictLabels {
		filterOpts = append(filterOpts, app.Option().Value(v.key).Selected(t.filter == v.key).Text(v.label))
	}
	return app.Section().Class("results").ID("results").DataSet("rows", len(shown)).DataSet("total", len(rows)).Body(
		app.H2().Text("Results"),
		app.P().ID("results-summary").Class("results-summary").Text(summary(rows, op.Name)+fmt.Sprintf(" (at operating point %s)", op.Name)),
		app.Div().Class("results-tools").Body(
			app.Label().For("results-filter").Text("Show "),
			app.Select().ID("results-filter").OnChange(func(ctx app.Context, e app.Event) {
				t.filter = ctx.JSSrc().Get("value").String()
			}).Body(filterOpts...),
			app.Button().ID("export-csv").Text("Export CSV").OnClick(onExportCSV),
			app.Button().ID("export-json").Text("Export JSON").OnClick(onExportJSON),
			app.If(t.csvURL != "", app.A().ID("results-csv").Href(t.csvURL).Attr("download", "pneumoscan-results.csv").Text("results.csv")),
			app.If(t.jsonURL != "", app.A().ID("results-json").Href(t.jsonURL).Attr("download", "pneumoscan-results.json").Text("results.json")),
			app.Button().ID("results-clear").Disabled(!clearable).Text("Clear results").OnClick(onClear),
			app.Range(tools).Slice(func(i int) app.UI { return tools[i] }),
		),
		app.P().Class("hint").Text("Exports hold the rows shown, at the chosen operating point, with the model in each row. "+
			"They include the file names you chose: a file name can identify a patient."),
		app.Table().Class("results-table").Body(
			app.THead().Body(app.Tr().Body(
				app.Th().Text("Image"),
				header("file", "File"),
				header("verdict", "Verdict"),
				header("score", "Score"),
				header("gate", "Gate"),
			)),
			app.TBody().Body(
				app.Range(shown).Slice(func(i int) app.UI { return shown[i].render(op.Name) }),
			),
		),
	)
}

func (r resultRow) render(op string) app.UI {
	key, text := r.verdict(op)
	var thumb app.UI
	switch {
	case r.thumb != "":
		thumb = app.Img().Class("thumb").Src(r.thumb).Alt("thumbnail of " + r.File)
	case r.restored:
		thumb = app.Span().Class("thumb-none").Text("not kept")
	case r.Status == stageError || r.Status == stageCancelled:
		thumb = app.Span().Class("thumb-none").Text("no preview")
	default:
		thumb = app.Span().Class("thumb-none").Text("…")
	}
	score := r.score()
	if score == "" {
		score = "—"
	}
	gate := app.Td().Class("gate").Text(r.gateText())
	if r.Gate.Text != "" {
		gate = gate.Title(r.Gate.Text)
	}
	return app.Tr().Class("result-row").DataSet("id", r.ID).DataSet("file", r.File).DataSet("verdict", key).
		DataSet("prob", strconv.FormatFloat(r.Prob, 'g', -1, 64)).Body(
		app.Td().Body(thumb),
		app.Td().Class("file").Text(r.File),
		app.Td().Class("verdict "+key).Title(text).Text(verdictLabel(key)),
		app.Td().Class("score").Text(score),
		gate,
	)
}

// saveResults keeps the finished rows (not the pictures) in sessionStorage.
func saveResults(ctx app.Context, rows []resultRow) {
	keep := make([]resultRow, 0, len(rows))
	for _, r := range rows {
		if r.finished() {
			keep = append(keep, r)
		}
	}
	if err := ctx.SessionStorage().Set(resultsKey, keep); err != nil {
		app.Log("keeping the results for a reload failed:", err)
	}
}

// loadResults reads the rows a previous load of this tab kept.
func loadResults(ctx app.Context) []resultRow {
	var rows []resultRow
	if err := ctx.SessionStorage().Get(resultsKey, &rows); err != nil {
		app.Log("the kept results do not read:", err)
		return nil
	}
	for i := range rows {
		rows[i].restored = true
	}
	return rows
}
