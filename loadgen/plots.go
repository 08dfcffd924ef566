package loadgen

import (
	"fmt"
	"image/color"
	"math"
	"path/filepath"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Plot files written by WritePlots, each as .png and .svg.
const (
	PlotTotal     = "total_vs_concurrency"
	PlotBreakdown = "breakdown"
	PlotBoxes     = "distribution"
)

// WritePlots draws the run into dir: mean total latency against concurrency
// per action with 95 % CI error bars; the mean breakdown of total latency into
// wait, init and run per action and level (stacked bars); and the
// distribution of total latency per action and level (box plots). It returns
// the file names written.
func WritePlots(dir string, res *Result, sum Summary) ([]string, error) {
	var written []string
	type maker struct {
		name string
		make func(Summary, *Result) (*plot.Plot, vg.Length, error)
	}
	for _, m := range []maker{{PlotTotal, totalPlot}, {PlotBreakdown, breakdownPlot}, {PlotBoxes, boxPlot}} {
		p, width, err := m.make(sum, res)
		if err != nil {
			return written, fmt.Errorf("plot %s: %w", m.name, err)
		}
		if p == nil {
			continue
		}
		for _, ext := range []string{".png", ".svg"} {
			file := m.name + ext
			if err := p.Save(width, 10*vg.Centimeter, filepath.Join(dir, file)); err != nil {
				return written, fmt.Errorf("plot %s: %w", file, err)
			}
			written = append(written, file)
		}
	}
	return written, nil
}

func levelsOf(sum Summary, action string) []LevelSummary {
	var out []LevelSummary
	for _, l := range sum.Levels {
		if l.Action == action && l.Count > 0 {
			out = append(out, l)
		}
	}
	return out
}

func newPlot(title, x, y string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = x
	p.Y.Label.Text = y
	p.Legend.Top = true
	p.Legend.Left = true
	p.Add(plotter.NewGrid())
	return p
}

type xyErr struct {
	plotter.XYs
	plotter.YErrors
}

// totalPlot: mean total latency vs concurrency, one line per action, CI error bars.
func totalPlot(sum Summary, _ *Result) (*plot.Plot, vg.Length, error) {
	mode := "warm"
	if sum.Cold {
		mode = "cold"
	}
	p := newPlot(fmt.Sprintf("Mean total latency (wait + duration), %s, 95%% CI", mode), "concurrency", "ms")
	drawn := false
	for i, action := range sum.Actions {
		levels := levelsOf(sum, action)
		if len(levels) == 0 {
			continue
		}
		var d xyErr
		for _, l := range levels {
			ci := l.Total.CI95
			if math.IsNaN(ci) {
				ci = 0
			}
			d.XYs = append(d.XYs, plotter.XY{X: float64(l.Concurrency), Y: l.AvgTotal})
			d.YErrors = append(d.YErrors, struct{ Low, High float64 }{ci, ci})
		}
		line, points, err := plotter.NewLinePoints(d.XYs)
		if err != nil {
			return nil, 0, err
		}
		line.Color = plotutil.Color(i)
		points.Color = plotutil.Color(i)
		points.Shape = plotutil.Shape(i)
		bars, err := plotter.NewYErrorBars(d)
		if err != nil {
			return nil, 0, err
		}
		bars.Color = plotutil.Color(i)
		p.Add(line, points, bars)
		p.Legend.Add(fmt.Sprintf("%s (%s)", action, orDash(levels[0].Kind)), line, points)
		drawn = true
	}
	if !drawn {
		return nil, 0, nil
	}
	p.Y.Min = 0
	p.Y.Max = headroom(p.Y.Max)
	p.X.Min, p.X.Max = p.X.Min-0.2, p.X.Max+0.2
	p.X.Tick.Marker = integerTicks{}
	return p, 16 * vg.Centimeter, nil
}

// integerTicks marks whole numbers only (concurrency levels).
type integerTicks struct{}

func (integerTicks) Ticks(min, max float64) []plot.Tick {
	var ticks []plot.Tick
	step := math.Max(1, math.Ceil((max-min)/10))
	for v := math.Ceil(min); v <= max; v += step {
		ticks = append(ticks, plot.Tick{Value: v, Label: strconv.FormatFloat(v, 'f', 0, 64)})
	}
	return ticks
}

var partColors = []color.Color{
	color.RGBA{R: 0x9e, G: 0xc5, B: 0xe8, A: 0xff}, // wait
	color.RGBA{R: 0xf4, G: 0xa2, B: 0x61, A: 0xff}, // init
	color.RGBA{R: 0x6a, G: 0xa8, B: 0x4f, A: 0xff}, // run
}

// breakdownPlot: stacked mean waitTime / initTime / run per action and level.
func breakdownPlot(sum Summary, _ *Result) (*plot.Plot, vg.Length, error) {
	type group struct {
		label          string
		wait, init, rn float64
	}
	var groups []group
	for _, action := range sum.Actions {
		for _, l := range levelsOf(sum, action) {
			groups = append(groups, group{fmt.Sprintf("%s c=%d", action, l.Concurrency), l.Wait.Mean, l.Init.Mean, l.Run.Mean})
		}
	}
	if len(groups) == 0 {
		return nil, 0, nil
	}
	title := "Mean latency breakdown: wait + init + run"
	if sum.Cold {
		title = "Cold-start breakdown: wait + init + run (means)"
	}
	p := newPlot(title, "", "ms")
	width := barWidth(len(groups))
	var wait, init, run plotter.Values
	names := make([]string, len(groups))
	for i, g := range groups {
		wait, init, run = append(wait, g.wait), append(init, g.init), append(run, g.rn)
		names[i] = g.label
	}
	var below *plotter.BarChart
	for i, part := range []struct {
		name   string
		values plotter.Values
	}{{"waitTime", wait}, {"initTime", init}, {"run (duration − initTime)", run}} {
		bars, err := plotter.NewBarChart(part.values, width)
		if err != nil {
			return nil, 0, err
		}
		bars.Color = partColors[i]
		bars.LineStyle.Width = vg.Length(0)
		if below != nil {
			bars.StackOn(below)
		}
		below = bars
		p.Add(bars)
		p.Legend.Add(part.name, bars)
	}
	p.Legend.Left = false
	nominalRotated(p, names)
	p.Y.Min = 0
	p.Y.Max = headroom(p.Y.Max)
	return p, plotWidth(len(groups)), nil
}

// boxPlot: distribution of total latency per action and level.
func boxPlot(sum Summary, res *Result) (*plot.Plot, vg.Length, error) {
	type key struct {
		action string
		level  int
	}
	values := map[key]plotter.Values{}
	for _, r := range res.Rows {
		if r.Warmup || !r.HasRecord() || r.Status != StatusSuccess || (sum.Cold && !r.Cold) {
			continue
		}
		k := key{r.Action, r.Concurrency}
		values[k] = append(values[k], float64(r.Total()))
	}
	var names []string
	var keys []key
	for _, action := range sum.Actions {
		for _, l := range levelsOf(sum, action) {
			keys = append(keys, key{action, l.Concurrency})
			names = append(names, fmt.Sprintf("%s c=%d", action, l.Concurrency))
		}
	}
	if len(keys) == 0 {
		return nil, 0, nil
	}
	p := newPlot("Distribution of total latency (wait + duration)", "", "ms")
	colorOf := map[string]int{}
	for i, a := range sum.Actions {
		colorOf[a] = i
	}
	width := barWidth(len(keys))
	for i, k := range keys {
		box, err := plotter.NewBoxPlot(width, float64(i), values[k])
		if err != nil {
			return nil, 0, err
		}
		box.FillColor = plotutil.Color(colorOf[k.action])
		box.GlyphStyle.Shape = draw.CircleGlyph{}
		p.Add(box)
	}
	nominalRotated(p, names)
	p.Y.Min = 0
	p.Y.Max *= 1.1
	return p, plotWidth(len(keys)), nil
}

// nominalRotated labels categories on the X axis, slanted so long action names do not collide.
func nominalRotated(p *plot.Plot, names []string) {
	p.NominalX(names...)
	p.X.Tick.Label.Rotation = math.Pi / 4
	p.X.Tick.Label.XAlign = draw.XRight
	p.X.Tick.Label.YAlign = draw.YCenter
}

// headroom leaves space above the data for the legend.
func headroom(top float64) float64 { return top * 1.3 }

func barWidth(groups int) vg.Length {
	w := 14 * vg.Centimeter / vg.Length(max(groups, 1)) * 0.6
	return min(w, vg.Centimeter*1.2)
}

func plotWidth(groups int) vg.Length {
	return max(16*vg.Centimeter, vg.Length(groups)*1.6*vg.Centimeter)
}
