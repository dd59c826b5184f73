package main

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// The chart is hand-written SVG (no plotting dependency): one row of two
// panels per section of the report, logins per second and login latency,
// per store for Runs and per registered-credential count for Scale.

const (
	chartWidth  = 960.0
	panelHeight = 300.0
	chartFont   = "font-family=\"-apple-system,Segoe UI,Helvetica,Arial,sans-serif\""
)

type chartSeries struct {
	name   string
	color  string
	values []float64
}

// renderChart returns the SVG document for rep.
func renderChart(rep *Report) []byte {
	type row struct {
		title      string
		categories []string
		rate       chartSeries
		latency    []chartSeries
	}
	var rows []row
	section := func(title string, runs []RunResult, label func(RunResult) string) {
		if len(runs) == 0 {
			return
		}
		r := row{title: title}
		r.rate = chartSeries{name: "logins/s", color: "#4e79a7"}
		p50 := chartSeries{name: "p50", color: "#59a14f"}
		p99 := chartSeries{name: "p99", color: "#e15759"}
		for _, run := range runs {
			r.categories = append(r.categories, label(run))
			r.rate.values = append(r.rate.values, run.LoginsPerSec)
			p50.values = append(p50.values, run.Login.P50)
			p99.values = append(p99.values, run.Login.P99)
		}
		r.latency = []chartSeries{p50, p99}
		rows = append(rows, r)
	}
	pace := func(r RunResult) string {
		if r.OfferedRate > 0 {
			return fmt.Sprintf("paced at %g logins/s", r.OfferedRate)
		}
		return "closed loop"
	}
	if len(rep.Runs) > 0 {
		first := rep.Runs[0]
		section(fmt.Sprintf("Sign-in over HTTP per store: %d concurrent users, %s login, %s", first.Users, first.LoginMode, pace(first)),
			rep.Runs, func(r RunResult) string { return r.Store })
	}
	if len(rep.Scale) > 0 {
		first := rep.Scale[0]
		section(fmt.Sprintf("Sign-in on %s by registered credentials: %d concurrent users, %s login, %s", first.Store, first.Users, first.LoginMode, pace(first)),
			rep.Scale, func(r RunResult) string { return humanCount(r.RegisteredCredentials) })
	}

	height := 20 + float64(len(rows))*(panelHeight+50) + 40
	var b bytes.Buffer
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%g" height="%g" viewBox="0 0 %g %g" %s font-size="12">`+"\n",
		chartWidth, height, chartWidth, height, chartFont)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="#ffffff"/>`+"\n")
	y := 20.0
	for _, r := range rows {
		text(&b, 20, y+14, "start", "bold", 15, r.title)
		y += 30
		panelW := (chartWidth - 60) / 2
		barPanel(&b, 20, y, panelW, panelHeight, "Logins per second (higher is better)", r.categories, []chartSeries{r.rate}, 0, false)
		// A log scale when the values span more than a decade, so that one
		// slow store does not flatten the others.
		lo, hi := math.Inf(1), 0.0
		for _, s := range r.latency {
			for _, v := range s.values {
				if v > 0 {
					lo, hi = math.Min(lo, v), math.Max(hi, v)
				}
			}
		}
		logScale := hi > 20*lo
		title := "Login latency, begin + finish (ms, lower is better)"
		if logScale {
			title = "Login latency, begin + finish (ms, log scale, lower is better)"
		}
		barPanel(&b, 40+panelW, y, panelW, panelHeight, title, r.categories, r.latency, 2, logScale)
		y += panelHeight + 20
	}
	m := rep.Machine
	where := "load generator in the server's process"
	for _, r := range append(slices.Clone(rep.Runs), rep.Scale...) {
		if !r.InProcess {
			where = "load generator in another process"
		}
	}
	foot := fmt.Sprintf("%d × %s, GOMAXPROCS %d, %s; webauthnkit-load, %s, loopback HTTP; %s",
		m.NumCPU, m.CPUModel, m.GOMAXPROCS, m.GoVersion, where, rep.Date.Format("2006-01-02"))
	text(&b, 20, height-14, "start", "normal", 11, foot)
	b.WriteString("</svg>\n")
	return b.Bytes()
}

// barPanel draws a grouped vertical bar chart with its axis, grid, value
// labels and legend.
func barPanel(b *bytes.Buffer, x, y, w, h float64, title string, cats []string, series []chartSeries, decimals int, logScale bool) {
	text(b, x, y+12, "start", "bold", 13, title)
	top := y + 44.0
	if len(series) > 1 {
		lx := x + w
		for i := len(series) - 1; i >= 0; i-- {
			s := series[i]
			lx -= 14 + 7*float64(len(s.name)) + 14
			fmt.Fprintf(b, `<rect x="%.1f" y="%.1f" width="12" height="12" fill="%s"/>`+"\n", lx, y+20, s.color)
			text(b, lx+16, y+30, "start", "normal", 12, s.name)
		}
	}
	left := x + 55
	bottom := y + h - 40
	plotW := x + w - left
	plotH := bottom - top
	var maxV float64
	for _, s := range series {
		for _, v := range s.values {
			maxV = math.Max(maxV, v)
		}
	}
	axisMax, step := niceScale(maxV)
	// scale maps a value to its height above the axis.
	scale := func(v float64) float64 { return v / axisMax * plotH }
	if logScale {
		minV := math.Inf(1)
		for _, s := range series {
			for _, v := range s.values {
				if v > 0 {
					minV = math.Min(minV, v)
				}
			}
		}
		lo := math.Pow(10, math.Floor(math.Log10(minV)))
		hi := math.Pow(10, math.Ceil(math.Log10(maxV*1.3)))
		scale = func(v float64) float64 {
			if v <= lo {
				return 0
			}
			return math.Log10(v/lo) / math.Log10(hi/lo) * plotH
		}
		for v := lo; v <= hi*1.001; v *= 10 {
			for _, m := range []float64{1, 2, 5} {
				if t := v * m; t <= hi*1.001 {
					yy := bottom - scale(t)
					stroke := "#f0f0f0"
					if m == 1 {
						stroke = "#d0d0d0"
					}
					fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s"/>`+"\n", left, yy, left+plotW, yy, stroke)
					text(b, left-6, yy+4, "end", "normal", 11, strconv.FormatFloat(t, 'f', -1, 64))
				}
			}
		}
	} else {
		for v := 0.0; v <= axisMax+step/2; v += step {
			yy := bottom - scale(v)
			fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#e0e0e0"/>`+"\n", left, yy, left+plotW, yy)
			text(b, left-6, yy+4, "end", "normal", 11, formatTick(v, step))
		}
	}
	fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#333333"/>`+"\n", left, bottom, left+plotW, bottom)
	if len(cats) == 0 {
		return
	}
	groupW := plotW / float64(len(cats))
	barW := math.Min(60, groupW*0.8/float64(len(series)))
	for i, cat := range cats {
		gx := left + groupW*float64(i) + (groupW-barW*float64(len(series)))/2
		for j, s := range series {
			if i >= len(s.values) {
				continue
			}
			v := s.values[i]
			bh := scale(v)
			bx := gx + barW*float64(j)
			fmt.Fprintf(b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s %s: %s</title></rect>`+"\n",
				bx, bottom-bh, barW-2, bh, s.color, escape(cat), escape(s.name), strconv.FormatFloat(v, 'f', -1, 64))
			text(b, bx+(barW-2)/2, bottom-bh-4, "middle", "normal", 10, strconv.FormatFloat(v, 'f', decimals, 64))
		}
		text(b, left+groupW*(float64(i)+0.5), bottom+16, "middle", "normal", 12, cat)
	}
}

// niceScale returns an axis maximum of 1, 2 or 5 × 10^k steps above v, and
// the step.
func niceScale(v float64) (axisMax, step float64) {
	if v <= 0 || math.IsNaN(v) || math.IsInf(v, 0) {
		return 1, 0.2
	}
	raw := v / 5
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if step = m * mag; step >= raw {
			break
		}
	}
	axisMax = math.Ceil(v/step) * step
	if axisMax < v*1.08 { // room for the value labels
		axisMax += step
	}
	return axisMax, step
}

func formatTick(v, step float64) string {
	decimals := 0
	if step < 1 {
		decimals = int(math.Ceil(-math.Log10(step)))
	}
	return strconv.FormatFloat(v, 'f', decimals, 64)
}

func text(b *bytes.Buffer, x, y float64, anchor, weight string, size int, s string) {
	fmt.Fprintf(b, `<text x="%.1f" y="%.1f" text-anchor="%s" font-weight="%s" font-size="%d" fill="#222222">%s</text>`+"\n",
		x, y, anchor, weight, size, escape(s))
}

func escape(s string) string {
	var sb strings.Builder
	_ = xml.EscapeText(&sb, []byte(s))
	return sb.String()
}

// humanCount writes 1000 as 1k and 1000000 as 1M.
func humanCount(n int64) string {
	switch {
	case n >= 1_000_000 && n%100_000 == 0:
		return strconv.FormatFloat(float64(n)/1e6, 'f', -1, 64) + "M"
	case n >= 1000 && n%100 == 0:
		return strconv.FormatFloat(float64(n)/1e3, 'f', -1, 64) + "k"
	}
	return strconv.FormatInt(n, 10)
}
