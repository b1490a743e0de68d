package main

import (
	"context"
	"io"
	"log"
	"math"
	"net"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"pneumoscan/convnet"
	"pneumoscan/internal/testmodel"
	"pneumoscan/screen"
	"pneumoscan/server/api"
	"pneumoscan/server/httpserve"
)

// serveAPI serves the API of s the way the server command does (httpserve's server and
// timeouts), in this process, with a short read timeout so a slow client is cut quickly.
func serveAPI(t *testing.T, s api.Screener, maxInflight int, readTimeout time.Duration) string {
	t.Helper()
	mux := http.NewServeMux()
	a := api.NewWithOptions(s, api.Options{MaxInflight: maxInflight})
	for _, p := range api.Paths {
		mux.Handle(p, a)
	}
	srv := httpserve.NewServer(mux, nil, log.New(io.Discard, "", 0))
	srv.ReadTimeout = readTimeout
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String()
}

// skewed answers one float64 step above the true probability once it has screened `after`
// images: a server whose answers change under load.
type skewed struct {
	*screen.Screener
	after int64
	n     atomic.Int64
}

func (s *skewed) Screen(data []byte) (screen.Result, error) {
	r, err := s.Screener.Screen(data)
	if err == nil && s.n.Add(1) > s.after {
		r.Prob = math.Nextafter(r.Prob, 2)
	}
	return r, err
}

func smokeConfig(readTimeout time.Duration) loadConfig {
	return loadConfig{n: 40, c: 4, validShare: 0.3, slow: 1, seed: 1, timeout: 2 * time.Minute,
		readTimeout: readTimeout, maxRSS: 8 << 30, busyWaitMax: 20 * time.Millisecond}
}

// TestSmoke runs the benchmark's core against the API with the tiny model: every kind is
// sent and gets its status, every valid answer equals the film's answer alone, and a server
// whose answers change by one float64 step, or that refuses with 503, is caught.
func TestSmoke(t *testing.T) {
	s, err := screen.New(testmodel.Tiny(t), convnet.Engine)
	if err != nil {
		t.Fatal(err)
	}
	kinds, valid, err := buildKinds(testmodel.Root, "", 0, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := checkDocumented(kinds); err != nil {
		t.Fatal(err)
	}
	const readTimeout = time.Second
	ctx := context.Background()
	tgt := target{base: serveAPI(t, s, 4, readTimeout), pid: os.Getpid()}
	res, err := runLoad(ctx, smokeConfig(readTimeout), tgt, kinds, valid)
	if err != nil {
		t.Fatal(err)
	}
	report := formatReport(runInfo{started: time.Now()}, res)
	if f := res.failures(); len(f) > 0 {
		t.Errorf("failures: %q\n%s", f, report)
	}
	rows, _ := res.rows()
	for i, k := range kinds {
		if rows[i].requests == 0 || !strings.Contains(report, "| "+k.name+" | ") {
			t.Errorf("kind %q: %d requests, or no row in the report", k.name, rows[i].requests)
		}
		if rows[i].statuses[k.want] == 0 {
			t.Errorf("kind %q never got its %d", k.name, k.want)
		}
	}
	if res.compared < 10 || !strings.Contains(report, "(mismatches: 0)") || !strings.Contains(report, "result: pass") {
		t.Errorf("compared %d valid answers\n%s", res.compared, report)
	}
	if res.rss.peak() <= 0 || res.rss.samples == 0 {
		t.Errorf("no resident set measured: %+v", res.rss)
	}
	limited := *res
	limited.cfg.maxRSS = 1 << 20
	if f := limited.failures(); len(f) != 1 || !strings.Contains(f[0], "-max-rss") {
		t.Errorf("a 1 MiB -max-rss: failures %q", f)
	}
	for _, o := range res.outcomes {
		if k := kinds[o.kind]; k.slow && (o.ms < 900 || o.ms > 10000) {
			t.Errorf("the slow client took %.0f ms; the read timeout is %v", o.ms, readTimeout)
		}
	}

	// One float64 step off after the films alone, and at most two screenings at once (the slow client holds one).
	sk := &skewed{Screener: s, after: int64(len(valid))}
	tgt = target{base: serveAPI(t, sk, 2, readTimeout), pid: os.Getpid()}
	res, err = runLoad(ctx, smokeConfig(readTimeout), tgt, kinds, valid)
	if err != nil {
		t.Fatal(err)
	}
	report = formatReport(runInfo{started: time.Now()}, res)
	t.Logf("the skewed server's report:\n%s", report)
	mismatches := 0
	for _, o := range res.outcomes {
		if o.errKind == errDiffers {
			mismatches++
		}
	}
	_, busy := res.rows()
	if mismatches == 0 || mismatches != res.compared || !strings.Contains(report, errDiffers) || !strings.Contains(report, "result: FAIL") {
		t.Errorf("a server answering one step off: %d mismatches of %d compared\n%s", mismatches, res.compared, report)
	}
	if busy.requests == 0 || len(res.failures()) != 1 {
		t.Errorf("-max-inflight 2 with 4 clients: %d busy answers, failures %q (busy answers are no failure)", busy.requests, res.failures())
	}
}

// TestTimeout: the run stops at its -timeout, reports what it has, and fails saying so; the
// request cut short (a slow client, whose server would wait 5 s) is no error of the server.
func TestTimeout(t *testing.T) {
	s, err := screen.New(testmodel.Tiny(t), convnet.Engine)
	if err != nil {
		t.Fatal(err)
	}
	kinds, valid, err := buildKinds(testmodel.Root, "", 0, 1)
	if err != nil {
		t.Fatal(err)
	}
	cfg := smokeConfig(5 * time.Second)
	cfg.timeout = time.Second
	start := time.Now()
	res, err := runLoad(context.Background(), cfg, target{base: serveAPI(t, s, 4, 5*time.Second), pid: os.Getpid()}, kinds, valid)
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("a 1 s -timeout took %v", took)
	}
	f := res.failures()
	if !res.incomplete || len(f) != 1 || !strings.Contains(f[0], "stopped at -timeout 1s") {
		t.Errorf("incomplete %v, failures %q", res.incomplete, f)
	}
}

// TestJudge: each way an answer can break the API's promise is an error of its own class.
func TestJudge(t *testing.T) {
	hostile := kind{name: "h", want: 422}
	valid := kind{name: "v", want: 200, valid: true}
	slow := kind{name: "s", want: 400, slow: true}
	errBody := []byte(`{"error":"damaged"}`)
	ok := []byte(`{"prob":0.25,"positive":false}`)
	retry := func(v string) http.Header { h := http.Header{}; h.Set("Retry-After", v); return h }
	for _, c := range []struct {
		name   string
		k      kind
		method string
		status int
		hdr    http.Header
		body   []byte
		err    error
		took   time.Duration
		busy   bool
		class  string
	}{
		{"expected", hostile, "POST", 422, nil, errBody, nil, 0, false, ""},
		{"wrong status", hostile, "POST", 500, nil, errBody, nil, 0, false, errStatus},
		{"no error body", hostile, "POST", 422, nil, []byte("oops"), nil, 0, false, errMalformed},
		{"transport", hostile, "POST", 0, nil, nil, io.ErrUnexpectedEOF, 0, false, errTransport},
		{"busy", hostile, "POST", 503, retry("1"), errBody, nil, 0, true, ""},
		{"busy without Retry-After", hostile, "POST", 503, nil, errBody, nil, 0, false, errRetry},
		{"503 to GET", kind{want: 405}, "GET", 503, retry("1"), errBody, nil, 0, false, errStatus},
		{"405 without Allow", kind{want: 405}, "GET", 405, http.Header{}, errBody, nil, 0, false, errMalformed},
		{"valid, same", valid, "POST", 200, nil, ok, nil, 0, false, ""},
		{"valid, one digit off", valid, "POST", 200, nil, []byte(`{"prob":0.25000000000000006,"positive":false}`), nil, 0, false, errDiffers},
		{"slow, cut", slow, "POST", 400, nil, errBody, nil, 1000 * time.Millisecond, false, ""},
		{"slow, answered early", slow, "POST", 400, nil, errBody, nil, 100 * time.Millisecond, false, errNotCut},
		{"slow, never answered", slow, "POST", 0, nil, nil, errSlowNoAnswer, 0, false, errNotCut},
	} {
		busy, class, detail := judge(c.k, c.method, c.status, c.hdr, c.body, c.err, ok, c.took, time.Second)
		if busy != c.busy || class != c.class {
			t.Errorf("%s: busy %v class %q (%s); want %v %q", c.name, busy, class, detail, c.busy, c.class)
		}
	}
}

// TestSchedule: the mix has the asked numbers of each sort, the slow clients first.
func TestSchedule(t *testing.T) {
	kinds, valid, err := buildKinds(testmodel.Root, "", 0, 1)
	if err != nil {
		t.Fatal(err)
	}
	cfg := loadConfig{n: 1000, validShare: 0.15, slow: 2, seed: 3}
	s := schedule(cfg, kinds, valid)
	count := map[int]int{}
	nValid := 0
	for i, p := range s {
		count[p.kind]++
		if p.file >= 0 {
			nValid++
		}
		if kinds[p.kind].slow != (i < 2) {
			t.Errorf("request %d is kind %q: the 2 slow clients come first", i, kinds[p.kind].name)
		}
	}
	hostile := len(kinds) - 3 - 1 // valid rows, slow
	if len(s) != 1000 || nValid != 150 {
		t.Fatalf("%d requests, %d valid", len(s), nValid)
	}
	for i, k := range kinds {
		if !k.valid && !k.slow && (count[i] < 848/hostile || count[i] > 848/hostile+1) {
			t.Errorf("%s: %d requests, want %d shared evenly", k.name, count[i], 848/hostile)
		}
	}
}
