package web

import (
	"encoding/csv"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"
)

func testRows() []resultRow {
	m := modelRef{Name: "m", Version: "1", SHA256: "abc"}
	d := func(v string) map[string]decision { return map[string]decision{"p": {Verdict: v, Text: v + " text"}} }
	return []resultRow{
		{ID: 1, File: "b.jpeg", Status: stageDone, Prob: 0.71, Decisions: d("positive"), Model: m},
		{ID: 2, File: "a.jpeg", Status: stageDone, Prob: 0.12, Decisions: d("negative"), Model: m},
		{ID: 3, File: "c,\"odd\".png", Status: stageError, Message: "not an image", Model: m},
		{ID: 4, File: "d.jpeg", Status: stageCancelled, Model: m},
		{ID: 5, File: "e.jpeg", Status: stageDone, Prob: 0.9, Decisions: d("positive"), Outside: "an adult film", Model: m},
	}
}

func TestVerdictsSortFilterSummary(t *testing.T) {
	rows := testRows()
	var keys []string
	for _, r := range rows {
		k, _ := r.verdict("p")
		keys = append(keys, k)
	}
	if want := []string{"positive", "negative", verdictRefused, verdictCancelled, verdictOutside}; !slices.Equal(keys, want) {
		t.Errorf("verdicts %q, want %q", keys, want)
	}
	files := func(rows []resultRow) []string {
		var out []string
		for _, r := range rows {
			out = append(out, r.File)
		}
		return out
	}
	tab := &resultsTable{}
	tab.sortOn("score")
	if got := files(tab.shown(rows, "p")); !slices.Equal(got, []string{"a.jpeg", "b.jpeg", "e.jpeg", "c,\"odd\".png", "d.jpeg"}) {
		t.Errorf("by score: %q (unscored rows last)", got)
	}
	tab.sortOn("score")
	if got := files(tab.shown(rows, "p")); !slices.Equal(got, []string{"e.jpeg", "b.jpeg", "a.jpeg", "c,\"odd\".png", "d.jpeg"}) {
		t.Errorf("by score, descending: %q (unscored rows still last)", got)
	}
	tab.filter = "positive"
	if got := files(tab.shown(rows, "p")); !slices.Equal(got, []string{"b.jpeg"}) {
		t.Errorf("positive only: %q (the outside-population film is not counted positive)", got)
	}
	if got, want := summary(rows, "p"), "5 files: 1 positive, 1 negative, 1 refused, 1 outside population, 1 cancelled"; got != want {
		t.Errorf("summary %q, want %q", got, want)
	}
}

func TestExports(t *testing.T) {
	op := operatingPoint{Name: "p", Value: 0.5}
	recs, err := csv.NewReader(strings.NewReader(resultsCSV(testRows(), op))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 6 || !slices.Equal(recs[0], exportColumns) {
		t.Fatalf("CSV %q", recs)
	}
	if r := recs[3]; r[0] != `c,"odd".png` || r[2] != "refused" || r[4] != "" || r[5] != "" || r[10] != "not an image" {
		t.Errorf("refused row %q", r)
	}
	if r := recs[1]; r[2] != "positive" || r[4] != "about 70%" || r[5] != "0.710000" || r[6] != "p" || r[7] != "0.500" || r[15] != "abc" {
		t.Errorf("positive row %q", r)
	}
	var js []map[string]string
	if err := json.Unmarshal([]byte(resultsJSON(testRows(), op)), &js); err != nil || len(js) != 5 || js[4]["verdict"] != "outside population" {
		t.Errorf("JSON %v, %v", js, err)
	}
}

func TestETA(t *testing.T) {
	for _, c := range []struct {
		elapsed         time.Duration
		done, remaining int
		want            string
	}{
		{10 * time.Second, 0, 5, "time left: estimated after the first file"},
		{10 * time.Second, 5, 5, "about 10 s left"},
		{60 * time.Second, 10, 100, "about 10 min left"},
	} {
		if got := eta(c.elapsed, c.done, c.remaining); got != c.want {
			t.Errorf("eta(%s, %d, %d) = %q, want %q", c.elapsed, c.done, c.remaining, got, c.want)
		}
	}
}
