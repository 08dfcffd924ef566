package main

import (
	"image"

	"github.com/wasmwhisk/wasmwhisk/nn/imageproc"
)

// stagesOf times the steps of imageproc.Preprocess one by one: decoding, then resizing and
// normalising (one fused pass).
func stagesOf(data []byte, timed func(string, func() error) error) error {
	var img image.Image
	if err := timed("decode", func() (err error) { img, err = imageproc.Decode(data); return }); err != nil {
		return err
	}
	return timed("resize+norm", func() error { _, err := imageproc.Input(nil, img, 224, 224, norm); return err })
}
