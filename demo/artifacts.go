package demo

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/wasmwhisk/wasmwhisk/nn/model"
	"github.com/wasmwhisk/wasmwhisk/report"
)

// Artifacts are the files and images the variants deploy, prepared once per run: the build
// outputs of `make build wasm mobilenet` (bin/, build/actions/), zips the demo packs with the
// model, and the Docker images.
type Artifacts struct {
	Root    string // repository root
	Bin     string // bin/
	Actions string // build/actions/
	Work    string // the run's own artifacts (zips, precompiled modules, image contexts)

	ModelDir   string
	Sidecar    model.Sidecar
	ModelFiles map[string][]byte // model.json, the model and the labels, by name in the zip

	// DockerErr is why Docker variants cannot run (nil when the engine answers).
	DockerErr error
	// Images are the sizes of the images built by this run, by reference; ImageErr is why the
	// image step failed.
	Images   map[string]int64
	ImageErr error
}

// wasiNNImport is the import module name of wasi-nn as it appears in a module's binary (its
// length byte, then the name).
var wasiNNImport = append([]byte{byte(len("wasi_ephemeral_nn"))}, "wasi_ephemeral_nn"...)

// importsWasiNN says whether a module imports wasi-nn.
func importsWasiNN(path string) (bool, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return false, err
	}
	return bytes.Contains(b, wasiNNImport), nil
}

// loadModel finds the model directory and reads the files an action zip needs.
func (a *Artifacts) loadModel(dir string) (report.Model, error) {
	dir, err := model.Resolve(dir)
	if err != nil {
		return report.Model{}, err
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return report.Model{}, err
	}
	a.ModelDir = abs
	fsys := os.DirFS(abs)
	if a.Sidecar, err = model.ReadSidecar(fsys); err != nil {
		return report.Model{}, fmt.Errorf("model in %s: %w", abs, err)
	}
	a.ModelFiles = map[string][]byte{}
	for _, name := range []string{a.Sidecar.Model, a.Sidecar.Labels} {
		b, err := os.ReadFile(filepath.Join(abs, name))
		if err != nil {
			return report.Model{}, fmt.Errorf("model: %w", err)
		}
		a.ModelFiles[name] = b
	}
	sidecar, err := os.ReadFile(filepath.Join(abs, model.SidecarFile))
	if errors.Is(err, os.ErrNotExist) {
		sidecar, err = json.Marshal(a.Sidecar) // the default for a known model file, written out
	}
	if err != nil {
		return report.Model{}, fmt.Errorf("model: %w", err)
	}
	a.ModelFiles[model.SidecarFile] = sidecar
	sum := sha256.Sum256(a.ModelFiles[a.Sidecar.Model])
	return report.Model{Dir: abs, File: a.Sidecar.Model, Bytes: int64(len(a.ModelFiles[a.Sidecar.Model])), SHA256: hex.EncodeToString(sum[:])}, nil
}

// zipWithModel packs code as entry beside the model files, deterministically.
func (a *Artifacts) zipWithModel(name, entry, code string) (Deploy, error) {
	path := filepath.Join(a.Work, name)
	if _, err := os.Stat(path); err == nil {
		return fileDeploy("zip", path)
	}
	data, err := os.ReadFile(code)
	if err != nil {
		return Deploy{}, err
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	epoch := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	add := func(n string, b []byte, mode os.FileMode) error {
		h := &zip.FileHeader{Name: n, Method: zip.Deflate, Modified: epoch}
		h.SetMode(mode)
		w, err := zw.CreateHeader(h)
		if err != nil {
			return err
		}
		_, err = w.Write(b)
		return err
	}
	if err := add(entry, data, 0o755); err != nil {
		return Deploy{}, err
	}
	for _, n := range []string{model.SidecarFile, a.Sidecar.Model, a.Sidecar.Labels} {
		if err := add(n, a.ModelFiles[n], 0o644); err != nil {
			return Deploy{}, err
		}
	}
	if err := zw.Close(); err != nil {
		return Deploy{}, err
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		return Deploy{}, err
	}
	return fileDeploy("zip", path)
}

func fileDeploy(what, path string) (Deploy, error) {
	st, err := os.Stat(path)
	if err != nil {
		return Deploy{}, err
	}
	return Deploy{Source: path, Artifact: report.NewArtifact(what, filepath.Base(path), st.Size())}, nil
}

func (a *Artifacts) needDocker() error {
	if a.DockerErr != nil {
		return a.DockerErr
	}
	if a.ImageErr != nil {
		return fmt.Errorf("images: %w", a.ImageErr)
	}
	return nil
}

func (a *Artifacts) image(ref string) (Deploy, error) {
	if err := a.needDocker(); err != nil {
		return Deploy{}, err
	}
	size, ok := a.Images[ref]
	if !ok {
		return Deploy{}, fmt.Errorf("image %s was not built", ref)
	}
	return Deploy{Source: ref, Artifact: report.NewArtifact("image", ref, size)}, nil
}

// blackboxImage is the action baked into an image: build-images.sh's wasmwhisk/mobilenet for
// MobileNet, the demo's own wasmwhisk/demo-<name> for the others.
func blackboxImage(a *Artifacts, w Workload) (Deploy, error) {
	if w.Name == "mobilenet" {
		return a.image("wasmwhisk/mobilenet:" + imageTag)
	}
	return a.image(demoImage(w.Name, false))
}

// nativeArtifact is the native executable: alone, or zipped with the model for MobileNet.
func nativeArtifact(a *Artifacts, w Workload) (Deploy, error) {
	exe := filepath.Join(a.Actions, w.Name)
	if w.Name == "mobilenet" {
		return a.zipWithModel("mobilenet-native.zip", "exec", exe)
	}
	return fileDeploy("executable", exe)
}

// wasmReactor is the WASI reactor module (one instance per container, kept across
// activations), precompiled.
func wasmReactor(a *Artifacts, w Workload) (Deploy, error) {
	return a.precompiled(w.Name+".cwasm", filepath.Join(a.Actions, w.Name+".reactor.wasm"), "precompiled module")
}

// precompiled compiles a module or an action zip ahead of time with wasmwhisk-compile, once per
// run: wasm:0.1 artifacts ship compiled, as WOW ships its modules, so that a cold start
// deserialises native code (a real OpenWhisk has no module cache shared between containers) and
// the first cold start measures what is new in it (a new model), not the compiler.
func (a *Artifacts) precompiled(name, src, what string) (Deploy, error) {
	out := filepath.Join(a.Work, name)
	if _, err := os.Stat(out); err == nil {
		return fileDeploy(what, out)
	}
	cmd := exec.Command(filepath.Join(a.Bin, "wasmwhisk-compile"), "-o", out, src)
	if b, err := cmd.CombinedOutput(); err != nil {
		return Deploy{}, fmt.Errorf("wasmwhisk-compile %s: %w: %s", filepath.Base(src), err, strings.TrimSpace(string(b)))
	}
	return fileDeploy(what, out)
}

// mobilenetInGuest is the MobileNet reactor that runs inference inside the guest: the
// in-guest build of `make mobilenet`, or, in a checkout without wasi-nn, its only build.
func mobilenetInGuest(a *Artifacts, w Workload) (Deploy, error) {
	inGuest := filepath.Join(a.Actions, "mobilenet-inguest.reactor.wasm")
	if _, err := os.Stat(inGuest); err != nil {
		inGuest = filepath.Join(a.Actions, "mobilenet.reactor.wasm")
		nn, err := importsWasiNN(inGuest)
		if err != nil {
			return Deploy{}, err
		}
		if nn {
			return Deploy{}, notAvailable("build/actions/mobilenet-inguest.reactor.wasm is missing and mobilenet.reactor.wasm uses wasi-nn (run make mobilenet)")
		}
	}
	zip, err := a.zipWithModel("mobilenet-inguest.zip", "main.wasm", inGuest)
	if err != nil {
		return Deploy{}, err
	}
	return a.precompiled("mobilenet-inguest-aot.zip", zip.Source, "precompiled zip")
}

// mobilenetWasiNN is the MobileNet reactor that hands inference to the host through wasi-nn.
func mobilenetWasiNN(a *Artifacts, w Workload) (Deploy, error) {
	module := filepath.Join(a.Actions, "mobilenet.reactor.wasm")
	nn, err := importsWasiNN(module)
	if err != nil {
		return Deploy{}, err
	}
	if !nn {
		return Deploy{}, notAvailable("build/actions/mobilenet.reactor.wasm does not import wasi_ephemeral_nn; " +
			"this checkout has no wasi-nn guest build (issue 10)")
	}
	zip, err := a.zipWithModel("mobilenet-wasinn.zip", "main.wasm", module)
	if err != nil {
		return Deploy{}, err
	}
	return a.precompiled("mobilenet-wasinn-aot.zip", zip.Source, "precompiled zip")
}

// ErrNotAvailable marks a variant this checkout or machine cannot run (no such build, no
// Docker): its row says so and the others run.
var ErrNotAvailable = errors.New("not available")

func notAvailable(why string) error { return fmt.Errorf("%w: %s", ErrNotAvailable, why) }

// imageTag is the tag of every image the demo builds or uses.
const imageTag = "0.1"

// demoImage names the demo's image of a small workload: the native executable baked into the
// native runtime image (blackbox), or the precompiled module baked into the wasm runtime image.
func demoImage(workload string, wasm bool) string {
	if wasm {
		return "wasmwhisk/demo-" + workload + "-wasm:" + imageTag
	}
	return "wasmwhisk/demo-" + workload + ":" + imageTag
}

// buildImages runs deploy/docker/build-images.sh (the runtime images and the MobileNet blackbox
// image) and builds the demo's images of the small workloads on top of the runtime images.
func (a *Artifacts) buildImages(ctx context.Context, log io.Writer) error {
	sizes := filepath.Join(a.Work, "image-sizes.tsv")
	cmd := exec.CommandContext(ctx, "bash", filepath.Join(a.Root, "deploy/docker/build-images.sh"), "wasm-runtime", "native-runtime", "mobilenet")
	cmd.Dir = a.Root
	cmd.Env = append(os.Environ(), "IMAGE_SIZES_FILE="+sizes, "IMAGE_TAG="+imageTag, model.EnvDir+"="+a.ModelDir)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("deploy/docker/build-images.sh: %w (log in %s)", err, filepath.Join(a.Work, "images.log"))
	}
	a.Images = map[string]int64{}
	data, err := os.ReadFile(sizes)
	if err != nil {
		return err
	}
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		ref, size, ok := strings.Cut(line, "\t")
		if n, err := strconv.ParseInt(size, 10, 64); ok && err == nil {
			a.Images[ref] = n
		}
	}
	for _, w := range otherOnly {
		if err := a.buildDemoImage(ctx, w, false, log); err != nil {
			return err
		}
		if err := a.buildDemoImage(ctx, w, true, log); err != nil {
			return err
		}
	}
	return nil
}

// buildDemoImage builds one image of a small workload FROM a runtime image built above.
func (a *Artifacts) buildDemoImage(ctx context.Context, workload string, wasm bool, log io.Writer) error {
	ref := demoImage(workload, wasm)
	dir := filepath.Join(a.Work, "image-"+strings.NewReplacer("/", "_", ":", "_").Replace(ref))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var dockerfile string
	if wasm {
		if err := copyFile(filepath.Join(a.Work, workload+".cwasm"), filepath.Join(dir, "main.cwasm"), 0o644); err != nil {
			return err
		}
		dockerfile = "FROM wasmwhisk/wasm-runtime:" + imageTag + "\nCOPY main.cwasm /action/main.cwasm\n"
	} else {
		if err := copyFile(filepath.Join(a.Actions, workload), filepath.Join(dir, "exec"), 0o755); err != nil {
			return err
		}
		dockerfile = "FROM wasmwhisk/native-runtime:" + imageTag + "\nCOPY exec /action/exec\n" +
			`ENTRYPOINT ["/bin/actionproxy", "-listen", ":8080", "-executor", "native", "-stub", "/action/exec"]` + "\n"
	}
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(dockerfile), 0o644); err != nil {
		return err
	}
	old := strings.TrimSpace(output(ctx, a.Root, "docker", "image", "inspect", "-f", "{{.Id}}", ref))
	cmd := exec.CommandContext(ctx, "docker", "build", "-q", "-t", ref, dir)
	cmd.Env = append(os.Environ(), "DOCKER_BUILDKIT=0")
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("docker build %s: %w", ref, err)
	}
	if now := strings.TrimSpace(output(ctx, a.Root, "docker", "image", "inspect", "-f", "{{.Id}}", ref)); old != "" && old != now {
		_ = exec.CommandContext(ctx, "docker", "image", "rm", old).Run() // the image this tag replaced
	}
	size, err := strconv.ParseInt(strings.TrimSpace(output(ctx, a.Root, "docker", "image", "inspect", "-f", "{{.Size}}", ref)), 10, 64)
	if err != nil {
		return fmt.Errorf("size of %s: %w", ref, err)
	}
	a.Images[ref] = size
	return nil
}

// precompile compiles the small workloads' reactor modules ahead of time, side by side: what
// the wasm:0.1 rows deploy, the wasm images ship and the execution-time rows run.
func (a *Artifacts) precompile(ctx context.Context, log io.Writer) error {
	var g errgroup.Group
	for _, name := range otherOnly {
		g.Go(func() error {
			_, err := wasmReactor(a, Workload{Name: name})
			return err
		})
	}
	err := g.Wait()
	if err != nil {
		fmt.Fprintln(log, err)
	}
	return err
}

func copyFile(src, dst string, mode os.FileMode) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, b, mode)
}
