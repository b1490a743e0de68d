package main

import (
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"
)

// shard is the part of the files one process screens: those whose path hashes to Index
// modulo Count. The zero value (Count 0) means no sharding.
type shard struct {
	Index, Count int
}

// Environment variables of a Kubernetes Indexed Job. The Job controller sets
// JOB_COMPLETION_INDEX (0 .. completions-1) in every pod; it gives no variable with the
// number of completions, so the Job manifest passes it as BATCHSCREEN_SHARDS.
const (
	envIndex  = "JOB_COMPLETION_INDEX"
	envShards = "BATCHSCREEN_SHARDS"
)

// parseShard reads "i/n", 0 <= i < n.
func parseShard(s string) (shard, error) {
	is, ns, ok := strings.Cut(s, "/")
	if !ok {
		return shard{}, fmt.Errorf("--shard %q: want i/n, e.g. 3/10 (i from 0 to n-1)", s)
	}
	i, err1 := strconv.Atoi(is)
	n, err2 := strconv.Atoi(ns)
	if err1 != nil || err2 != nil {
		return shard{}, fmt.Errorf("--shard %q: want i/n with whole numbers, e.g. 3/10", s)
	}
	return newShard(i, n, "--shard "+s)
}

func newShard(i, n int, from string) (shard, error) {
	if n < 1 {
		return shard{}, fmt.Errorf("%s: the number of shards must be at least 1", from)
	}
	if i < 0 || i >= n {
		return shard{}, fmt.Errorf("%s: shard index %d is outside 0..%d", from, i, n-1)
	}
	return shard{Index: i, Count: n}, nil
}

// resolveShard picks the shard from the flags and, when --shard is absent, from an Indexed
// Job's environment: JOB_COMPLETION_INDEX with --shards n, or with BATCHSCREEN_SHARDS.
func resolveShard(flagShard string, flagShards int, getenv func(string) string) (shard, error) {
	if flagShard != "" {
		return parseShard(flagShard)
	}
	idx := getenv(envIndex)
	if idx == "" {
		if flagShards != 0 {
			return shard{}, fmt.Errorf("--shards %d needs %s (set by a Kubernetes Indexed Job), or use --shard i/n", flagShards, envIndex)
		}
		return shard{}, nil
	}
	i, err := strconv.Atoi(idx)
	if err != nil {
		return shard{}, fmt.Errorf("%s=%q is not a whole number", envIndex, idx)
	}
	n, from := flagShards, "--shards"
	if n == 0 {
		s := getenv(envShards)
		if s == "" {
			return shard{}, fmt.Errorf("%s is set but the number of shards is not: pass --shards N or set %s to the Job's completions", envIndex, envShards)
		}
		if n, err = strconv.Atoi(s); err != nil {
			return shard{}, fmt.Errorf("%s=%q is not a whole number", envShards, s)
		}
		from = envShards
	}
	return newShard(i, n, fmt.Sprintf("%s=%d with %s %d", envIndex, i, from, n))
}

// Has reports whether the file at rel (the path in the file column) belongs to this shard.
// The hash is 64-bit FNV-1a of the path's bytes, a fixed algorithm, so every process, on
// every machine and Go version, puts a file in the same shard: the shards are disjoint and
// together cover every file.
func (s shard) Has(rel string) bool {
	if s.Count <= 1 {
		return true
	}
	h := fnv.New64a()
	h.Write([]byte(rel))
	return h.Sum64()%uint64(s.Count) == uint64(s.Index)
}

// outputName is the results file name for the extension ext ("csv", "jsonl"):
// results.csv, or results-00003-of-00010.csv for shard 3 of 10.
func (s shard) outputName(ext string) string {
	if s.Count == 0 {
		return "results." + ext
	}
	return fmt.Sprintf("results-%05d-of-%05d.%s", s.Index, s.Count, ext)
}

func (s shard) String() string {
	if s.Count == 0 {
		return "all files"
	}
	return fmt.Sprintf("shard %d of %d", s.Index, s.Count)
}
