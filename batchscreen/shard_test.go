package main

import (
	"fmt"
	"strings"
	"testing"
)

func TestParseShard(t *testing.T) {
	if s, err := parseShard("3/10"); err != nil || s != (shard{3, 10}) {
		t.Errorf("3/10: %v %v", s, err)
	}
	for _, bad := range []string{"3", "a/10", "10/10", "-1/10", "0/0", "1/x"} {
		if _, err := parseShard(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestResolveShard(t *testing.T) {
	env := func(kv ...string) func(string) string {
		m := map[string]string{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return func(k string) string { return m[k] }
	}
	for _, c := range []struct {
		flag   string
		shards int
		getenv func(string) string
		want   shard
		err    string
	}{
		{"", 0, env(), shard{}, ""},
		{"1/4", 0, env(envIndex, "3", envShards, "9"), shard{1, 4}, ""}, // the flag wins
		{"", 5, env(envIndex, "2"), shard{2, 5}, ""},
		{"", 0, env(envIndex, "2", envShards, "7"), shard{2, 7}, ""},
		{"", 3, env(envIndex, "2", envShards, "7"), shard{2, 3}, ""}, // --shards over the variable
		{"", 0, env(envIndex, "2"), shard{}, "number of shards is not"},
		{"", 3, env(), shard{}, "needs " + envIndex},
		{"", 3, env(envIndex, "3"), shard{}, "outside 0..2"},
		{"", 0, env(envIndex, "x", envShards, "3"), shard{}, "not a whole number"},
	} {
		got, err := resolveShard(c.flag, c.shards, c.getenv)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%+v: error %v, want one saying %q", c, err, c.err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("%+v: got %v, %v", c, got, err)
		}
	}
}

// Every path falls in exactly one shard, and the shards are not wildly uneven.
func TestShardsPartition(t *testing.T) {
	const n, files = 7, 7000
	counts := make([]int, n)
	for f := range files {
		rel := fmt.Sprintf("2024/%02d/patient-%05d/image.dcm", f%12, f)
		in := 0
		for i := range n {
			if (shard{i, n}).Has(rel) {
				in++
				counts[i]++
			}
		}
		if in != 1 {
			t.Fatalf("%s is in %d shards", rel, in)
		}
	}
	for i, c := range counts {
		if c < files/n/2 || c > files/n*2 {
			t.Errorf("shard %d has %d of %d files", i, c, files)
		}
	}
	if (shard{}).outputName("csv") != "results.csv" || (shard{3, 10}).outputName("jsonl") != "results-00003-of-00010.jsonl" {
		t.Error("output names")
	}
}
