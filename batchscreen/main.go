// Command batchscreen screens an archive: every image of a folder tree, or every file of a
// list, with a pneumoscan model, into a CSV file and a JSON Lines file of one row per file
// (its sha256, P(pneumonia), the verdict at an operating point, the model's sha256, or the
// reason it was refused). It runs one engine per core, is resumable (a restart skips the rows
// already written; each row is appended whole and synced, so a kill loses nothing), and
// shards by a stable hash of the file's path (--shard i/n, or a Kubernetes Indexed Job's
// JOB_COMPLETION_INDEX) so many machines can split one archive.
//
// Usage:
//
//	go run ./batchscreen screen [flags] FOLDER
//	go run ./batchscreen screen [flags] --list files.txt   (or --list - for stdin)
//
// Run "go run ./batchscreen screen -h" for the flags.
package main

import "pneumoscan/internal/cli"

var program = cli.Program{Name: "batchscreen", Invocation: "go run ./batchscreen", Commands: []cli.Command{
	{Name: "screen", Args: "[--model FILE] [--out DIR] [--workers N] [--shard i/n] [--threshold NAME] [--restart] FOLDER | --list FILE|-", Summary: "screen every image of a folder tree (or of a list of files) into CSV and JSON Lines, resumable and shardable", Run: runScreen},
}}

func main() {
	// Ctrl-C or SIGTERM (a Kubernetes pod being stopped) cancels the context: the rows
	// written so far are whole and synced, and a restart goes on from them.
	program.Main(true)
}
