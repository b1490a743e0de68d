package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// rssPeak is the server's resident set over a run, from /proc/<pid>/status.
type rssPeak struct {
	hwm     int64 // VmHWM at the end: the kernel's own peak of the resident set, bytes
	sampled int64 // the largest VmRSS sampled, bytes
	samples int
	err     error // reading the status failed at the end (the process is gone?)
}

// peak is the larger of the two: VmHWM is the kernel's exact peak, the samples a check.
func (p rssPeak) peak() int64 { return max(p.hwm, p.sampled) }

type rssSampler struct {
	pid   int
	stopc chan struct{}
	wg    sync.WaitGroup
	mu    sync.Mutex
	p     rssPeak
}

// startRSS samples VmRSS of pid every interval until stop; it fails at once when the
// process's status cannot be read (not Linux, or no such process).
func startRSS(pid int, interval time.Duration) (*rssSampler, error) {
	if _, err := procStatus(pid); err != nil {
		return nil, fmt.Errorf("the server's resident set: %v", err)
	}
	s := &rssSampler{pid: pid, stopc: make(chan struct{})}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			s.sample()
			select {
			case <-s.stopc:
				return
			case <-t.C:
			}
		}
	}()
	return s, nil
}

func (s *rssSampler) sample() {
	st, err := procStatus(s.pid)
	if err != nil {
		return
	}
	s.mu.Lock()
	s.p.sampled = max(s.p.sampled, st["VmRSS"])
	s.p.samples++
	s.mu.Unlock()
}

// stop ends the sampling and reads VmHWM; call it before the process exits.
func (s *rssSampler) stop() rssPeak {
	close(s.stopc)
	s.wg.Wait()
	s.sample()
	st, err := procStatus(s.pid)
	s.p.hwm, s.p.err = st["VmHWM"], err
	return s.p
}

// procStatus reads the kB fields of /proc/<pid>/status, in bytes.
func procStatus(pid int) (map[string]int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return nil, err
	}
	out := map[string]int64{}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		f := strings.Fields(v)
		if len(f) == 2 && f[1] == "kB" {
			if n, err := strconv.ParseInt(f[0], 10, 64); err == nil {
				out[k] = n << 10
			}
		}
	}
	if _, ok := out["VmRSS"]; !ok {
		return nil, fmt.Errorf("/proc/%d/status has no VmRSS", pid)
	}
	return out, nil
}
