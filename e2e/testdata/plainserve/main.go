// Command plainserve serves one folder on a loopback port with nothing but net/http's
// FileServer: no security headers, no cache headers, no gzip, no API. It prints its base
// URL on stdout, then serves until killed.
//
// It is a program of its own, not a handler inside the e2e test binary, because the test
// binary links server/files, whose init adds the .wasm, .webmanifest and .js MIME types
// to the process's table; a plain file server elsewhere has only Go's built-in table and
// the host's mime.types, and that is what the page must cope with.
package main

import (
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
)

func main() {
	dir := flag.String("dir", "", "folder to serve")
	flag.Parse()
	if *dir == "" {
		fmt.Fprintln(os.Stderr, "usage: plainserve -dir FOLDER")
		os.Exit(2)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("http://" + ln.Addr().String())
	log.Fatal(http.Serve(ln, http.FileServer(http.Dir(*dir))))
}
