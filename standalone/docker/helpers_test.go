package docker

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/wasmwhisk/wasmwhisk/internal/testbuild"
)

// tinyImage is the image built from testdata/tinyproxy for these tests.
const tinyImage = "wasmwhisk-test/tinyproxy:test"

// requireDocker returns a client for the local engine, skipping the test when none answers —
// or failing it when CI=true, where Docker must be up (.ci/run starts it).
func requireDocker(t *testing.T) *Client {
	t.Helper()
	c := NewClient("")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Ping(ctx); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("Docker is required in CI (run deploy/docker/ensure-dockerd.sh): %v", err)
		}
		t.Skipf("no Docker engine: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

var (
	tinyOnce sync.Once
	tinyErr  error
)

// requireTinyImage builds the tinyproxy image FROM scratch once per test binary.
func requireTinyImage(t *testing.T, c *Client) string {
	t.Helper()
	tinyOnce.Do(func() {
		var bin string
		bin, tinyErr = testbuild.Build(testbuild.Target{Pkg: "./standalone/docker/testdata/tinyproxy"})
		if tinyErr != nil {
			return
		}
		var exe []byte
		if exe, tinyErr = os.ReadFile(bin); tinyErr != nil {
			return
		}
		dockerfile := "FROM scratch\nCOPY tinyproxy /tinyproxy\nUSER 65534\nENTRYPOINT [\"/tinyproxy\"]\n"
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		var out string
		out, tinyErr = c.BuildImage(ctx, tinyImage, tarOf(t, map[string][]byte{"Dockerfile": []byte(dockerfile), "tinyproxy": exe}))
		if tinyErr != nil {
			t.Log(out)
		}
	})
	if tinyErr != nil {
		t.Fatalf("build %s: %v", tinyImage, tinyErr)
	}
	return tinyImage
}

// tarOf packs files (mode 0755) into an in-memory tar archive.
func tarOf(t *testing.T, files map[string][]byte) *bytes.Reader {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for name, data := range files {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o755, Size: int64(len(data)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(data); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return bytes.NewReader(buf.Bytes())
}

// uniqueName returns prefix plus random hex, for container names and instance labels.
func uniqueName(prefix string) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}
