package imageproc

import (
	"bytes"
	"encoding/binary"
	"image"
	"image/color"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// fixtureDir finds the shared model fixtures ($WASMWHISK_MODEL_DIR, or models/ or ../shared/models
// beside the module root); under CI=true their absence fails the test.
func fixtureDir(t *testing.T) string {
	t.Helper()
	var dirs []string
	if d := os.Getenv("WASMWHISK_MODEL_DIR"); d != "" {
		dirs = append(dirs, d)
	}
	if wd, err := os.Getwd(); err == nil {
		for d := wd; filepath.Dir(d) != d; d = filepath.Dir(d) {
			if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
				dirs = append(dirs, filepath.Join(d, "models"), filepath.Join(d, "..", "shared", "models"))
				break
			}
		}
	}
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "parrot.input.u8")); err == nil {
			return d
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("no model fixtures in %v", dirs)
	}
	t.Skipf("no model fixtures in %v", dirs)
	return ""
}

var fixtureNorm = Norm{Mean: [3]float64{128, 128, 128}, Std: [3]float64{128, 128, 128}}

// torchNorm has means and standard deviations that are not powers of two (the zoo model's).
var torchNorm = Norm{Mean: [3]float64{0.485 * 255, 0.456 * 255, 0.406 * 255}, Std: [3]float64{0.229 * 255, 0.224 * 255, 0.225 * 255}}

// sameAsReference checks Resize and Input against the reference implementation, bit for bit.
func sameAsReference(t *testing.T, img image.Image, w, h int) {
	t.Helper()
	pix, sw, sh := refRGB(img)
	want := refResize(pix, sw, sh, w, h)
	got, err := Resize(img, w, h)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("%T %v -> %dx%d: Resize byte %d = %d, the reference %d", img, img.Bounds(), w, h, i, got[i], want[i])
			}
		}
	}
	for _, n := range []Norm{fixtureNorm, torchNorm} {
		want := refNCHW(want, w, h, n)
		// A reused, too-long buffer must come back the right length and fully written.
		dst := make([]float32, len(want)+7)
		for i := range dst {
			dst[i] = -42
		}
		got, err := Input(dst, img, w, h, n)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(want) {
			t.Fatalf("Input returned %d values, want %d", len(got), len(want))
		}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("%T %v -> %dx%d: Input value %d = %v, the reference %v", img, img.Bounds(), w, h, i, got[i], want[i])
			}
		}
	}
}

// TestFixturesBitForBit: the shared images (and the action's sample) through Preprocess give the
// .input.u8 and .input.f32 fixtures and the reference implementation's output exactly.
func TestFixturesBitForBit(t *testing.T) {
	dir := fixtureDir(t)
	for _, name := range []string{"parrot.jpg", "cat.bmp", "bird.bmp", "grace_hopper.bmp"} {
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join(dir, name))
			if err != nil {
				t.Fatal(err)
			}
			img, err := Decode(data)
			if err != nil {
				t.Fatal(err)
			}
			sameAsReference(t, img, 224, 224)
			base := name[:len(name)-len(filepath.Ext(name))]
			u8, err := Resize(img, 224, 224)
			if err != nil {
				t.Fatal(err)
			}
			if want, err := os.ReadFile(filepath.Join(dir, base+".input.u8")); err != nil || !bytes.Equal(u8, want) {
				t.Fatalf("Resize differs from %s.input.u8 (%v)", base, err)
			}
			x, err := Preprocess(data, 224, 224, fixtureNorm)
			if err != nil {
				t.Fatal(err)
			}
			want, err := os.ReadFile(filepath.Join(dir, base+".input.f32"))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(f32le(x), want) {
				t.Fatalf("Preprocess differs from %s.input.f32", base)
			}
		})
	}
	t.Run("sample.png", func(t *testing.T) {
		data, err := os.ReadFile("../../actions/mobilenet/sample.png")
		if err != nil {
			t.Fatal(err)
		}
		img, err := Decode(data)
		if err != nil {
			t.Fatal(err)
		}
		sameAsReference(t, img, 224, 224)
	})
}

func f32le(x []float32) []byte {
	b := make([]byte, 0, 4*len(x))
	for _, v := range x {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
	}
	return b
}

// TestImageTypesBitForBit covers every pixel layout the fast path reads, sub-images (bounds not at
// the origin), the At fallback, and down-, up- and odd-sized resizes.
func TestImageTypesBitForBit(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	fill := func(b []uint8) {
		for i := range b {
			b[i] = uint8(rng.IntN(256))
		}
	}
	rect := image.Rect(3, 5, 3+61, 5+47)
	var imgs []image.Image
	rgba := image.NewRGBA(rect)
	fill(rgba.Pix)
	imgs = append(imgs, rgba, rgba.SubImage(image.Rect(10, 9, 50, 40)))
	nrgba := image.NewNRGBA(rect)
	fill(nrgba.Pix)
	for i := 3; i < len(nrgba.Pix); i += 8 {
		nrgba.Pix[i] = 0xff // a mix of opaque and translucent pixels
	}
	imgs = append(imgs, nrgba, nrgba.SubImage(image.Rect(4, 6, 20, 51)))
	for _, ratio := range []image.YCbCrSubsampleRatio{image.YCbCrSubsampleRatio444, image.YCbCrSubsampleRatio422,
		image.YCbCrSubsampleRatio420, image.YCbCrSubsampleRatio440, image.YCbCrSubsampleRatio411, image.YCbCrSubsampleRatio410} {
		y := image.NewYCbCr(rect, ratio)
		fill(y.Y)
		fill(y.Cb)
		fill(y.Cr)
		imgs = append(imgs, y, y.SubImage(image.Rect(6, 8, 33, 50)))
	}
	gray := image.NewGray(rect)
	fill(gray.Pix)
	imgs = append(imgs, gray, gray.SubImage(image.Rect(5, 5, 9, 7)))
	pal := image.NewPaletted(rect, color.Palette{color.RGBA{1, 2, 3, 255}, color.NRGBA{200, 100, 50, 128}, color.Gray{77}})
	for i := range pal.Pix {
		pal.Pix[i] = uint8(rng.IntN(3))
	}
	imgs = append(imgs, pal)
	cmyk := image.NewCMYK(rect)
	fill(cmyk.Pix)
	gray16 := image.NewGray16(rect)
	fill(gray16.Pix)
	imgs = append(imgs, cmyk, gray16)
	one := image.NewRGBA(image.Rect(0, 0, 1, 1))
	fill(one.Pix)
	tall := image.NewRGBA(image.Rect(0, 0, 1, 300))
	fill(tall.Pix)
	imgs = append(imgs, one, tall)
	for _, img := range imgs {
		for _, size := range [][2]int{{224, 224}, {16, 9}, {1, 1}, {61, 47}, {130, 3}, {5, 200}} {
			sameAsReference(t, img, size[0], size[1])
		}
	}
}

// TestPNGKinds: real PNG files of each colour type decode to what the fast path reads.
func TestPNGKinds(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	rect := image.Rect(0, 0, 97, 83)
	var imgs []image.Image
	nrgba := image.NewNRGBA(rect)
	for i := range nrgba.Pix {
		nrgba.Pix[i] = uint8(rng.IntN(256))
	}
	gray := image.NewGray(rect)
	for i := range gray.Pix {
		gray.Pix[i] = uint8(rng.IntN(256))
	}
	pal := image.NewPaletted(rect, color.Palette{color.RGBA{9, 8, 7, 255}, color.RGBA{250, 0, 128, 255}})
	for i := range pal.Pix {
		pal.Pix[i] = uint8(rng.IntN(2))
	}
	imgs = append(imgs, nrgba, gray, pal)
	for _, src := range imgs {
		var buf bytes.Buffer
		if err := png.Encode(&buf, src); err != nil {
			t.Fatal(err)
		}
		img, err := Decode(buf.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		sameAsReference(t, img, 224, 224)
	}
}

func TestBadInput(t *testing.T) {
	cases := []struct {
		name string
		img  image.Image
		w, h int
	}{
		{"empty image", image.NewRGBA(image.Rect(0, 0, 0, 5)), 224, 224},
		{"zero width output", image.NewRGBA(image.Rect(0, 0, 4, 4)), 0, 224},
		{"negative output", image.NewRGBA(image.Rect(0, 0, 4, 4)), 224, -1},
	}
	for _, c := range cases {
		if _, err := Input(nil, c.img, c.w, c.h, fixtureNorm); err == nil {
			t.Errorf("%s: Input accepted it", c.name)
		}
		if _, err := Resize(c.img, c.w, c.h); err == nil {
			t.Errorf("%s: Resize accepted it", c.name)
		}
	}
	for _, data := range [][]byte{nil, []byte("hello"), {0x89, 'P', 'N', 'G'}} {
		if _, err := Preprocess(data, 224, 224, fixtureNorm); err == nil {
			t.Errorf("Preprocess(%q) accepted it", data)
		}
	}
}
