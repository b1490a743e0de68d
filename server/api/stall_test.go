package api

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// TestUploadStall: an upload that stops sending is cut after UploadStall, freeing its
// screening slot, while an upload that keeps sending slowly (each piece within the stall
// limit, the whole longer than it) is read to the end.
func TestUploadStall(t *testing.T) {
	const stall = 300 * time.Millisecond
	srv := httptest.NewServer(NewWithOptions(blockingScreener{}, Options{MaxInflight: 1, UploadStall: stall}))
	defer srv.Close()
	post := func(body []byte, declared int, gap time.Duration) (int, time.Duration) {
		t.Helper()
		conn, err := net.Dial("tcp", srv.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		start := time.Now()
		fmt.Fprintf(conn, "POST /api/v1/screen HTTP/1.1\r\nHost: x\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n", declared)
		for i := 0; i < len(body); i += 100 {
			conn.Write(body[i:min(i+100, len(body))])
			time.Sleep(gap)
		}
		conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		res, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatalf("no answer: %v", err)
		}
		res.Body.Close()
		return res.StatusCode, time.Since(start)
	}
	img := make([]byte, 1000)
	// Half the declared body, then silence: cut after about the stall time.
	status, took := post(img[:500], len(img), 0)
	if status != http.StatusBadRequest || took > 5*stall {
		t.Errorf("stalled upload: status %d after %v; want 400 within about %v", status, took, stall)
	}
	// The slot is free again: a steady upload (10 pieces 100 ms apart, 1 s in all, over
	// three times the stall limit) reaches the screener.
	status, took = post(img, len(img), 100*time.Millisecond)
	if status != http.StatusOK {
		t.Errorf("steady slow upload: status %d after %v; want 200 (each piece came within %v)", status, took, stall)
	}
}
