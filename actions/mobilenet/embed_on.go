//go:build embedmodel

package main

import (
	"embed"
	"io/fs"
)

// model/ holds model.json, the ONNX file and the labels, copied there before the build (see
// docs/inference.md; the directory is not committed).
//
//go:embed model
var embedded embed.FS

// embeddedModel returns the model files compiled into this build.
func embeddedModel() fs.FS {
	sub, err := fs.Sub(embedded, "model")
	if err != nil {
		return nil
	}
	return sub
}
