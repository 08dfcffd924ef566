package imageproc

// The preprocessing as it was before it was made fast (commit 66fc2ea), kept as the reference the
// fast path must reproduce bit for bit: every pixel through image.Image.At, a float64 bilinear
// resize over the whole RGB copy, then normalisation.

import (
	"image"
	"math"
)

// refRGB returns the image's pixels as 8-bit RGB, row-major (HWC), taking the high byte of each
// 16-bit channel from image.Image.At as the fixtures do.
func refRGB(img image.Image) (pix []uint8, w, h int) {
	b := img.Bounds()
	w, h = b.Dx(), b.Dy()
	pix = make([]uint8, w*h*3)
	i := 0
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			pix[i], pix[i+1], pix[i+2] = uint8(r>>8), uint8(g>>8), uint8(bl>>8)
			i += 3
		}
	}
	return pix, w, h
}

// sample is one output coordinate's two source indices and weight.
type refSample struct {
	i0, i1 int
	f      float64
}

func refSamples(in, out int) []refSample {
	s := make([]refSample, out)
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
		i1 := i0 + 1
		if i1 > in-1 {
			i1 = in - 1
		}
		s[o] = refSample{i0, i1, c - float64(i0)}
	}
	return s
}

// refResize scales an RGB (HWC) image to ow×oh with bilinear interpolation and half-pixel centres,
// no antialiasing, rounding half away from zero.
func refResize(pix []uint8, w, h, ow, oh int) []uint8 {
	xs, ys := refSamples(w, ow), refSamples(h, oh)
	out := make([]uint8, ow*oh*3)
	for y, sy := range ys {
		r0, r1 := pix[sy.i0*w*3:], pix[sy.i1*w*3:]
		fy := sy.f
		for x, sx := range xs {
			fx := sx.f
			for c := 0; c < 3; c++ {
				p00 := float64(r0[sx.i0*3+c])
				p01 := float64(r0[sx.i1*3+c])
				p10 := float64(r1[sx.i0*3+c])
				p11 := float64(r1[sx.i1*3+c])
				// Every product is wrapped in float64() so no multiply-add gets fused.
				top := float64((1-fx)*p00) + float64(fx*p01)
				bot := float64((1-fx)*p10) + float64(fx*p11)
				v := float64((1-fy)*top) + float64(fy*bot)
				q := math.Round(v)
				if q < 0 {
					q = 0
				}
				if q > 255 {
					q = 255
				}
				out[(y*ow+x)*3+c] = uint8(q)
			}
		}
	}
	return out
}

// refNCHW normalises an RGB (HWC) image into a [1,3,h,w] float32 tensor's data.
func refNCHW(pix []uint8, w, h int, n Norm) []float32 {
	out := make([]float32, 3*w*h)
	plane := w * h
	for i := 0; i < plane; i++ {
		for c := 0; c < 3; c++ {
			out[c*plane+i] = float32((float64(pix[i*3+c]) - n.Mean[c]) / n.Std[c])
		}
	}
	return out
}

// refPreprocess is Preprocess as it was.
func refPreprocess(img image.Image, width, height int, n Norm) []float32 {
	pix, w, h := refRGB(img)
	return refNCHW(refResize(pix, w, h, width, height), width, height, n)
}
