//go:build !embedmodel

package main

import "io/fs"

// embeddedModel returns nil: this build reads the model from files.
func embeddedModel() fs.FS { return nil }
