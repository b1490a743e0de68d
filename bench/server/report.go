package main

import (
	"fmt"
	"math"
	"net/http"
	"slices"
	"strings"
	"time"

	"pneumoscan/internal/benchstat"
)

// runInfo is what the report says about the run besides the result.
type runInfo struct {
	started time.Time
	machine benchstat.Machine
	server  string // how the server was started
}

// row is one kind's tally.
type row struct {
	requests int
	statuses map[int]int
	noAnswer int
	errors   int
	ms       []float64 // answered, busy answers excluded
}

func (r *result) rows() (rows []row, busy row) {
	rows = make([]row, len(r.kinds))
	for i := range rows {
		rows[i].statuses = map[int]int{}
	}
	busy.statuses = map[int]int{}
	for _, o := range r.outcomes {
		if !o.done {
			continue
		}
		w := &rows[o.kind]
		w.requests++
		if o.status == 0 {
			w.noAnswer++
		} else {
			w.statuses[o.status]++
		}
		if o.errKind != "" {
			w.errors++
		}
		switch {
		case o.busy:
			busy.requests++
			busy.statuses[o.status]++
			busy.ms = append(busy.ms, o.ms)
		case o.status != 0:
			w.ms = append(w.ms, o.ms)
		}
	}
	return rows, busy
}

// errorsByKind counts each kind's errors by class, with the first detail of each.
func (r *result) errorsByKind() []string {
	type key struct {
		kind  int
		class string
	}
	count := map[key]int{}
	first := map[key]string{}
	var keys []key
	for _, o := range r.outcomes {
		if !o.done || o.errKind == "" {
			continue
		}
		k := key{o.kind, o.errKind}
		if count[k] == 0 {
			keys = append(keys, k)
			first[k] = o.detail
			if o.file >= 0 {
				first[k] = r.valid[o.file].label + ": " + o.detail
			}
		}
		count[k]++
	}
	slices.SortFunc(keys, func(a, b key) int {
		if a.kind != b.kind {
			return a.kind - b.kind
		}
		return strings.Compare(a.class, b.class)
	})
	var out []string
	for _, k := range keys {
		out = append(out, fmt.Sprintf("%s: %s x%d (first: %s)", r.kinds[k.kind].name, k.class, count[k], first[k]))
	}
	return out
}

// failures are the reasons the run fails; none means it passed.
func (r *result) failures() []string {
	var out []string
	errs := 0
	for _, o := range r.outcomes {
		if o.done && o.errKind != "" {
			errs++
		}
	}
	if errs > 0 {
		out = append(out, fmt.Sprintf("%d requests did not get the answer the API promises (errors by kind above)", errs))
	}
	if r.incomplete {
		done := 0
		for _, o := range r.outcomes {
			if o.done {
				done++
			}
		}
		out = append(out, fmt.Sprintf("stopped at -timeout %v after %d of %d requests", r.cfg.timeout, done, len(r.outcomes)))
	}
	if r.compared == 0 && len(r.valid) > 0 && r.cfg.validShare > 0 {
		out = append(out, "no valid film was answered in the mix: nothing was compared with the answers alone")
	}
	if r.rss.err != nil {
		out = append(out, fmt.Sprintf("the server's VmHWM could not be read at the end: %v", r.rss.err))
	}
	if p := r.rss.peak(); p > r.cfg.maxRSS {
		out = append(out, fmt.Sprintf("the server's peak resident set %s MiB is over the %s MiB limit (-max-rss)", mib(p), mib(r.cfg.maxRSS)))
	}
	return out
}

func mib(b int64) string { return fmt.Sprintf("%.0f", float64(b)/(1<<20)) }

func ms(v float64) string {
	if math.IsNaN(v) {
		return "-"
	}
	return fmt.Sprintf("%.0f", v)
}

func statusList(w row) string {
	var codes []int
	for c := range w.statuses {
		codes = append(codes, c)
	}
	slices.Sort(codes)
	var parts []string
	for _, c := range codes {
		parts = append(parts, fmt.Sprintf("%d x%d", c, w.statuses[c]))
	}
	if w.noAnswer > 0 {
		parts = append(parts, fmt.Sprintf("no answer x%d", w.noAnswer))
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, ", ")
}

// formatReport is the Markdown report: the machine and the load, the table, the totals.
func formatReport(info runInfo, r *result) string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	cfg := r.cfg
	rows, busy := r.rows()
	done := 0
	for _, w := range rows {
		done += w.requests
	}

	p("## bench-server %s\n\n", info.started.Format("2006-01-02 15:04 MST"))
	p("- machine: %s, %d cores, load average at start %s\n", info.machine.CPU, info.machine.Cores, info.machine.Load)
	p("- server: %s\n", info.server)
	p("- load: %d requests from %d concurrent clients over loopback (seed %d); valid share %.2f; %d slow client(s), sent first; a client answered 503 waits its Retry-After (at most %v) before its next request\n",
		len(r.outcomes), cfg.c, cfg.seed, cfg.validShare, min(cfg.slow, len(r.outcomes)), cfg.busyWaitMax)
	var labels []string
	var soloMS []float64
	for i, f := range r.valid {
		labels = append(labels, f.label)
		soloMS = append(soloMS, r.solo[i].ms)
	}
	p("- valid films (%d): %s; each first sent alone (p50 %s ms, max %s ms), and every answer in the mix must be byte-identical to its answer alone\n\n",
		len(r.valid), strings.Join(labels, ", "), ms(benchstat.NearestRank(soloMS, 0.5)), ms(benchstat.NearestRank(soloMS, 1)))

	p("| kind | expected | requests | status codes seen | errors | p50 ms | p99 ms |\n")
	p("|---|---|---|---|---|---|---|\n")
	var all, validMS []float64
	errs := 0
	for i, w := range rows {
		k := r.kinds[i]
		p("| %s | %d %s | %d | %s | %d | %s | %s |\n", k.name, k.want, http.StatusText(k.want), w.requests, statusList(w), w.errors,
			ms(benchstat.NearestRank(w.ms, 0.5)), ms(benchstat.NearestRank(w.ms, 0.99)))
		all = append(all, w.ms...)
		if k.valid {
			validMS = append(validMS, w.ms...)
		}
		errs += w.errors
	}
	p("| busy: 503 with Retry-After (any POST kind; also counted in its own row) | 503 when -max-inflight are running | %d | %s | - | %s | %s |\n",
		busy.requests, statusList(busy), ms(benchstat.NearestRank(busy.ms, 0.5)), ms(benchstat.NearestRank(busy.ms, 0.99)))
	all = append(all, busy.ms...)
	p("| **all** | | %d | | %d | %s | %s |\n\n", done, errs, ms(benchstat.NearestRank(all, 0.5)), ms(benchstat.NearestRank(all, 0.99)))

	p("- wall time of the mix %.1f s: %.2f requests/s; p50 / p99 over all answers %s / %s ms; valid films answered 200: p50 / p99 %s / %s ms over %d\n",
		r.wall.Seconds(), float64(done)/r.wall.Seconds(), ms(benchstat.NearestRank(all, 0.5)), ms(benchstat.NearestRank(all, 0.99)),
		ms(benchstat.NearestRank(validMS, 0.5)), ms(benchstat.NearestRank(validMS, 0.99)), len(validMS))
	var lastFast time.Duration // the last request other than a slow client's
	fast, slow := 0, 0
	for _, o := range r.outcomes {
		switch {
		case !o.done:
		case r.kinds[o.kind].slow:
			slow++
		default:
			fast++
			lastFast = max(lastFast, o.end)
		}
	}
	if slow > 0 && fast > 0 {
		p("- the %d slow clients set the wall time (the read timeout); the other %d requests were done after %.1f s: %.2f requests/s\n",
			slow, fast, lastFast.Seconds(), float64(fast)/lastFast.Seconds())
	}
	mismatch := 0
	for _, o := range r.outcomes {
		if o.done && o.errKind == errDiffers {
			mismatch++
		}
	}
	p("- answers identical to the film's answer alone: %d of %d valid answers compared (mismatches: %d)\n", r.compared-mismatch, r.compared, mismatch)
	p("- busy (503): %d of %d requests (%.1f%%)\n", busy.requests, done, 100*float64(busy.requests)/float64(max(done, 1)))
	p("- server peak resident set: %s MiB (VmHWM %s MiB, largest of %d VmRSS samples %s MiB; limit %s MiB), over the solo films and the mix\n",
		mib(r.rss.peak()), mib(r.rss.hwm), r.rss.samples, mib(r.rss.sampled), mib(cfg.maxRSS))
	if e := r.errorsByKind(); len(e) > 0 {
		p("- errors by kind:\n")
		for _, l := range e {
			p("  - %s\n", l)
		}
	} else {
		p("- errors by kind: none\n")
	}
	if f := r.failures(); len(f) > 0 {
		p("- result: FAIL: %s\n", strings.Join(f, "; "))
	} else {
		p("- result: pass\n")
	}
	return b.String()
}
