package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// loadConfig is the load a run puts on the server.
type loadConfig struct {
	n, c       int     // requests in the mix; concurrent clients
	validShare float64 // share of the mix that is valid films
	slow       int     // slow clients among the n requests (each lasts the server's read timeout)
	seed       uint64  // the mix's order and the random-bytes payload
	timeout    time.Duration
	// readTimeout is the server's http.Server.ReadTimeout: when it must cut a slow client.
	readTimeout time.Duration
	maxRSS      int64 // bytes; a larger peak resident set fails the run
	// busyWaitMax caps how long a client honours Retry-After after a 503.
	busyWaitMax time.Duration
	progress    *log.Logger // nil: quiet
}

// target is the server under load.
type target struct {
	base string // http://127.0.0.1:port
	pid  int    // its process, whose resident set is sampled
}

// Error classes, one per way a request can go wrong.
const (
	errStatus    = "unexpected status"
	errDiffers   = "answer differs from the film sent alone"
	errMalformed = "malformed answer"
	errTransport = "no answer (transport error)"
	errRetry     = "503 without a valid Retry-After"
	errNotCut    = "slow client not cut at the read timeout"
)

// outcome is what happened to one request of the mix.
type outcome struct {
	done    bool // sent and finished (false: never sent, or cancelled at -timeout)
	kind    int
	file    int // valid file index; -1 for the hostile kinds
	status  int // 0: no answer
	ms      float64
	end     time.Duration // when it finished, from the start of the mix
	busy    bool          // 503 with Retry-After: the -max-inflight limit, not an error
	errKind string        // one of the err* classes; "" when the answer was the expected one
	detail  string
}

// solo is one valid film's answer when sent alone, with nothing else running.
type solo struct {
	body []byte
	prob string // the JSON number as the server wrote it
	ms   float64
}

// result is a whole run.
type result struct {
	cfg        loadConfig
	kinds      []kind
	valid      []validFile
	solo       []solo
	outcomes   []outcome
	wall       time.Duration // the mix, first request sent to last answer
	incomplete bool          // stopped at cfg.timeout
	rss        rssPeak
	compared   int // valid answers compared with their solo answer
}

// runLoad is the benchmark's core: sample the server's resident set, screen each valid film
// alone, then run the mix from cfg.c clients and judge every answer.
func runLoad(ctx context.Context, cfg loadConfig, t target, kinds []kind, valid []validFile) (*result, error) {
	if cfg.n < 1 || cfg.c < 1 || cfg.validShare < 0 || cfg.validShare > 1 || cfg.slow < 0 {
		return nil, fmt.Errorf("want -n >= 1, -c >= 1, 0 <= -valid-share <= 1 and -slow >= 0; got %d, %d, %g, %d", cfg.n, cfg.c, cfg.validShare, cfg.slow)
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.timeout)
	defer cancel()
	sampler, err := startRSS(t.pid, 100*time.Millisecond)
	if err != nil {
		return nil, err
	}
	res := &result{cfg: cfg, kinds: kinds, valid: valid}
	client := &http.Client{Transport: &http.Transport{
		MaxIdleConnsPerHost: cfg.c, DisableCompression: true, Proxy: nil,
		DialContext: (&net.Dialer{Timeout: 10 * time.Second}).DialContext,
	}}
	defer client.CloseIdleConnections()

	// Alone: one film at a time, nothing else running; these answers are the reference.
	for i, f := range valid {
		start := time.Now()
		status, _, body, err := post(ctx, client, t.base, http.MethodPost, f.ctype, f.body)
		ms := msSince(start)
		if err != nil {
			sampler.stop()
			return nil, fmt.Errorf("%s sent alone: %v", f.label, err)
		}
		prob, perr := probOf(body)
		if status != http.StatusOK || perr != nil {
			sampler.stop()
			return nil, fmt.Errorf("%s sent alone: status %d (%s), want 200 with a probability", f.label, status, errorText(body))
		}
		res.solo = append(res.solo, solo{body: body, prob: prob, ms: ms})
		if cfg.progress != nil {
			cfg.progress.Printf("alone %d/%d %s: %.0f ms", i+1, len(valid), f.label, ms)
		}
	}

	sched := schedule(cfg, kinds, valid)
	res.outcomes = make([]outcome, len(sched))
	jobs := make(chan int)
	var wg sync.WaitGroup
	var finished atomic.Int64
	start := time.Now()
	for range cfg.c {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				o := one(ctx, cfg, client, t.base, kinds, valid, res.solo, sched[i])
				o.end = time.Since(start)
				res.outcomes[i] = o
				if n := finished.Add(1); cfg.progress != nil && n%100 == 0 {
					cfg.progress.Printf("%d/%d requests, %.0f s", n, len(sched), time.Since(start).Seconds())
				}
				if o.busy {
					// A polite client waits as told before its next request.
					select {
					case <-time.After(min(retryAfter(o.detail), cfg.busyWaitMax)):
					case <-ctx.Done():
					}
				}
			}
		}()
	}
feed:
	for i := range sched {
		select {
		case jobs <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	res.wall = time.Since(start)
	res.rss = sampler.stop()
	for _, o := range res.outcomes {
		if !o.done {
			res.incomplete = true
		}
		if o.done && o.file >= 0 && o.status == http.StatusOK {
			res.compared++
		}
	}
	return res, nil
}

// planned is one request of the schedule.
type planned struct{ kind, file int }

// schedule lays out the mix: round(validShare*n) valid requests cycling through the films,
// cfg.slow slow clients first (each lasts the read timeout, so they overlap the rest
// instead of trailing it), and the rest shared out evenly among the hostile kinds, in an
// order shuffled by the seed.
func schedule(cfg loadConfig, kinds []kind, valid []validFile) []planned {
	var slowK int = -1
	var hostile []int
	for i, k := range kinds {
		switch {
		case k.slow:
			slowK = i
		case !k.valid:
			hostile = append(hostile, i)
		}
	}
	nValid := int(cfg.validShare*float64(cfg.n) + 0.5)
	if len(valid) == 0 {
		nValid = 0
	}
	nSlow := min(cfg.slow, cfg.n-nValid)
	if slowK < 0 {
		nSlow = 0
	}
	var rest []planned
	for i := range nValid {
		rest = append(rest, planned{valid[i%len(valid)].kind, i % len(valid)})
	}
	for i := range cfg.n - nValid - nSlow {
		if len(hostile) > 0 {
			rest = append(rest, planned{hostile[i%len(hostile)], -1})
		}
	}
	r := rand.New(rand.NewPCG(cfg.seed, 1))
	r.Shuffle(len(rest), func(i, j int) { rest[i], rest[j] = rest[j], rest[i] })
	var out []planned
	for range nSlow {
		out = append(out, planned{slowK, -1})
	}
	return append(out, rest...)
}

// one sends one request of the mix and judges its answer.
func one(ctx context.Context, cfg loadConfig, client *http.Client, base string, kinds []kind, valid []validFile, alone []solo, p planned) outcome {
	k := kinds[p.kind]
	o := outcome{kind: p.kind, file: p.file}
	method, ctype, body := k.method, k.ctype, k.body
	if method == "" {
		method = http.MethodPost
	}
	if p.file >= 0 {
		ctype, body = valid[p.file].ctype, valid[p.file].body
	}
	start := time.Now()
	var (
		status int
		hdr    http.Header
		answer []byte
		err    error
	)
	if k.slow {
		status, hdr, answer, err = slowPost(ctx, base, ctype, body, cfg.readTimeout)
	} else {
		status, hdr, answer, err = post(ctx, client, base, method, ctype, body)
	}
	o.ms = msSince(start)
	if err != nil && ctx.Err() != nil {
		return o // cancelled at -timeout: not done, not an error of the server
	}
	o.done, o.status = true, status
	var want []byte
	if p.file >= 0 {
		want = alone[p.file].body
	}
	o.busy, o.errKind, o.detail = judge(k, method, status, hdr, answer, err, want, time.Duration(o.ms*float64(time.Millisecond)), cfg.readTimeout)
	return o
}

// judge compares one answer with what the API promises for its kind; it returns whether it
// was a busy answer, and the error class and detail when it was not the expected answer.
// want is the film's answer when sent alone (valid kinds only).
func judge(k kind, method string, status int, hdr http.Header, body []byte, err error, want []byte, took, readTimeout time.Duration) (busy bool, errKind, detail string) {
	if err != nil {
		if k.slow && errors.Is(err, errSlowNoAnswer) {
			return false, errNotCut, err.Error()
		}
		return false, errTransport, err.Error()
	}
	if status == http.StatusServiceUnavailable && method == http.MethodPost {
		ra := hdr.Get("Retry-After")
		if s, err := strconv.Atoi(ra); err != nil || s < 1 {
			return false, errRetry, fmt.Sprintf("Retry-After %q", ra)
		}
		return true, "", ra
	}
	if status != k.want {
		return false, errStatus, fmt.Sprintf("%d, want %d: %s", status, k.want, errorText(body))
	}
	if k.valid {
		if !bytes.Equal(body, want) {
			got, _ := probOf(body)
			alone, _ := probOf(want)
			return false, errDiffers, fmt.Sprintf("prob %s in the mix, %s alone", got, alone)
		}
		return false, "", ""
	}
	if msg := errorText(body); msg == "" {
		return false, errMalformed, fmt.Sprintf("status %d without a JSON {\"error\": ...} body", status)
	}
	if status == http.StatusMethodNotAllowed && !strings.Contains(hdr.Get("Allow"), http.MethodPost) {
		return false, errMalformed, fmt.Sprintf("405 with Allow %q, want POST", hdr.Get("Allow"))
	}
	if k.slow && took < readTimeout*9/10 {
		return false, errNotCut, fmt.Sprintf("answered after %v, before the %v read timeout: not cut by it", took.Round(time.Millisecond), readTimeout)
	}
	return false, "", ""
}

// post sends one request and reads the whole answer (at most 1 MiB).
func post(ctx context.Context, client *http.Client, base, method, ctype string, body []byte) (int, http.Header, []byte, error) {
	var rd io.Reader
	if method != http.MethodGet {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, base+"/api/v1/screen", rd)
	if err != nil {
		return 0, nil, nil, err
	}
	if ctype != "" && rd != nil {
		req.Header.Set("Content-Type", ctype)
	}
	res, err := client.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	return res.StatusCode, res.Header, b, err
}

// slowGrace is how long after the server's read timeout a slow client waits for the answer.
const slowGrace = 30 * time.Second

var errSlowNoAnswer = errors.New("no answer")

// slowPost announces the whole body, sends its first half, then sends nothing more and waits
// for the server to answer; it gives up slowGrace after readTimeout.
func slowPost(ctx context.Context, base, ctype string, body []byte, readTimeout time.Duration) (int, http.Header, []byte, error) {
	u, err := url.Parse(base)
	if err != nil {
		return 0, nil, nil, err
	}
	conn, err := (&net.Dialer{Timeout: 10 * time.Second}).DialContext(ctx, "tcp", u.Host)
	if err != nil {
		return 0, nil, nil, err
	}
	defer conn.Close()
	giveUp := time.Now().Add(readTimeout + slowGrace)
	conn.SetDeadline(giveUp)
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if _, err := fmt.Fprintf(conn, "POST /api/v1/screen HTTP/1.1\r\nHost: %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n", u.Host, ctype, len(body)); err != nil {
		return 0, nil, nil, err
	}
	if _, err := conn.Write(body[:len(body)/2]); err != nil {
		return 0, nil, nil, err
	}
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() && ctx.Err() == nil {
			return 0, nil, nil, fmt.Errorf("%w %v after the stall (read timeout %v)", errSlowNoAnswer, readTimeout+slowGrace, readTimeout)
		}
		return 0, nil, nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	return res.StatusCode, res.Header, b, err
}

// probOf returns the "prob" of a screening answer as the JSON number the server wrote.
func probOf(body []byte) (string, error) {
	var v struct {
		Prob *json.Number `json:"prob"`
	}
	d := json.NewDecoder(bytes.NewReader(body))
	d.UseNumber()
	if err := d.Decode(&v); err != nil {
		return "", err
	}
	if v.Prob == nil {
		return "", errors.New(`no "prob" in the answer`)
	}
	return v.Prob.String(), nil
}

// errorText is the "error" of an API error answer, at most 160 characters; "" when the body
// is not one.
func errorText(body []byte) string {
	var v struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(body, &v) != nil {
		return ""
	}
	if len(v.Error) > 160 {
		return v.Error[:160] + "..."
	}
	return v.Error
}

// retryAfter reads the seconds of a Retry-After header value (judge checked it).
func retryAfter(v string) time.Duration {
	s, _ := strconv.Atoi(v)
	return time.Duration(s) * time.Second
}

func msSince(t time.Time) float64 { return float64(time.Since(t)) / float64(time.Millisecond) }
