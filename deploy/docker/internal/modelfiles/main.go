// Command modelfiles prints, one per line, the files of a model directory that the MobileNet
// action needs: model.json when there is one, the model and the labels. build-images.sh bakes
// them into the mobilenet image. It reads the directory with nn/model's own rule (ReadSidecar),
// so the image holds exactly what the action will open.
//
// Usage: go run ./deploy/docker/internal/modelfiles DIR
package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/wasmwhisk/wasmwhisk/nn/model"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: modelfiles DIR")
		os.Exit(2)
	}
	files, err := modelFiles(os.DirFS(os.Args[1]))
	if err != nil {
		fmt.Fprintf(os.Stderr, "modelfiles: %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
	for _, f := range files {
		fmt.Println(f)
	}
}

// modelFiles lists the sidecar (when present), the model and the labels of the directory fsys.
func modelFiles(fsys fs.FS) ([]string, error) {
	sc, err := model.ReadSidecar(fsys)
	if err != nil {
		return nil, err
	}
	var files []string
	if _, err := fs.Stat(fsys, model.SidecarFile); err == nil {
		files = append(files, model.SidecarFile)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	files = append(files, sc.Model)
	if sc.Labels != "" {
		files = append(files, sc.Labels)
	}
	return files, nil
}
