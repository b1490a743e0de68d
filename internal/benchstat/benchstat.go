// Package benchstat holds what the benchmark commands (bench/web, bench/server) print
// besides their own measurements: the machine they ran on, and the median and nearest-rank
// percentiles of their timings.
package benchstat

import (
	"bufio"
	"math"
	"os"
	"runtime"
	"slices"
	"strings"
)

// Machine is the machine a benchmark ran on, as printed above its table.
type Machine struct {
	CPU   string // /proc/cpuinfo "model name" of the first processor, or "unknown"
	Cores int    // runtime.NumCPU: the cores this process may use
	Load  string // /proc/loadavg's 1, 5 and 15 minute averages, or "unknown"
}

// ReadMachine reads the machine's facts now; call it before the benchmark adds its own load.
func ReadMachine() Machine {
	m := Machine{CPU: "unknown", Cores: runtime.NumCPU(), Load: "unknown"}
	if fh, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(fh)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
		fh.Close()
	}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		if fs := strings.Fields(string(b)); len(fs) >= 3 {
			m.Load = strings.Join(fs[:3], " ")
		}
	}
	return m
}

// Median is the middle of xs (the mean of the two middle values when len(xs) is even);
// NaN for no values, so an empty row shows as such instead of as a fast 0 ms.
func Median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Sorted(slices.Values(xs))
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// NearestRank is the nearest-rank q-quantile (0 < q <= 1): the smallest value that at least
// a share q of xs do not exceed. Nearest rank never invents a time no request took: p90 of
// 20 values is the 18th fastest, p99 of 1000 the 990th. NaN for no values.
func NearestRank(xs []float64, q float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Sorted(slices.Values(xs))
	rank := int(math.Ceil(q * float64(len(s)))) // 1-based
	return s[min(max(rank, 1), len(s))-1]
}
