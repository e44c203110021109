package benchcli

import (
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"io"
	"math"
	"sort"
	"time"

	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"

	"github.com/partoo-connector/partoo-connector/connector/internal/bench/freshness"
)

var palette = []color.RGBA{
	{214, 39, 40, 255}, {31, 119, 180, 255}, {44, 160, 44, 255}, {127, 127, 127, 255}, {255, 127, 14, 255}, {148, 103, 189, 255},
	{140, 86, 75, 255}, {227, 119, 194, 255}, {188, 189, 34, 255}, {23, 190, 207, 255},
}

// plot draws the cumulative distribution of detection lag (all event types) per run, lag on a
// log axis from 0.1 s to 2 h.
func plot(w io.Writer, results []freshness.Result) error {
	const W, H, left, right, top, bottom = 1420, 560, 70, 440, 40, 60
	img := image.NewRGBA(image.Rect(0, 0, W, H))
	draw.Draw(img, img.Bounds(), image.White, image.Point{}, draw.Src)
	pw, ph := W-left-right, H-top-bottom
	lo, hi := math.Log10(0.1), math.Log10(7200)
	x := func(sec float64) int {
		if sec < 0.1 {
			sec = 0.1
		}
		return left + int(float64(pw)*(math.Log10(sec)-lo)/(hi-lo))
	}
	y := func(frac float64) int { return top + ph - int(float64(ph)*frac) }
	grey := color.RGBA{220, 220, 220, 255}
	black := color.RGBA{0, 0, 0, 255}
	for _, t := range []struct {
		sec   float64
		label string
	}{{0.1, "0.1s"}, {1, "1s"}, {10, "10s"}, {60, "1m"}, {600, "10m"}, {3600, "1h"}} {
		line(img, x(t.sec), top, x(t.sec), top+ph, grey)
		text(img, x(t.sec)-12, top+ph+16, t.label, black)
	}
	for f := 0.0; f <= 1.0001; f += 0.25 {
		line(img, left, y(f), left+pw, y(f), grey)
		text(img, left-40, y(f)+4, fmt.Sprintf("%3.0f%%", f*100), black)
	}
	line(img, left, top+ph, left+pw, top+ph, black)
	line(img, left, top, left, top+ph, black)
	text(img, left+pw/2-200, H-20, "detection lag, log scale (lags under 0.1 s drawn at 0.1 s); y: share of changes detected within", black)
	text(img, left, 24, "Detection lag under a 300 requests/minute budget, warmed-up organisation, same activity for every strategy", black)

	for i, r := range results {
		c := palette[i%len(palette)]
		var all []time.Duration
		for _, l := range r.Lags {
			all = append(all, l...)
		}
		sort.Slice(all, func(a, b int) bool { return all[a] < all[b] })
		n := float64(r.Detected + r.Coalesced + r.Missed)
		px, py := x(0.1), y(0)
		for k, d := range all {
			nx, ny := x(d.Seconds()), y(float64(k+1)/n)
			line(img, px, py, nx, py, c)
			line(img, nx, py, nx, ny, c)
			px, py = nx, ny
		}
		line(img, px, py, left+pw, py, c)
		ly := top + 20 + 30*i
		for k := 0; k < 3; k++ {
			line(img, left+pw+15, ly-4+k, left+pw+45, ly-4+k, c)
		}
		text(img, left+pw+52, ly, fmt.Sprintf("%s, %s order, %s", r.Strategy, r.Setup.Order, fmtLatency(r.Setup)), black)
		text(img, left+pw+52, ly+14, fmt.Sprintf("p50 %s, p99 %s", fmtLag(r.Percentile(0, .5)), fmtLag(r.Percentile(0, .99))), black)
	}
	return png.Encode(w, img)
}

func line(img *image.RGBA, x0, y0, x1, y1 int, c color.RGBA) {
	dx, dy := abs(x1-x0), -abs(y1-y0)
	sx, sy := sign(x1-x0), sign(y1-y0)
	e := dx + dy
	for {
		img.SetRGBA(x0, y0, c)
		if x0 == x1 && y0 == y1 {
			return
		}
		e2 := 2 * e
		if e2 >= dy {
			e += dy
			x0 += sx
		}
		if e2 <= dx {
			e += dx
			y0 += sy
		}
	}
}

func text(img *image.RGBA, x, y int, s string, c color.RGBA) {
	d := font.Drawer{Dst: img, Src: image.NewUniform(c), Face: basicfont.Face7x13, Dot: fixed.P(x, y)}
	d.DrawString(s)
}

func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}

func sign(v int) int {
	switch {
	case v < 0:
		return -1
	case v > 0:
		return 1
	}
	return 0
}
