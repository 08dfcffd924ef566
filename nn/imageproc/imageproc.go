// Package imageproc turns an encoded image (JPEG, PNG, BMP) into the model input the shared
// MobileNet fixtures define: decode to 8-bit RGB, resize the whole image (no crop) with bilinear
// half-pixel-centre sampling in float64, round to uint8, then normalise into NCHW float32.
package imageproc

import (
	"bytes"
	"errors"
	"fmt"
	"image"
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

// RGB returns the image's pixels as 8-bit RGB, row-major (HWC), taking the high byte of each
// 16-bit channel from image.Image.At as the fixtures do.
func RGB(img image.Image) (pix []uint8, w, h int) {
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
type sample struct {
	i0, i1 int
	f      float64
}

func samples(in, out int) []sample {
	s := make([]sample, out)
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
		s[o] = sample{i0, i1, c - float64(i0)}
	}
	return s
}

// Resize scales an RGB (HWC) image to ow×oh with bilinear interpolation and half-pixel centres,
// no antialiasing, rounding half away from zero.
func Resize(pix []uint8, w, h, ow, oh int) []uint8 {
	xs, ys := samples(w, ow), samples(h, oh)
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

// Norm says how a uint8 channel value p becomes a model input: x = (p - Mean[c]) / Std[c].
type Norm struct {
	Mean, Std [3]float64
}

// NCHW normalises an RGB (HWC) image into a [1,3,h,w] float32 tensor's data.
func NCHW(pix []uint8, w, h int, n Norm) []float32 {
	out := make([]float32, 3*w*h)
	plane := w * h
	for i := 0; i < plane; i++ {
		for c := 0; c < 3; c++ {
			out[c*plane+i] = float32((float64(pix[i*3+c]) - n.Mean[c]) / n.Std[c])
		}
	}
	return out
}

// Preprocess decodes an image and returns the [1,3,size,size] input data for n.
func Preprocess(data []byte, width, height int, n Norm) ([]float32, error) {
	img, err := Decode(data)
	if err != nil {
		return nil, err
	}
	pix, w, h := RGB(img)
	return NCHW(Resize(pix, w, h, width, height), width, height, n), nil
}
