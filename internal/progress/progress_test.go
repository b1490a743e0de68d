package progress

import (
	"strings"
	"testing"
	"time"
)

func TestRateAndETA(t *testing.T) {
	var out strings.Builder
	clk := time.Unix(0, 0)
	b := &Bar{w: &out, label: "extract", total: 100, unit: "img", width: 10, every: time.Second, now: func() time.Time { return clk }}
	b.start = clk
	clk = clk.Add(10 * time.Second)
	b.Add(25)
	got := out.String()
	for _, want := range []string{"extract [==        ] 25/100", "2.5 img/s", "ETA 0:30"} {
		if !strings.Contains(got, want) {
			t.Errorf("%q lacks %q", got, want)
		}
	}
	// Within the redraw interval nothing is written.
	n := out.Len()
	b.Add(1)
	if out.Len() != n {
		t.Error("redrew within the interval")
	}
	clk = clk.Add(30 * time.Second)
	b.Add(74)
	b.Finish()
	b.Finish()
	if s := out.String(); !strings.HasSuffix(s, "100/100 2.5 img/s  ETA done in 0:40 \n") {
		t.Errorf("final line %q", s[strings.LastIndex(s, "\r"):])
	}
}

// Skipped steps (work an earlier run did) move the bar but not the rate.
func TestSkipLeavesRate(t *testing.T) {
	var out strings.Builder
	clk := time.Unix(0, 0)
	b := &Bar{w: &out, label: "screening", total: 100, unit: "img", width: 10, every: time.Second, now: func() time.Time { return clk }}
	b.start = clk
	b.Skip(50)
	clk = clk.Add(10 * time.Second)
	b.Add(10)
	got := out.String()
	for _, want := range []string{"60/100", "1 img/s", "ETA 0:40"} {
		if !strings.Contains(got, want) {
			t.Errorf("%q lacks %q", got, want)
		}
	}
}
