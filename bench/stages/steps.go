package main

import (
	"image"

	"github.com/wasmwhisk/wasmwhisk/nn/imageproc"
)

// stagesOf times the steps of imageproc.Preprocess one by one.
func stagesOf(data []byte, timed func(string, func() error) error) error {
	var img image.Image
	if err := timed("decode", func() (err error) { img, err = imageproc.Decode(data); return }); err != nil {
		return err
	}
	var pix []uint8
	var w, h int
	timed("rgb", func() error { pix, w, h = imageproc.RGB(img); return nil })
	var small []uint8
	timed("resize", func() error { small = imageproc.Resize(pix, w, h, 224, 224); return nil })
	timed("normalise", func() error { imageproc.NCHW(small, 224, 224, norm); return nil })
	return nil
}
