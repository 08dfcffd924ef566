package loadgen

import (
	"bytes"
	"context"
	"encoding/csv"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func handRows() *Result {
	row := func(action string, c int, wait, init, dur int64, status string, cold bool) Row {
		return Row{Action: action, Invoked: action, Kind: "k-" + action, Concurrency: c, Repeat: 1,
			ActivationID: strings.Repeat("a", 32), Cold: cold, WaitTime: wait, InitTime: init, Duration: dur,
			Run: dur - init, ClientLatency: float64(wait + dur + 1), Status: status, HTTPStatus: 200}
	}
	rows := []Row{
		row("a", 1, 10, 5, 20, StatusSuccess, true),
		row("a", 1, 30, 5, 40, StatusSuccess, true),
		row("a", 1, 99, 0, 1, StatusSuccess, false),                          // warm in a cold run: excluded
		withError(row("a", 1, 5, 5, 10, "application error", true), "sorry"), // error: excluded
		{Action: "a", Concurrency: 1, Status: StatusThrottled, HTTPStatus: 429},
		{Action: "a", Concurrency: 1, Status: StatusOverloaded, HTTPStatus: 503},
		{Action: "a", Concurrency: 1, Status: StatusFailed, Error: "dial"},
		row("b", 1, 1, 1, 2, StatusSuccess, true),
		row("b", 1, 3, 1, 4, StatusSuccess, true),
		row("b", 2, 3, 1, 4, StatusSuccess, true),
	}
	warm := row("a", 1, 1000, 1000, 1000, StatusSuccess, true)
	warm.Warmup = true
	rows = append(rows, warm)
	return &Result{Meta: Meta{Plan: Plan{Actions: []string{"a", "b"}, Concurrency: []int{1, 2}, Cold: true},
		Dropped: []Dropped{{Action: "b", Concurrency: 2, Repeat: 1, Count: 3}}}, Rows: rows}
}

func withError(r Row, e string) Row { r.Error = e; return r }

func TestSummarizeRowsByHand(t *testing.T) {
	sum := SummarizeRows(handRows())
	if len(sum.Levels) != 3 {
		t.Fatalf("%d levels: %+v", len(sum.Levels), sum.Levels)
	}
	a := sum.Levels[0]
	// Measured a@1: totals 30 and 70 → mean 50; init 5, 5; max wait 30; durations 20, 40.
	if a.Action != "a" || a.Concurrency != 1 || a.Count != 2 || a.Cold != 2 || a.NonCold != 1 || a.Errors != 1 ||
		a.Throttled != 1 || a.Overloaded != 1 || a.Failed != 1 || a.Kind != "k-a" {
		t.Fatalf("counts %+v", a)
	}
	if a.AvgTotal != 50 || a.AvgInit != 5 || a.MaxWait != 30 || a.AvgDuration != 30 || a.Total.P50 != 50 {
		t.Fatalf("figures %+v", a)
	}
	// s = √800, t(0.975,1) = 12.7062: half-width = 12.7062·√800/√2 = 12.7062·20.
	if !near(a.Total.CI95, 12.706204736432095*20, 1e-5) {
		t.Fatalf("ci95 %v", a.Total.CI95)
	}
	if b2 := sum.Levels[2]; b2.Action != "b" || b2.Concurrency != 2 || b2.Dropped != 3 || b2.Count != 1 || !math.IsNaN(b2.Total.CI95) {
		t.Fatalf("b@2 %+v", b2)
	}
	if len(sum.Comparisons) != 1 {
		t.Fatalf("comparisons %+v", sum.Comparisons)
	}
	c := sum.Comparisons[0]
	// a totals {30, 70}, b totals {3, 7}: ratio 50/5; U = 4 (every a above every b), exact p = 2·1/6.
	if c.A != "a" || c.B != "b" || c.Concurrency != 1 || c.Ratio != 10 || c.MannWhitney.U != 4 || !near(c.MannWhitney.P, 1.0/3, 1e-12) {
		t.Fatalf("comparison %+v", c)
	}
}

func TestWriteTableAndMarkdown(t *testing.T) {
	res := handRows()
	sum := SummarizeRows(res)
	var tb bytes.Buffer
	if err := WriteTable(&tb, sum); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"a (k-a)", "b (k-b)", "avg_total", "50.0", "±254.1", "comparison of total latency", "0.3333", "exact"} {
		if !strings.Contains(tb.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, tb.String())
		}
	}
	var md bytes.Buffer
	if err := WriteMarkdown(&md, res, sum, []string{"x.png", "x.svg"}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"| concurrency | count | avg_init | max_wait | avg_duration | avg_total |",
		"| 1 | 2 | 5.0 | 30.0 | 30.0 | 50.0 |", "were not cold", "3 send(s) dropped", "![x](x.png)", "## Comparison", "4 not successful, e.g. application error: sorry"} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("markdown lacks %q:\n%s", want, md.String())
		}
	}
}

func TestWriteReportRoundTrip(t *testing.T) {
	p := newWhiskPeer(t)
	p.addAction("native", "blackbox", "sleep:6")
	p.addAction("wasm", "wasm:0.1", "ok")
	plan := Plan{Actions: []string{"native", "wasm"}, Concurrency: []int{1, 2, 3}, Count: 6, Cold: true}
	res, err := Run(context.Background(), p.target(), plan, nil)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	sum, files, err := WriteReport(dir, res)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"raw.csv", "raw.json", "summary.md", PlotTotal + ".png", PlotTotal + ".svg",
		PlotBreakdown + ".png", PlotBreakdown + ".svg", PlotBoxes + ".png", PlotBoxes + ".svg"} {
		st, err := os.Stat(filepath.Join(dir, f))
		if err != nil || st.Size() == 0 {
			t.Errorf("%s missing or empty (%v); wrote %v", f, err, files)
		}
	}
	for _, l := range sum.Levels {
		if l.Count != 6 || l.Cold != 6 || l.NonCold != 0 {
			t.Errorf("level %+v", l)
		}
	}
	f, err := os.Open(filepath.Join(dir, "raw.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil || len(recs) != 1+len(res.Rows) || !reflect.DeepEqual(recs[0], csvHeader) {
		t.Fatalf("csv: %v, %d records", err, len(recs))
	}
	jf, err := os.Open(filepath.Join(dir, "raw.json"))
	if err != nil {
		t.Fatal(err)
	}
	defer jf.Close()
	back, err := ReadRawJSON(jf)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back.Rows, res.Rows) || !reflect.DeepEqual(back.Meta.Plan.Actions, plan.Actions) {
		t.Fatal("raw.json does not round-trip")
	}
	if again := SummarizeRows(back); len(again.Levels) != len(sum.Levels) || again.Levels[0].AvgTotal != sum.Levels[0].AvgTotal {
		t.Fatal("summary differs after re-reading raw.json")
	}
	pf, err := os.Open(filepath.Join(dir, PlotTotal+".png"))
	if err != nil {
		t.Fatal(err)
	}
	defer pf.Close()
	img, err := png.Decode(pf)
	if err != nil || img.Bounds().Dx() < 300 {
		t.Fatalf("png: %v %v", err, img)
	}
}

func TestReadRawJSONRejectsGarbage(t *testing.T) {
	for _, in := range []string{"", "{", `{"meta":{},"rows":[]}`, `{"meta":{"plan":{"actions":["a"]}},"rows":[{"action":""}]}`, `[]`} {
		if _, err := ReadRawJSON(strings.NewReader(in)); err == nil {
			t.Errorf("accepted %q", in)
		}
	}
}

func FuzzReadRawJSON(f *testing.F) {
	f.Add(`{"meta":{"plan":{"actions":["a"],"concurrency":[1]}},"rows":[{"action":"a","concurrency":1,"status":"success","activationId":"x"}]}`)
	f.Fuzz(func(t *testing.T, in string) {
		res, err := ReadRawJSON(strings.NewReader(in))
		if err != nil {
			return
		}
		sum := SummarizeRows(res)
		var b bytes.Buffer
		if err := WriteTable(&b, sum); err != nil {
			t.Fatal(err)
		}
		if err := WriteMarkdown(&b, res, sum, nil); err != nil {
			t.Fatal(err)
		}
	})
}
