// Package imageproc turns an encoded image (JPEG, PNG, BMP) into the model input the shared
// MobileNet fixtures define: decode to 8-bit RGB (each pixel as image.Image.At(x, y).RGBA() >> 8
// gives it), resize the whole image (no crop) with bilinear half-pixel-centre sampling in
// float64, round to uint8, then normalise into NCHW float32.
//
// It computes exactly that, bit for bit, but fast (the same Go code natively and in wasm, where
// preprocessing would otherwise cost more than a host-run inference): pixels are read straight
// from the decoder's concrete image type (*image.YCbCr, *image.RGBA, *image.NRGBA, *image.Gray,
// *image.Paletted; any other type through At), only the source rows and columns the resize samples
// are converted, the resize and the normalisation are one pass with weights computed once per
// row and column, and normalising is a table lookup (a uint8 has 256 values).
package imageproc

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	_ "image/jpeg" // register the decoders
	_ "image/png"
	"math"

	_ "golang.org/x/image/bmp"
)

// MaxPixels bounds the images Decode accepts (width × height), so that a small file claiming a
// huge size cannot exhaust memory: 25 megapixels is a 5000×5000 photo.
const MaxPixels = 25_000_000

// ErrTooLarge is returned for images above MaxPixels.
var ErrTooLarge = errors.New("image too large")

// Decode decodes a JPEG, PNG or BMP image after checking its header's dimensions.
func Decode(data []byte) (image.Image, error) {
	cfg, format, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("not a supported image (JPEG, PNG, BMP): %w", err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return nil, fmt.Errorf("%s image has no pixels (%dx%d)", format, cfg.Width, cfg.Height)
	}
	if int64(cfg.Width)*int64(cfg.Height) > MaxPixels {
		return nil, fmt.Errorf("%w: %s image is %dx%d, the limit is %d pixels", ErrTooLarge, format, cfg.Width, cfg.Height, MaxPixels)
	}
	img, _, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("decode %s: %w", format, err)
	}
	b := img.Bounds()
	if b.Dx() <= 0 || b.Dy() <= 0 {
		return nil, fmt.Errorf("%s image has no pixels", format)
	}
	return img, nil
}

// Norm says how a uint8 channel value p becomes a model input: x = (p - Mean[c]) / Std[c].
type Norm struct {
	Mean, Std [3]float64
}

// table returns the model input of every channel value, computed as the formula says.
func (n Norm) table() *[3][256]float32 {
	var t [3][256]float32
	for c := range t {
		for p := range t[c] {
			t[c][p] = float32((float64(p) - n.Mean[c]) / n.Std[c])
		}
	}
	return &t
}

// Preprocess decodes an image and returns the [1,3,height,width] input data for n.
func Preprocess(data []byte, width, height int, n Norm) ([]float32, error) {
	img, err := Decode(data)
	if err != nil {
		return nil, err
	}
	return Input(nil, img, width, height, n)
}

// Input resizes img to width×height and normalises it into NCHW float32 data ([1,3,height,width])
// in dst, which is grown if it is too short, and returns it.
func Input(dst []float32, img image.Image, width, height int, n Norm) ([]float32, error) {
	r, err := newResizer(img, width, height)
	if err != nil {
		return nil, err
	}
	plane := width * height
	if cap(dst) < 3*plane {
		dst = make([]float32, 3*plane)
	}
	dst = dst[:3*plane]
	t := n.table()
	row := make([]uint8, 3*width)
	r0, g0, b0 := dst[:plane], dst[plane:2*plane], dst[2*plane:]
	for y := 0; y < height; y++ {
		r.row(y, row)
		o := y * width
		rr, gg, bb := r0[o:o+width], g0[o:o+width], b0[o:o+width]
		for x := range rr {
			p := row[3*x : 3*x+3 : 3*x+3]
			rr[x], gg[x], bb[x] = t[0][p[0]], t[1][p[1]], t[2][p[2]]
		}
	}
	return dst, nil
}

// Resize returns img resized to width×height as 8-bit RGB, row-major (HWC): the uint8 image that
// Input normalises.
func Resize(img image.Image, width, height int) ([]uint8, error) {
	r, err := newResizer(img, width, height)
	if err != nil {
		return nil, err
	}
	out := make([]uint8, 3*width*height)
	for y := 0; y < height; y++ {
		r.row(y, out[3*width*y:3*width*(y+1)])
	}
	return out, nil
}

// tap is one output coordinate's two source indices and weight, as the fixtures define them:
// c = max(0, (o + 0.5) * in/out - 0.5), i0 = min(floor(c), in-1), i1 = min(i0+1, in-1),
// f = c - i0.
type tap struct {
	i0, i1 int
	f      float64
}

func taps(in, out int) []tap {
	s := make([]tap, out)
	scale := float64(in) / float64(out)
	for o := range s {
		c := float64(float64(float64(o)+0.5)*scale) - 0.5
		if c < 0 {
			c = 0
		}
		i0 := int(math.Floor(c))
		if i0 > in-1 {
			i0 = in - 1
		}
		i1 := min(i0+1, in-1)
		s[o] = tap{i0, i1, c - float64(i0)}
	}
	return s
}

// resizer produces the rows of one bilinear resize. It converts to RGB only the source columns
// the resize reads (cols, at most two per output column), for at most the two source rows the
// current output row reads.
type resizer struct {
	ys   []tap
	cols []int        // the source columns read, ascending, relative to the image's bounds
	x0   []int32      // per output column: the offset of its left source pixel in a converted row
	x1   []int32      // and of its right one
	wx   [][2]float64 // per output column: the weights (1-fx, fx)
	conv func(y int, dst []uint8)
	// identity: the output has the source's size, so every output pixel is its source pixel
	// (the weights are 1 and 0, exactly) and a row is the converted source row.
	identity bool
	// two converted source rows, and which rows they are (-1: none)
	rows  [2][]float64
	which [2]int
	conv8 []uint8
}

func newResizer(img image.Image, width, height int) (*resizer, error) {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	if w <= 0 || h <= 0 {
		return nil, errors.New("image has no pixels")
	}
	if width <= 0 || height <= 0 {
		return nil, fmt.Errorf("bad output size %dx%d", width, height)
	}
	xs := taps(w, width)
	r := &resizer{ys: taps(h, height), x0: make([]int32, width), x1: make([]int32, width), wx: make([][2]float64, width), which: [2]int{-1, -1}}
	// Both indices of xs are non-decreasing and i1 <= i0+1, so a column is either one of the last
	// two added or a new, larger one.
	add := func(c int) int32 {
		for k := len(r.cols) - 1; k >= 0 && k >= len(r.cols)-2; k-- {
			if r.cols[k] == c {
				return int32(3 * k)
			}
		}
		r.cols = append(r.cols, c)
		return int32(3 * (len(r.cols) - 1))
	}
	for x, t := range xs {
		r.x0[x], r.x1[x] = add(t.i0), add(t.i1)
		r.wx[x] = [2]float64{1 - t.f, t.f}
	}
	r.conv = converter(img, r.cols)
	r.identity = w == width && h == height
	for i := range r.rows {
		r.rows[i] = make([]float64, 3*len(r.cols))
	}
	r.conv8 = make([]uint8, 3*len(r.cols))
	return r, nil
}

// source returns source row y converted (as float64, the resize's type), from the two-row cache
// when it is there.
func (r *resizer) source(y int) []float64 {
	for i, w := range r.which {
		if w == y {
			return r.rows[i]
		}
	}
	// Replace the row the next output rows will not read: rows only move down, so the lower one.
	i := 0
	if r.which[1] < r.which[0] {
		i = 1
	}
	r.conv(y, r.conv8)
	row := r.rows[i][:len(r.conv8)]
	for k, v := range r.conv8 {
		row[k] = float64(v)
	}
	r.which[i] = y
	return r.rows[i]
}

// row writes output row y (3×width bytes, RGB) into dst.
func (r *resizer) row(y int, dst []uint8) {
	if r.identity {
		r.conv(y, dst)
		return
	}
	t := r.ys[y]
	// Keep both source rows alive in the cache before reading either.
	top := r.source(t.i0)
	bot := r.source(t.i1)
	fy, gy := t.f, 1-t.f
	n := len(r.x0)
	x0, x1, wx := r.x0[:n], r.x1[:n], r.wx[:n]
	dst = dst[:3*n]
	for x := range x0 {
		a, b := int(x0[x]), int(x1[x])
		gx, fx := wx[x][0], wx[x][1]
		t0, t1 := top[a:a+3:a+3], top[b:b+3:b+3]
		b0, b1 := bot[a:a+3:a+3], bot[b:b+3:b+3]
		d := dst[3*x : 3*x+3 : 3*x+3]
		// Every product is wrapped in float64() so that no multiply-add gets fused: the bits are
		// those of the fixtures' definition.
		d[0] = round8(float64(gy*(float64(gx*t0[0])+float64(fx*t1[0]))) + float64(fy*(float64(gx*b0[0])+float64(fx*b1[0]))))
		d[1] = round8(float64(gy*(float64(gx*t0[1])+float64(fx*t1[1]))) + float64(fy*(float64(gx*b0[1])+float64(fx*b1[1]))))
		d[2] = round8(float64(gy*(float64(gx*t0[2])+float64(fx*t1[2]))) + float64(fy*(float64(gx*b0[2])+float64(fx*b1[2]))))
	}
}

// round8 is uint8(clamp(math.Round(v), 0, 255)) for v >= 0, without the call: v is a convex
// combination of values in 0..255, and for v >= 0 the fraction v - trunc(v) is exact.
func round8(v float64) uint8 {
	q := int32(v)
	if v-float64(q) >= 0.5 {
		q++
	}
	return uint8(min(q, 255))
}

// converter returns a function writing the RGB of the given columns (relative to the bounds) of
// source row y (relative too) into dst, as At(x, y).RGBA() >> 8 gives them, reading the pixel
// buffers of the image types the decoders return.
func converter(img image.Image, cols []int) func(y int, dst []uint8) {
	b := img.Bounds()
	switch m := img.(type) {
	case *image.RGBA:
		return func(y int, dst []uint8) {
			row := m.Pix[m.PixOffset(b.Min.X, b.Min.Y+y):]
			for j, x := range cols {
				p := row[4*x : 4*x+3 : 4*x+3]
				d := dst[3*j : 3*j+3 : 3*j+3]
				d[0], d[1], d[2] = p[0], p[1], p[2]
			}
		}
	case *image.NRGBA:
		return func(y int, dst []uint8) {
			row := m.Pix[m.PixOffset(b.Min.X, b.Min.Y+y):]
			for j, x := range cols {
				p := row[4*x : 4*x+4 : 4*x+4]
				d := dst[3*j : 3*j+3 : 3*j+3]
				if p[3] == 0xff {
					d[0], d[1], d[2] = p[0], p[1], p[2]
					continue
				}
				r, g, bl, _ := color.NRGBA{p[0], p[1], p[2], p[3]}.RGBA()
				d[0], d[1], d[2] = uint8(r>>8), uint8(g>>8), uint8(bl>>8)
			}
		}
	case *image.YCbCr:
		// Per column, the offsets YOffset and COffset would compute, minus the row's part.
		yc, cc := make([]int, len(cols)), make([]int, len(cols))
		mx, my := m.Rect.Min.X, m.Rect.Min.Y
		for j, x := range cols {
			ax := b.Min.X + x
			yc[j] = ax - mx
			switch m.SubsampleRatio {
			case image.YCbCrSubsampleRatio422, image.YCbCrSubsampleRatio420:
				cc[j] = ax/2 - mx/2
			case image.YCbCrSubsampleRatio411, image.YCbCrSubsampleRatio410:
				cc[j] = ax/4 - mx/4
			default: // 444, 440
				cc[j] = ax - mx
			}
		}
		return func(y int, dst []uint8) {
			ay := b.Min.Y + y
			cy := ay - my
			switch m.SubsampleRatio {
			case image.YCbCrSubsampleRatio420, image.YCbCrSubsampleRatio440, image.YCbCrSubsampleRatio410:
				cy = ay/2 - my/2
			}
			yrow := m.Y[(ay-my)*m.YStride:]
			cb, cr := m.Cb[cy*m.CStride:], m.Cr[cy*m.CStride:]
			for j, yo := range yc {
				co := cc[j]
				r, g, bl, _ := color.YCbCr{yrow[yo], cb[co], cr[co]}.RGBA()
				d := dst[3*j : 3*j+3 : 3*j+3]
				d[0], d[1], d[2] = uint8(r>>8), uint8(g>>8), uint8(bl>>8)
			}
		}
	case *image.Gray:
		return func(y int, dst []uint8) {
			row := m.Pix[m.PixOffset(b.Min.X, b.Min.Y+y):]
			for j, x := range cols {
				v := row[x]
				d := dst[3*j : 3*j+3 : 3*j+3]
				d[0], d[1], d[2] = v, v, v
			}
		}
	case *image.Paletted:
		var pal [256][3]uint8
		for i, c := range m.Palette[:min(len(m.Palette), 256)] {
			r, g, bl, _ := c.RGBA()
			pal[i] = [3]uint8{uint8(r >> 8), uint8(g >> 8), uint8(bl >> 8)}
		}
		return func(y int, dst []uint8) {
			row := m.Pix[m.PixOffset(b.Min.X, b.Min.Y+y):]
			for j, x := range cols {
				d := dst[3*j : 3*j+3 : 3*j+3]
				i := row[x]
				if int(i) >= len(m.Palette) {
					// Not in the palette: whatever At does with it.
					r, g, bl, _ := img.At(b.Min.X+x, b.Min.Y+y).RGBA()
					d[0], d[1], d[2] = uint8(r>>8), uint8(g>>8), uint8(bl>>8)
					continue
				}
				p := &pal[i]
				d[0], d[1], d[2] = p[0], p[1], p[2]
			}
		}
	}
	// Any other type (CMYK JPEG, 16-bit PNG, ...): through At, as the definition says.
	return func(y int, dst []uint8) {
		for j, x := range cols {
			r, g, bl, _ := img.At(b.Min.X+x, b.Min.Y+y).RGBA()
			d := dst[3*j : 3*j+3 : 3*j+3]
			d[0], d[1], d[2] = uint8(r>>8), uint8(g>>8), uint8(bl>>8)
		}
	}
}
