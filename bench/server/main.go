// Command server is `make bench-server`: a bounded load test of the native server (the
// `server` command, with its JSON API) on the loopback interface.
//
// It builds the server (go build ./server) into a temporary folder, starts it on a free
// 127.0.0.1 port with the model (-model) and a minimal site made for that model (an
// index.html and web/model.json: the API needs nothing else), waits for GET /healthz, then:
//
//  1. screens each valid film alone, one at a time: the two X-ray fixtures, the first of
//     them re-encoded as a 16-bit PNG, a 16-bit DICOM fixture and, when the data set is
//     there (-data), -data-images test films; these answers are the reference;
//  2. sends -n requests from -c concurrent clients: a -valid-share of valid films, -slow
//     slow clients (half a body, then a stall the server's read timeout must cut) and, in
//     equal shares, the hostile kinds of files.go (truncated JPEG, random bytes, empty body,
//     a PNG decompression bomb, a body over the size limit, a colour photograph, a CT DICOM,
//     a multipart body without an image, GET instead of POST), in an order shuffled by
//     -seed;
//  3. judges every answer: each kind must get the status the API defines (server/api; each
//     is checked against openapi.json first), error answers their JSON {"error"}, and every
//     valid film an answer byte-identical to its answer alone (the same engine, the same
//     bytes: concurrency must not change a result, so no tolerance); a 503 from the
//     -max-inflight limit is counted apart, not as an error, and must carry Retry-After;
//
// while sampling the server's resident set (/proc/<pid>/status: VmRSS every 100 ms, VmHWM at
// the end). It prints a Markdown table per kind (requests, status codes, errors, p50/p99 ms)
// and the totals, writes the same to -out, and exits non-zero when any answer deviated, the
// peak resident set passed -max-rss, or the run hit -timeout (it then reports what it has).
// The API ignores Content-Type for raw bodies (it sniffs the bytes), so there is no
// wrong-content-type kind; the multipart kind covers the one content type it reads.
package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"pneumoscan/atomicfile"
	"pneumoscan/internal/benchstat"
	"pneumoscan/server/api"
	"pneumoscan/server/httpserve"
	"pneumoscan/server/site"
)

type options struct {
	model, goTool, serverBin string
	data                     string
	dataImages               int
	maxInflight              int
	out                      string
	maxRSSMiB                int
	load                     loadConfig
}

func main() {
	var o options
	flag.StringVar(&o.model, "model", "models/default.onnx", "the model the server screens with")
	flag.StringVar(&o.goTool, "go", "go", "the go command that builds ./server")
	flag.StringVar(&o.serverBin, "server", "", "a server binary already built (default: go build ./server into a temporary folder)")
	flag.StringVar(&o.data, "data", "../shared/data/chest_xray/test", "labelled test films (NORMAL/, PNEUMONIA/) to add to the valid files, when the folder exists")
	flag.IntVar(&o.dataImages, "data-images", 4, "how many films of -data to add (shared out between the classes)")
	flag.IntVar(&o.load.n, "n", 1000, "requests in the mix")
	flag.IntVar(&o.load.c, "c", 8, "concurrent clients")
	flag.Float64Var(&o.load.validShare, "valid-share", 0.15, "share of the mix that is valid films (each takes the engine about a second or two on 2 cores)")
	flag.IntVar(&o.load.slow, "slow", 2, "slow clients among the requests (each lasts the server's read timeout, 2 minutes)")
	flag.Uint64Var(&o.load.seed, "seed", 1, "seed of the mix's order and of the random bytes")
	flag.DurationVar(&o.load.timeout, "timeout", 20*time.Minute, "bound on the whole run (films alone and the mix); the report then shows what was done")
	// 6 of the 8 clients' requests may run at once: the clients are mostly served, and the
	// 503 answers of the limit (with Retry-After) are part of the run. The engine screens one
	// film at a time, so valid films wait for it holding their slot, and a slow client holds
	// its slot until the read timeout. 8 (= -c) would never answer 503.
	flag.IntVar(&o.maxInflight, "max-inflight", 6, "the server's -max-inflight: screenings at once before it answers 503")
	flag.IntVar(&o.maxRSSMiB, "max-rss", 1024, "fail when the server's peak resident set is larger (MiB)")
	flag.StringVar(&o.out, "out", "runs/bench-server.md", "also write the report here")
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("bench-server: ")
	if flag.NArg() > 0 {
		log.Fatalf("unexpected arguments %q", flag.Args())
	}
	// A stalled upload is cut after the API's stall limit, well before the server's read
	// timeout: that is when the slow clients must get their answer.
	o.load.readTimeout = min(api.DefaultUploadStall, httpserve.ReadTimeout)
	o.load.busyWaitMax = 5 * time.Second
	o.load.maxRSS = int64(o.maxRSSMiB) << 20
	o.load.progress = log.Default()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context, o options) error {
	info := runInfo{started: time.Now(), machine: benchstat.ReadMachine()} // before our own load
	if o.maxInflight < 1 || o.maxRSSMiB < 1 {
		return fmt.Errorf("want -max-inflight >= 1 and -max-rss >= 1, got %d and %d", o.maxInflight, o.maxRSSMiB)
	}
	modelPath, err := filepath.Abs(o.model)
	if err != nil {
		return err
	}
	data := ""
	if st, err := os.Stat(o.data); err == nil && st.IsDir() {
		data = o.data
	} else {
		log.Printf("no data set at %s: the valid films are the committed fixtures only", o.data)
	}
	kinds, valid, err := buildKinds(".", data, o.dataImages, o.load.seed)
	if err != nil {
		return err
	}
	if err := checkDocumented(kinds); err != nil {
		return err
	}

	tmp, err := os.MkdirTemp("", "bench-server-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	bin := o.serverBin
	if bin == "" {
		bin = filepath.Join(tmp, "server")
		log.Printf("building the server: %s build -o %s ./server", o.goTool, bin)
		cmd := exec.CommandContext(ctx, o.goTool, "build", "-o", bin, "./server")
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("go build ./server: %v", err)
		}
	}
	sha, err := minimalSite(filepath.Join(tmp, "static"), modelPath)
	if err != nil {
		return err
	}
	addr, err := freeLoopbackAddr()
	if err != nil {
		return err
	}
	logPath := filepath.Join(tmp, "server.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return err
	}
	defer logFile.Close()
	args := []string{"-addr", addr, "-model", modelPath, "-static", filepath.Join(tmp, "static"), "-max-inflight", strconv.Itoa(o.maxInflight)}
	srv := exec.Command(bin, args...)
	srv.Stdout, srv.Stderr = logFile, logFile // one access-log line per request: kept out of the report
	if err := srv.Start(); err != nil {
		return err
	}
	exited := make(chan error, 1)
	go func() { exited <- srv.Wait() }()
	stopServer := func() {
		srv.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(httpserve.ShutdownTimeout + 5*time.Second):
			srv.Process.Kill()
			<-exited
		}
	}
	base := "http://" + addr
	if err := waitHealthy(ctx, base, sha, exited, 2*time.Minute); err != nil {
		srv.Process.Kill()
		return fmt.Errorf("%v; the server's log:\n%s", err, tail(logPath, 2000))
	}
	built := "built from ./server with GOEXPERIMENT=" + os.Getenv("GOEXPERIMENT") // the Makefile's simd, or none
	if o.serverBin != "" {
		built = o.serverBin
	}
	info.server = fmt.Sprintf("`server -max-inflight %d` (%s), on 127.0.0.1, model %s (sha256 %.12s), read timeout %v",
		o.maxInflight, built, o.model, sha, o.load.readTimeout)
	log.Printf("server up on %s (pid %d); %d valid films, %d kinds", base, srv.Process.Pid, len(valid), len(kinds))

	res, err := runLoad(ctx, o.load, target{base: base, pid: srv.Process.Pid}, kinds, valid)
	select {
	case werr := <-exited:
		return fmt.Errorf("the server exited during the run (%v); its log:\n%s", werr, tail(logPath, 4000))
	default:
	}
	stopServer()
	if err != nil {
		return err
	}
	report := formatReport(info, res)
	fmt.Print(report)
	if o.out != "" {
		if err := os.MkdirAll(filepath.Dir(o.out), 0o755); err != nil {
			return err
		}
		if err := atomicfile.Write(o.out, []byte(report)); err != nil {
			return err
		}
		log.Printf("wrote %s", o.out)
	}
	if f := res.failures(); len(f) > 0 {
		return fmt.Errorf("FAIL: %d problem(s), the first: %s", len(f), f[0])
	}
	return nil
}

// checkDocumented refuses to run with an expected status that openapi.json does not list for
// POST /api/v1/screen: the benchmark checks what the API promises, nothing else.
func checkDocumented(kinds []kind) error {
	var doc struct {
		Paths map[string]map[string]struct {
			Responses map[string]json.RawMessage `json:"responses"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(api.OpenAPI, &doc); err != nil {
		return fmt.Errorf("openapi.json: %v", err)
	}
	responses := doc.Paths["/api/v1/screen"]["post"].Responses
	for _, k := range append(kinds, kind{name: "busy", want: http.StatusServiceUnavailable}) {
		if _, ok := responses[strconv.Itoa(k.want)]; !ok {
			return fmt.Errorf("%s: status %d is not in openapi.json's responses of POST /api/v1/screen", k.name, k.want)
		}
	}
	return nil
}

// minimalSite writes the two files the server needs besides the API: index.html (read for
// its Content-Security-Policy) and web/model.json naming this model's sha256 (the server
// refuses a site made for another model). It returns that sha256.
func minimalSite(dir, modelPath string) (string, error) {
	b, err := os.ReadFile(modelPath)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	sha := hex.EncodeToString(sum[:])
	manifest, err := json.Marshal(site.ModelManifest{URL: "/web/model.onnx", SHA256: sha, Size: int64(len(b))})
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Join(dir, "web"), 0o755); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(dir, "index.html"), []byte("<!DOCTYPE html><title>bench-server</title>\n"), 0o644); err != nil {
		return "", err
	}
	return sha, os.WriteFile(filepath.Join(dir, "web", "model.json"), manifest, 0o644)
}

// freeLoopbackAddr is a 127.0.0.1 port free a moment ago (the server binds it next).
func freeLoopbackAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// waitHealthy polls GET /healthz until it answers ok for the model, the process exits, or
// limit passes (the server loads the model first: seconds).
func waitHealthy(ctx context.Context, base, sha string, exited <-chan error, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		res, err := http.Get(base + "/healthz")
		if err == nil {
			var h api.Health
			derr := json.NewDecoder(res.Body).Decode(&h)
			res.Body.Close()
			if derr == nil && h.Status == "ok" && h.ModelSHA256 == sha {
				return nil
			}
			if derr == nil && h.ModelSHA256 != sha {
				return fmt.Errorf("/healthz names model %.12s, want %.12s", h.ModelSHA256, sha)
			}
		}
		select {
		case werr := <-exited:
			return fmt.Errorf("the server exited before it was healthy (%v)", werr)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return errors.New("the server was not healthy after " + limit.String())
		}
	}
}

// tail is the last n bytes of a file, for an error message.
func tail(path string, n int64) string {
	f, err := os.Open(path)
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Size() > n {
		f.Seek(-n, io.SeekEnd)
	}
	b, _ := io.ReadAll(f)
	return string(b)
}
