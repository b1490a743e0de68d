// Command server generates pneumoscan's static site and serves it with the JSON API.
//
//	server -gen                  generate static/ from bin/*.wasm and the model, then exit
//	server [-addr :8080]         serve static/ and /api/v1/ with the same model file
package main

import (
	"flag"
	"log"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"pneumoscan/convnet"
	"pneumoscan/screen"
	"pneumoscan/server/api"
	"pneumoscan/server/files"
	"pneumoscan/server/site"
)

func main() {
	addr := flag.String("addr", ":8080", "listen address")
	modelPath := flag.String("model", "models/default.onnx", "ONNX model file (the model contract)")
	static := flag.String("static", "static", "generated site directory")
	gen := flag.Bool("gen", false, "only generate the static site, then exit")
	wasmDir := flag.String("wasm", "bin", "directory holding the built app.wasm, worker.wasm and refworker.wasm (for -gen)")
	flag.Parse()
	log.SetFlags(0)

	if *gen {
		res, err := site.Generate(site.Options{
			Dir: *static, Model: *modelPath,
			AppWasm: filepath.Join(*wasmDir, "app.wasm"), WorkerWasm: filepath.Join(*wasmDir, "worker.wasm"),
			RefWorkerWasm: filepath.Join(*wasmDir, "refworker.wasm"),
		})
		if err != nil {
			log.Fatal(err)
		}
		log.Printf("generated %s: app version %s, model %s (%d bytes)", *static, res.Version, res.Model.SHA256[:12], res.Model.Size)
		return
	}

	if _, err := os.Stat(filepath.Join(*static, "index.html")); err != nil {
		log.Fatalf("%s/index.html is missing: run `make static` (or `server -gen`) first", *static)
	}
	data, err := os.ReadFile(*modelPath)
	if err != nil {
		log.Fatal(err)
	}
	s, err := screen.New(data, convnet.Engine)
	if err != nil {
		log.Fatalf("loading %s: %v", *modelPath, err)
	}
	mux := http.NewServeMux()
	mux.Handle("/api/", api.New(s))
	mux.Handle("/", files.New(*static))
	srv := &http.Server{Addr: *addr, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	m := s.Metadata()
	log.Printf("pneumoscan: serving %s and the API (model %s %s, sha256 %.12s) on %s", *static, m.Name, m.Version, s.SHA256(), *addr)
	log.Fatal(srv.ListenAndServe())
}
