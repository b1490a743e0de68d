// Package progress draws a one-line text progress bar with rate and ETA, for
// long loops on a terminal (the trainer and batchscreen write it to stderr).
package progress

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// Bar is a progress bar over Total steps. It is safe for concurrent use.
type Bar struct {
	w     io.Writer
	label string
	total int
	unit  string
	width int
	every time.Duration
	now   func() time.Time

	mu      sync.Mutex
	done    int
	skipped int // of done, steps that cost nothing (Skip): left out of the rate
	start   time.Time
	drawn   time.Time
	ended   bool
}

// New starts a bar of total steps called unit ("img", "epoch") on w.
func New(w io.Writer, label string, total int, unit string) *Bar {
	b := &Bar{w: w, label: label, total: total, unit: unit, width: 24, every: 200 * time.Millisecond, now: time.Now}
	b.start = b.now()
	b.draw(true)
	return b
}

// Add records n more steps done.
func (b *Bar) Add(n int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.done += n
	b.draw(b.done >= b.total)
}

// Skip records n more steps done at no cost (work found done by an earlier run, a file
// that is not an image): they count toward done/total but not toward the rate, so the
// rate and the ETA are those of the real work.
func (b *Bar) Skip(n int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.done += n
	b.skipped += n
	b.draw(b.done >= b.total)
}

// Finish draws the final state and ends the line.
func (b *Bar) Finish() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.ended {
		return
	}
	b.draw(true)
	fmt.Fprintln(b.w)
	b.ended = true
}

// draw redraws the line when forced or when the last draw is old enough, so
// a fast loop does not flood the terminal. Callers hold mu.
func (b *Bar) draw(force bool) {
	if b.ended {
		return
	}
	now := b.now()
	if !force && now.Sub(b.drawn) < b.every {
		return
	}
	b.drawn = now
	fmt.Fprint(b.w, "\r"+b.line(now))
}

func (b *Bar) line(now time.Time) string {
	frac := 0.0
	if b.total > 0 {
		frac = min(float64(b.done)/float64(b.total), 1)
	}
	full := int(frac * float64(b.width))
	bar := strings.Repeat("=", full) + strings.Repeat(" ", b.width-full)
	elapsed := now.Sub(b.start).Seconds()
	rate, eta := "-", "-"
	if worked := b.done - b.skipped; elapsed > 0 && worked > 0 {
		r := float64(worked) / elapsed
		rate = fmt.Sprintf("%.3g %s/s", r, b.unit)
		if b.done < b.total {
			eta = clock(time.Duration(float64(b.total-b.done) / r * float64(time.Second)))
		}
	}
	if b.total > 0 && b.done >= b.total {
		eta = "done in " + clock(now.Sub(b.start))
	}
	return fmt.Sprintf("%s [%s] %d/%d %s  ETA %s ", b.label, bar, b.done, b.total, rate, eta)
}

func clock(d time.Duration) string {
	s := int(d.Round(time.Second).Seconds())
	if s >= 3600 {
		return fmt.Sprintf("%d:%02d:%02d", s/3600, s/60%60, s%60)
	}
	return fmt.Sprintf("%d:%02d", s/60, s%60)
}
