package web

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"strconv"

	"github.com/maxence-charriere/go-app/v9/pkg/app"
)

// The audit log is one IndexedDB entry per screened file, kept in this browser only: it
// never leaves the device (no request carries it), and holds no file name, only the file's
// SHA-256, so a film can be matched to its entry by whoever has the film.
const (
	auditDB    = "pneumoscan-audit"
	auditStore = "entries"
)

// auditEntry is one screened file in the log.
type auditEntry struct {
	Time        string  `json:"time"` // ISO 8601 UTC
	FileSHA256  string  `json:"fileSha256"`
	ModelSHA256 string  `json:"modelSha256"`
	Operating   string  `json:"operating"` // the operating point chosen when the file was screened
	Prob        float64 `json:"prob"`      // the score; 0 with verdict "refused"
	Score       string  `json:"score"`     // as the page showed it
	Verdict     string  `json:"verdict"`
	Gate        string  `json:"gate"` // "no gate" when there was none
}

// auditLog is the page's end of the IndexedDB store. Entries added before the database is
// open wait in pending.
type auditLog struct {
	db      app.Value
	pending []auditEntry
	err     string
}

func openAuditLog(onErr func(string)) *auditLog {
	l := &auditLog{}
	idb := app.Window().Get("indexedDB")
	if !idb.Truthy() {
		l.err = "this browser has no IndexedDB: no audit log is kept"
		return l
	}
	req := idb.Call("open", auditDB, 1)
	var upgrade, ok, fail app.Func
	release := func() { upgrade.Release(); ok.Release(); fail.Release() }
	upgrade = app.FuncOf(func(this app.Value, args []app.Value) any {
		opts := app.Window().Get("Object").New()
		opts.Set("autoIncrement", true)
		req.Get("result").Call("createObjectStore", auditStore, opts)
		return nil
	})
	ok = app.FuncOf(func(this app.Value, args []app.Value) any {
		defer release()
		l.db = req.Get("result")
		for _, e := range l.pending {
			l.add(e, onErr)
		}
		l.pending = nil
		return nil
	})
	fail = app.FuncOf(func(this app.Value, args []app.Value) any {
		defer release()
		l.err = "the audit log cannot be opened: " + errorText(req.Get("error"))
		onErr(l.err)
		return nil
	})
	req.Set("onupgradeneeded", upgrade)
	req.Set("onsuccess", ok)
	req.Set("onerror", fail)
	return l
}

func errorText(v app.Value) string {
	if v.Truthy() {
		return v.Call("toString").String()
	}
	return "unknown error"
}

// store is a transaction's object store, and the transaction.
func (l *auditLog) store(mode string) (app.Value, app.Value) {
	tx := l.db.Call("transaction", auditStore, mode)
	return tx.Call("objectStore", auditStore), tx
}

// add writes one entry; onErr hears of a failed write.
func (l *auditLog) add(e auditEntry, onErr func(string)) {
	if l.db == nil {
		if l.err == "" {
			l.pending = append(l.pending, e)
		}
		return
	}
	b, _ := json.Marshal(e) // strings and a float: always marshals
	st, tx := l.store("readwrite")
	st.Call("add", app.Window().Get("JSON").Call("parse", string(b)))
	var fail app.Func
	fail = app.FuncOf(func(this app.Value, args []app.Value) any {
		defer fail.Release()
		onErr("writing the audit log failed: " + errorText(tx.Get("error")))
		return nil
	})
	tx.Set("onerror", fail)
	tx.Set("oncomplete", app.FuncOf(func(this app.Value, args []app.Value) any {
		fail.Release()
		return nil
	}))
}

// list reads every entry, oldest first.
func (l *auditLog) list(done func([]auditEntry, string)) {
	if l.db == nil {
		done(append([]auditEntry(nil), l.pending...), l.err)
		return
	}
	st, _ := l.store("readonly")
	req := st.Call("getAll")
	var ok, fail app.Func
	release := func() { ok.Release(); fail.Release() }
	ok = app.FuncOf(func(this app.Value, args []app.Value) any {
		defer release()
		var entries []auditEntry
		text := app.Window().Get("JSON").Call("stringify", req.Get("result")).String()
		if err := json.Unmarshal([]byte(text), &entries); err != nil {
			done(nil, "the audit log does not read: "+err.Error())
			return nil
		}
		done(entries, "")
		return nil
	})
	fail = app.FuncOf(func(this app.Value, args []app.Value) any {
		defer release()
		done(nil, "reading the audit log failed: "+errorText(req.Get("error")))
		return nil
	})
	req.Set("onsuccess", ok)
	req.Set("onerror", fail)
}

// clear deletes every entry.
func (l *auditLog) clear(done func(string)) {
	l.pending = nil
	if l.db == nil {
		done(l.err)
		return
	}
	st, tx := l.store("readwrite")
	st.Call("clear")
	var ok, fail app.Func
	release := func() { ok.Release(); fail.Release() }
	ok = app.FuncOf(func(this app.Value, args []app.Value) any {
		defer release()
		done("")
		return nil
	})
	fail = app.FuncOf(func(this app.Value, args []app.Value) any {
		defer release()
		done("clearing the audit log failed: " + errorText(tx.Get("error")))
		return nil
	})
	tx.Set("oncomplete", ok)
	tx.Set("onerror", fail)
}

// auditColumns are the audit CSV's columns, in auditEntry's order.
var auditColumns = []string{"time", "file_sha256", "model_sha256", "operating_point", "probability", "score", "verdict", "gate"}

func auditCSV(entries []auditEntry) string {
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	w.Write(auditColumns)
	for _, e := range entries {
		prob := ""
		if e.Score != "" {
			prob = strconv.FormatFloat(e.Prob, 'f', 6, 64)
		}
		w.Write([]string{e.Time, e.FileSHA256, e.ModelSHA256, e.Operating, prob, e.Score, e.Verdict, e.Gate})
	}
	w.Flush()
	return b.String()
}

// auditView is the audit log's section of the page: shown or not, the entries last read,
// and the clear confirmation.
type auditView struct {
	open       bool
	entries    []auditEntry
	err        string
	confirming bool
	csvURL     string
}

func (v *auditView) render(onToggle, onExport, onClear, onConfirm, onKeep app.EventHandler) app.UI {
	if !v.open {
		return app.Div().Class("audit").Body(
			app.Button().ID("audit-open").Text("Audit log").OnClick(onToggle),
		)
	}
	rows := make([]app.UI, 0, len(v.entries))
	for i := len(v.entries) - 1; i >= 0; i-- { // newest first
		e := v.entries[i]
		rows = append(rows, app.Tr().Class("audit-entry").Body(
			app.Td().Text(e.Time), app.Td().Class("sha").Title(e.FileSHA256).Text(short(e.FileSHA256)),
			app.Td().Class("sha").Title(e.ModelSHA256).Text(short(e.ModelSHA256)), app.Td().Text(e.Operating),
			app.Td().Text(e.Score), app.Td().Text(e.Verdict), app.Td().Text(e.Gate),
		))
	}
	return app.Div().Class("audit").Body(
		app.Button().ID("audit-open").Text("Hide the audit log").OnClick(onToggle),
		app.Section().ID("audit-log").Class("audit-log").DataSet("count", len(v.entries)).Body(
			app.H2().Text("Audit log"),
			app.P().Class("hint").Text("One entry per screened file, kept in this browser only (IndexedDB): nothing is sent anywhere. "+
				"Entries hold the file's SHA-256, not its name."),
			app.If(v.err != "", app.P().Class("card-error").ID("audit-error").Text(v.err)),
			app.Div().Class("results-tools").Body(
				app.Button().ID("audit-export").Disabled(len(v.entries) == 0).Text("Export CSV").OnClick(onExport),
				app.If(v.csvURL != "", app.A().ID("audit-csv").Href(v.csvURL).Attr("download", "pneumoscan-audit.csv").Text("audit.csv")),
				app.If(!v.confirming, app.Button().ID("audit-clear").Disabled(len(v.entries) == 0).Text("Clear the log").OnClick(onClear)).Else(
					app.Span().ID("audit-confirm").Body(
						app.Text("Delete all "+strconv.Itoa(len(v.entries))+" entries? This cannot be undone. "),
						app.Button().ID("audit-clear-yes").Text("Delete them").OnClick(onConfirm),
						app.Button().ID("audit-clear-no").Text("Keep them").OnClick(onKeep),
					),
				),
			),
			app.Table().Class("results-table").Body(
				app.THead().Body(app.Tr().Body(
					app.Th().Text("Time (UTC)"), app.Th().Text("File SHA-256"), app.Th().Text("Model SHA-256"),
					app.Th().Text("Operating point"), app.Th().Text("Score"), app.Th().Text("Verdict"), app.Th().Text("Gate"),
				)),
				app.TBody().Body(rows...),
			),
		),
	)
}

func short(sha string) string {
	if len(sha) > 12 {
		return sha[:12] + "…"
	}
	return sha
}
