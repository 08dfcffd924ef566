// Package dockerimages_test checks the images build-images.sh makes: each one is started with
// `docker run` like OpenWhisk's ActionContainer harness does, the conformance cases that apply
// run against the container's bridge address, and the sentinels are counted in `docker logs`.
package dockerimages_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wasmwhisk/wasmwhisk/internal/conformance"
	"github.com/wasmwhisk/wasmwhisk/internal/testbuild"
)

// testTag keeps the images under test apart from the ones `make images` tags for use.
const testTag = "test"

func imageRef(name string) string { return "wasmwhisk/" + name + ":" + testTag }

// requireDocker skips without a Docker engine, or fails when CI=true.
func requireDocker(t testing.TB) {
	t.Helper()
	if err := exec.Command("docker", "info").Run(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("Docker is required in CI (deploy/docker/ensure-dockerd.sh): docker info: %v", err)
		}
		t.Skipf("no Docker engine: %v", err)
	}
}

var (
	buildOnce sync.Once
	buildErr  error
	buildLog  string
)

// requireImages runs build-images.sh once per test binary, exactly as `make images` does.
func requireImages(t testing.TB) {
	t.Helper()
	requireDocker(t)
	buildOnce.Do(func() {
		root, err := testbuild.Root()
		if err != nil {
			buildErr = err
			return
		}
		cmd := exec.Command("bash", filepath.Join(root, "deploy/docker/build-images.sh"))
		cmd.Env = append(os.Environ(), "IMAGE_TAG="+testTag)
		out, err := cmd.CombinedOutput()
		buildLog = string(out)
		if err != nil {
			buildErr = fmt.Errorf("build-images.sh: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
}

// requireImage additionally checks that one image was built.
func requireImage(t testing.TB, name string) string {
	t.Helper()
	requireImages(t)
	ref := imageRef(name)
	if err := exec.Command("docker", "image", "inspect", ref).Run(); err != nil {
		t.Fatalf("image %s was not built:\n%s", ref, buildLog)
	}
	return ref
}

func docker(t testing.TB, args ...string) string {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd := exec.Command("docker", args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("docker %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return strings.TrimSpace(stdout.String())
}

// dockerRun starts image like the invoker and the conformance harness do (memory = swap,
// -e env, optional extra docker run flags) and returns its id and bridge IP; the container is
// removed by t.Cleanup.
func dockerRun(t testing.TB, image string, env map[string]string, flags ...string) (id, ip string) {
	t.Helper()
	args := append([]string{"run", "-d", "--memory", "256m", "--memory-swap", "256m"}, flags...)
	for k, v := range env {
		args = append(args, "-e", k+"="+v)
	}
	id = docker(t, append(args, image)...)
	t.Cleanup(func() { _ = exec.Command("docker", "rm", "-f", id).Run() })
	ip = docker(t, "inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", id)
	if ip == "" {
		t.Fatalf("container %.12s has no IP", id)
	}
	return id, ip
}

// dockerLogs is `docker logs ID`, the container's stdout and stderr kept apart.
func dockerLogs(id string) (string, string) {
	var stdout, stderr bytes.Buffer
	cmd := exec.Command("docker", "logs", id)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	_ = cmd.Run()
	return stdout.String(), stderr.String()
}

func startFunc(image string, flags ...string) func(t *testing.T, opts conformance.Options) *conformance.Container {
	return func(t *testing.T, opts conformance.Options) *conformance.Container {
		id, ip := dockerRun(t, image, opts.Env, flags...)
		t.Cleanup(func() {
			if t.Failed() {
				out, errs := dockerLogs(id)
				t.Logf("docker logs %.12s:\nstdout:\n%s\nstderr:\n%s", id, out, errs)
			}
		})
		return &conformance.Container{
			URL:  fmt.Sprintf("http://%s:8080", ip),
			Logs: func() (string, string) { return dockerLogs(id) },
		}
	}
}

// samples memoizes built samples: `go build`, even from the cache, costs a second per call on a
// loaded machine, and the suites ask for the same samples many times.
var samples sync.Map // testbuild.Target (as string) → base64 code

func sampleCode(t *testing.T, target testbuild.Target) string {
	t.Helper()
	key := fmt.Sprintf("%+v", target)
	if code, ok := samples.Load(key); ok {
		return code.(string)
	}
	b, err := os.ReadFile(testbuild.MustBuild(t, target))
	if err != nil {
		t.Fatal(err)
	}
	code := conformance.B64(b)
	samples.Store(key, code)
	return code
}

func samplePkg(s conformance.Sample) string { return "./internal/conformance/testdata/" + string(s) }

// cacheVolume returns a fresh named volume for the wasm module cache, removed after the test.
func cacheVolume(t testing.TB) string {
	t.Helper()
	name := fmt.Sprintf("wasmwhisk-test-modcache-%d-%d", os.Getpid(), time.Now().UnixNano())
	t.Cleanup(func() { _ = exec.Command("docker", "volume", "rm", "-f", name).Run() })
	return name
}

// TestWasmRuntimeImage shares one module cache volume between the suite's containers, as the
// standalone's docker backend does: each sample is compiled by the first container that inits
// it (seconds on this machine) and deserialized by the others.
func TestWasmRuntimeImage(t *testing.T) {
	t.Parallel()
	image := requireImage(t, "wasm-runtime")
	conformance.Suite{
		Start: startFunc(image, "-v", cacheVolume(t)+":/var/cache/wasmwhisk"),
		Code: func(t *testing.T, s conformance.Sample) string {
			return sampleCode(t, testbuild.Target{Pkg: samplePkg(s), WASM: true})
		},
		Concurrent: true,
	}.Run(t)
}

func TestNativeRuntimeImage(t *testing.T) {
	t.Parallel()
	image := requireImage(t, "native-runtime")
	conformance.Suite{
		Start: startFunc(image),
		Code: func(t *testing.T, s conformance.Sample) string {
			return sampleCode(t, testbuild.Target{Pkg: samplePkg(s)})
		},
	}.Run(t)
}

// TestMobileNetImage runs the canonical cases with the code stub (the native executor still
// accepts code), then classifies the bundled sample through the stub.
func TestMobileNetImage(t *testing.T) {
	t.Parallel()
	image := requireImage(t, "mobilenet")
	suite := conformance.Suite{
		Start: startFunc(image),
		Code: func(t *testing.T, s conformance.Sample) string {
			return sampleCode(t, testbuild.Target{Pkg: samplePkg(s)})
		},
		HasCodeStub: true,
	}
	t.Run("canonical", suite.Canonical)
	t.Run("stub classifies", func(t *testing.T) {
		c := suite.Start(t, conformance.Options{Env: map[string]string{"__OW_API_HOST": "xyz"}})
		cl := conformance.NewClient(t, c)
		if r := cl.Post("/init", []byte(`{"value":{"name":"mobilenet","main":"main","binary":false,"env":{}}}`)); r.Status != http.StatusOK {
			t.Fatalf("init without code: %d %s", r.Status, r.Body)
		}
		r := cl.Run(map[string]any{"top": 3}, map[string]any{"activation_id": "0123456789abcdef0123456789abcdef", "deadline": "9999999999999"})
		if r.Status != http.StatusOK {
			t.Fatalf("run: %d %s", r.Status, r.Body)
		}
		var res struct {
			Label      string  `json:"label"`
			Confidence float64 `json:"confidence"`
			Top        []struct {
				Label string `json:"label"`
			} `json:"top"`
			Error any `json:"error"`
		}
		if err := json.Unmarshal(r.Body, &res); err != nil || res.Error != nil || res.Label == "" || res.Confidence <= 0 || res.Confidence > 1 || len(res.Top) != 3 {
			t.Fatalf("result %s (%v)", r.Body, err)
		}
		cl.CheckStreams(1, nil)
	})
}

// TestImagesRunAsNonRoot checks the user, the writable TMPDIR and that nothing but the proxy
// (and for mobilenet the action and its model) is in the image.
func TestImagesRunAsNonRoot(t *testing.T) {
	for _, name := range []string{"wasm-runtime", "native-runtime", "mobilenet"} {
		t.Run(name, func(t *testing.T) {
			image := requireImage(t, name)
			cfg := docker(t, "image", "inspect", "-f", "{{.Config.User}}|{{json .Config.Env}}|{{json .Config.ExposedPorts}}", image)
			parts := strings.SplitN(cfg, "|", 3)
			if parts[0] != "whisk" || !strings.Contains(parts[1], `"TMPDIR=/tmp"`) || !strings.Contains(parts[2], `"8080/tcp"`) {
				t.Fatalf("image config %s", cfg)
			}
			// The image has no shell: list its files through docker export of a created container.
			id := docker(t, "create", image)
			t.Cleanup(func() { _ = exec.Command("docker", "rm", "-f", id).Run() })
			tarList := exportList(t, id)
			for _, want := range []string{"bin/actionproxy", "etc/passwd", "tmp/"} {
				if !tarList[want] {
					t.Errorf("%s missing from the image", want)
				}
			}
			if name == "mobilenet" && !tarList["action/exec"] {
				t.Errorf("action/exec missing from the mobilenet image")
			}
		})
	}
}

func exportList(t *testing.T, id string) map[string]bool {
	t.Helper()
	cmd := exec.Command("bash", "-c", "docker export "+id+" | tar -tv")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("docker export: %v", err)
	}
	files := map[string]bool{}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) < 6 {
			continue
		}
		name := f[len(f)-1]
		files[name] = true
		if name == "tmp/" && !strings.HasPrefix(f[0], "drwxrwxrwt") {
			t.Errorf("/tmp mode %s, want drwxrwxrwt", f[0])
		}
	}
	return files
}

// BenchmarkDockerRunToInit measures what a cold start costs with Docker, from `docker run` until
// the proxy answered the first /init (the hello action for the runtimes, no code for the
// MobileNet stub). Without a cache volume every wasm container compiles the module; with the
// shared volume (warmed before timing) it only deserializes it.
func BenchmarkDockerRunToInit(b *testing.B) {
	cases := []struct {
		name, image string
		target      *testbuild.Target
		cache       bool
	}{
		{"wasm-runtime", "wasm-runtime", &testbuild.Target{Pkg: "./actions/hello", WASM: true}, false},
		{"wasm-runtime+cache-volume", "wasm-runtime", &testbuild.Target{Pkg: "./actions/hello", WASM: true}, true},
		{"native-runtime", "native-runtime", &testbuild.Target{Pkg: "./actions/hello"}, false},
		{"mobilenet", "mobilenet", nil, false},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			image := requireImage(b, tc.image)
			var flags []string
			if tc.cache {
				flags = []string{"-v", cacheVolume(b) + ":/var/cache/wasmwhisk"}
			}
			body := []byte(`{"value":{"name":"hello","main":"main","binary":false,"env":{}}}`)
			if tc.target != nil {
				code, err := os.ReadFile(testbuild.MustBuild(b, *tc.target))
				if err != nil {
					b.Fatal(err)
				}
				body, _ = json.Marshal(map[string]any{"value": map[string]any{"name": "hello", "main": "main", "binary": true, "code": conformance.B64(code), "env": map[string]string{}}})
			}
			hc := &http.Client{Timeout: 30 * time.Second}
			coldInit := func() {
				id, ip := dockerRun(b, image, map[string]string{"__OW_API_HOST": "xyz"}, flags...)
				defer func() {
					b.StopTimer()
					_ = exec.Command("docker", "rm", "-f", id).Run()
					b.StartTimer()
				}()
				for {
					resp, err := hc.Post("http://"+ip+":8080/init", "application/json", bytes.NewReader(body))
					if err == nil {
						resp.Body.Close()
						if resp.StatusCode != http.StatusOK {
							b.Fatalf("init: %d", resp.StatusCode)
						}
						break
					}
					if !strings.Contains(err.Error(), "connection refused") {
						b.Fatal(err)
					}
					time.Sleep(5 * time.Millisecond)
				}
			}
			if tc.cache {
				coldInit() // fills the volume
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				coldInit()
			}
		})
	}
}
