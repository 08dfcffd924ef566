package docker

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/wasmwhisk/wasmwhisk/runtime"
	"github.com/wasmwhisk/wasmwhisk/standalone"
)

func newTestBackend(t *testing.T) (*Backend, string) {
	t.Helper()
	c := requireDocker(t)
	image := requireTinyImage(t, c)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, err := New(ctx, Config{Instance: uniqueName("test-"), UserMemoryMB: 1024})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return b, image
}

func tinySpec(image string, memoryMB int, env map[string]string) standalone.ContainerSpec {
	e := map[string]string{"__OW_API_HOST": "http://host.example:3233"}
	for k, v := range env {
		e[k] = v
	}
	return standalone.ContainerSpec{
		Name: uniqueName("wwtest_0_guest_"), Kind: standalone.KindBlackbox, Image: image,
		MemoryMB: memoryMB, Concurrency: 1, Env: e,
	}
}

// byStream orders "stream: text" lines stdout first, keeping each stream's order.
func byStream(lines []string) []string {
	var out, errs []string
	for _, l := range lines {
		if strings.HasPrefix(l, "stderr: ") {
			errs = append(errs, l)
		} else {
			out = append(out, l)
		}
	}
	return append(out, errs...)
}

func texts(lines []standalone.LogLine) []string {
	var out []string
	for _, l := range lines {
		out = append(out, l.Stream+": "+l.Text)
	}
	return out
}

// TestBackendActivations runs a container through the invoker's whole sequence: create, /init
// while the proxy is still starting, two activations with their logs split at the sentinels,
// pause, resume, another activation, destroy (twice).
func TestBackendActivations(t *testing.T) {
	t.Parallel()
	b, image := newTestBackend(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	c, err := b.Create(ctx, tinySpec(image, 128, map[string]string{"TINY_LISTEN_DELAY": "300ms"}))
	if err != nil {
		t.Fatal(err)
	}
	info, err := b.Client().InspectContainer(ctx, c.ID())
	if err != nil {
		t.Fatal(err)
	}
	if info.Label[LabelInstance] != b.instance || info.Label[LabelKind] != standalone.KindBlackbox {
		t.Fatalf("labels = %v", info.Label)
	}

	// The proxy listens 300 ms after start: Init must retry through connection refused.
	initCtx, initCancel := context.WithTimeout(ctx, 10*time.Second)
	status, body, err := c.Init(initCtx, []byte(`{"value":{"name":"x","main":"main","binary":false,"env":{}}}`))
	initCancel()
	if err != nil || status != 200 || string(body) != `{"ok":true}` {
		t.Fatalf("init = %d %s %v", status, body, err)
	}
	// The startup line is not part of any activation, but it is in the first one's logs as
	// OpenWhisk would show it (everything since the previous collection).
	first := true
	run := func(msg string, lines int) {
		t.Helper()
		status, body, err := c.Run(ctx, []byte(`{"value":{"msg":"`+msg+`","lines":`+string(rune('0'+lines))+`}}`))
		if err != nil || status != 200 {
			t.Fatalf("run %s = %d %s %v", msg, status, body, err)
		}
		if want := `{"api_host":"http://host.example:3233","msg":"` + msg + `"}`; string(body) != want {
			t.Fatalf("run %s body = %s, want %s", msg, body, want)
		}
		logCtx, logCancel := context.WithTimeout(ctx, 5*time.Second)
		defer logCancel()
		got, err := c.Logs(logCtx, true)
		if err != nil {
			t.Fatalf("logs of %s: %v (%q)", msg, err, texts(got))
		}
		var want []string
		if first {
			want = append(want, "stdout: tinyproxy starting")
			first = false
		}
		for i := 0; i < lines; i++ {
			want = append(want, "stdout: line "+string(rune('0'+i))+" of "+msg)
		}
		want = append(want, "stdout: stdout: "+msg, "stderr: stderr: "+msg)
		// Each stream keeps its order; across streams the engine's timestamps are too close to tell.
		if strings.Join(byStream(texts(got)), "\n") != strings.Join(byStream(want), "\n") {
			t.Fatalf("logs of %s:\n got %q\nwant %q", msg, texts(got), want)
		}
		for _, l := range got {
			if time.Since(l.Time) > time.Minute || time.Until(l.Time) > time.Minute {
				t.Fatalf("implausible log time %v", l.Time)
			}
		}
	}
	run("one", 2)
	run("two", 0)

	if err := c.Pause(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.Pause(ctx); err != nil {
		t.Fatalf("pause is idempotent: %v", err)
	}
	if info, _ = b.Client().InspectContainer(ctx, c.ID()); !info.State.Paused {
		t.Fatalf("not paused: %+v", info.State)
	}
	if err := c.Resume(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.Resume(ctx); err != nil {
		t.Fatalf("resume is idempotent: %v", err)
	}
	run("three", 1)

	if err := c.Destroy(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.Destroy(ctx); err != nil {
		t.Fatalf("destroy is idempotent: %v", err)
	}
	if _, err := b.Client().InspectContainer(ctx, c.ID()); !IsNotFound(err) {
		t.Fatalf("container still exists after destroy: %v", err)
	}
	// Its IP may already belong to another container: nothing must be sent there.
	if _, _, err := c.Run(ctx, []byte(`{"value":{}}`)); !errors.Is(err, standalone.ErrNoResponse) {
		t.Fatalf("run after destroy: err = %v, want ErrNoResponse", err)
	}
	if _, _, err := c.Init(ctx, []byte(`{"value":{}}`)); !errors.Is(err, standalone.ErrNoResponse) {
		t.Fatalf("init after destroy: err = %v, want ErrNoResponse", err)
	}
}

// TestBackendLongLine checks that a line longer than the engine's 16 KiB split comes back whole.
func TestBackendLongLine(t *testing.T) {
	t.Parallel()
	b, image := newTestBackend(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := b.Create(ctx, tinySpec(image, 128, nil))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Init(ctx, []byte(`{"value":{}}`)); err != nil {
		t.Fatal(err)
	}
	if status, body, err := c.Run(ctx, []byte(`{"value":{"msg":"long","long":40000}}`)); err != nil || status != 200 {
		t.Fatalf("run = %d %s %v", status, body, err)
	}
	got, err := c.Logs(ctx, true)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, l := range got {
		if l.Stream == "stdout" && len(l.Text) == 40000 && strings.Trim(l.Text, "x") == "" {
			found = true
		}
	}
	if !found {
		t.Fatalf("no 40000-char line among %d lines", len(got))
	}
}

// TestBackendFailures covers what the invoker must classify: an OOM kill, a crash mid-run, a proxy
// that never listens, and images that do not exist.
func TestBackendFailures(t *testing.T) {
	t.Parallel()
	b, image := newTestBackend(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	t.Run("memory exhausted", func(t *testing.T) {
		c, err := b.Create(ctx, tinySpec(image, 32, nil))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Destroy(ctx)
		if _, _, err := c.Init(ctx, []byte(`{"value":{}}`)); err != nil {
			t.Fatal(err)
		}
		_, _, err = c.Run(ctx, []byte(`{"value":{"allocMB":200}}`))
		if !errors.Is(err, standalone.ErrOOM) {
			t.Fatalf("run past the memory limit: err = %v, want ErrOOM", err)
		}
	})

	t.Run("crash mid-run", func(t *testing.T) {
		c, err := b.Create(ctx, tinySpec(image, 64, nil))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Destroy(ctx)
		if _, _, err := c.Init(ctx, []byte(`{"value":{}}`)); err != nil {
			t.Fatal(err)
		}
		_, _, err = c.Run(ctx, []byte(`{"value":{"exit":true}}`))
		if !errors.Is(err, standalone.ErrNoResponse) || errors.Is(err, standalone.ErrOOM) {
			t.Fatalf("run of a crashing proxy: err = %v, want ErrNoResponse and not ErrOOM", err)
		}
		// Without sentinels the logs come back at once with what was written.
		got, err := c.Logs(ctx, false)
		if err != nil || len(got) == 0 || got[0].Text != "tinyproxy starting" {
			t.Fatalf("logs after crash = %q, %v", texts(got), err)
		}
		// Waiting for sentinels of a dead container ends with ErrLogsIncomplete, not a hang.
		if _, err := c.Logs(ctx, true); !errors.Is(err, standalone.ErrLogsIncomplete) {
			t.Fatalf("logs(wait) of a dead container: %v", err)
		}
	})

	t.Run("proxy never listens", func(t *testing.T) {
		c, err := b.Create(ctx, tinySpec(image, 64, map[string]string{"TINY_NO_LISTEN": "1"}))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Destroy(ctx)
		initCtx, initCancel := context.WithTimeout(ctx, 500*time.Millisecond)
		defer initCancel()
		_, _, err = c.Init(initCtx, []byte(`{"value":{}}`))
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("init against a silent container: err = %v, want the deadline", err)
		}
	})

	t.Run("proxy exits at start", func(t *testing.T) {
		// The proxy lives one second without listening, then exits.
		spec := tinySpec(image, 64, map[string]string{"TINY_EXIT_AT_START": "1", "TINY_LISTEN_DELAY": "1s"})
		c, err := b.Create(ctx, spec)
		if err != nil {
			t.Fatalf("create: %v", err)
		}
		defer c.Destroy(ctx)
		// Init must give up when the container is gone, long before this 60 s limit.
		initCtx, initCancel := context.WithTimeout(ctx, 60*time.Second)
		defer initCancel()
		_, _, err = c.Init(initCtx, []byte(`{"value":{}}`))
		if !errors.Is(err, standalone.ErrNoResponse) || initCtx.Err() != nil {
			t.Fatalf("init of an exited container: err = %v (ctx %v), want ErrNoResponse before the deadline", err, initCtx.Err())
		}
	})

	// An image whose entrypoint does not exist: docker run exits 127 in OpenWhisk.
	const noExec = "wasmwhisk-test/noexec:test"
	if _, err := b.Client().BuildImage(ctx, noExec, tarOf(t, map[string][]byte{"Dockerfile": []byte("FROM scratch\nENTRYPOINT [\"/nope\"]\n")})); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		image     string
		kind      string
		developer bool
		message   string
	}{
		{"blackbox image missing", "wasmwhisk-test/absent:none", standalone.KindBlackbox, true, "Failed to pull container image 'wasmwhisk-test/absent:none'."},
		{"runtime image missing", "wasmwhisk-test/absent:none", standalone.KindWasm, false, "Failed to provision resources to run the action."},
		{"blackbox executable missing", noExec, standalone.KindBlackbox, true, "executable file not found in image " + noExec},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := tinySpec(tt.image, 64, nil)
			spec.Kind = tt.kind
			_, err := b.Create(ctx, spec)
			// A developer error is what the controller answers with 502 (record status 2).
			var re *runtime.Error
			if !errors.As(err, &re) || (re.Status == http.StatusBadGateway) != tt.developer || re.Message != tt.message {
				t.Fatalf("err = %#v, want developer=%v %q", err, tt.developer, tt.message)
			}
		})
	}
}

// TestBackendWasmCacheVolume checks that wasm:0.1 containers, and only they, mount the shared
// module cache volume.
func TestBackendWasmCacheVolume(t *testing.T) {
	t.Parallel()
	c := requireDocker(t)
	image := requireTinyImage(t, c)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	volume := uniqueName("wwtest-modcache-")
	b, err := New(ctx, Config{Instance: uniqueName("test-"), WasmCacheVolume: volume})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	for _, kind := range []string{standalone.KindWasm, standalone.KindNative, standalone.KindBlackbox} {
		spec := tinySpec(image, 64, nil)
		spec.Kind = kind
		ct, err := b.Create(ctx, spec)
		if err != nil {
			t.Fatal(err)
		}
		info, err := c.InspectContainer(ctx, ct.ID())
		if err != nil {
			t.Fatal(err)
		}
		mounted := len(info.Mounts) == 1 && info.Mounts[0].Type == "volume" && info.Mounts[0].Name == volume && info.Mounts[0].Destination == WasmCacheDir
		if mounted != (kind == standalone.KindWasm) || (kind != standalone.KindWasm && len(info.Mounts) != 0) {
			t.Errorf("kind %s: mounts %+v", kind, info.Mounts)
		}
		if err := ct.Destroy(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.RemoveVolume(ctx, volume, true); err != nil {
		t.Fatal(err)
	}
	if err := c.RemoveVolume(ctx, volume, false); !IsNotFound(err) {
		t.Fatalf("second volume removal: %v, want 404", err)
	}
}

// TestBackendLeftovers checks that a new backend removes the containers of its own instance that
// a previous server left behind, and no others.
func TestBackendLeftovers(t *testing.T) {
	t.Parallel()
	c := requireDocker(t)
	image := requireTinyImage(t, c)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	instance := uniqueName("test-")
	mine, err := c.CreateContainer(ctx, uniqueName("wwtest-left-"), ContainerConfig{Image: image,
		Labels: map[string]string{LabelManaged: "true", LabelInstance: instance}})
	if err != nil {
		t.Fatal(err)
	}
	other, err := c.CreateContainer(ctx, uniqueName("wwtest-other-"), ContainerConfig{Image: image,
		Labels: map[string]string{LabelManaged: "true", LabelInstance: instance + "-other"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = c.RemoveContainer(context.Background(), mine, true)
		_ = c.RemoveContainer(context.Background(), other, true)
	})
	if err := c.StartContainer(ctx, mine); err != nil {
		t.Fatal(err)
	}
	b, err := New(ctx, Config{Instance: instance})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if _, err := c.InspectContainer(ctx, mine); !IsNotFound(err) {
		t.Fatalf("leftover of this instance survived: %v", err)
	}
	if _, err := c.InspectContainer(ctx, other); err != nil {
		t.Fatalf("container of another instance was touched: %v", err)
	}

	// Close destroys what the backend still holds.
	ct, err := b.Create(ctx, tinySpec(image, 64, nil))
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.InspectContainer(ctx, ct.ID()); !IsNotFound(err) {
		t.Fatalf("container survived Close: %v", err)
	}
	if _, err := b.Create(ctx, tinySpec(image, 64, nil)); err == nil {
		t.Fatal("create after Close succeeded")
	}
}

func TestContainerName(t *testing.T) {
	b := &Backend{instance: "3f2a9c1b7e4d"}
	tests := []struct{ in, want string }{
		{"wsk0_12_guest_hello", "wsk_3f2a9c1b7e4d_wsk0_12_guest_hello"},
		{"wsk0_1_guest_my action@v1&x", "wsk_3f2a9c1b7e4d_wsk0_1_guest_my_action_v1_x"},
		{"__lead", "wsk_3f2a9c1b7e4d_lead"},
		{"", "wsk_3f2a9c1b7e4d"},
		{"☃", "wsk_3f2a9c1b7e4d"},
	}
	for _, tt := range tests {
		if got := b.containerName(tt.in); got != tt.want {
			t.Errorf("containerName(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	if got := b.containerName(strings.Repeat("a", 300)); len(got) != len("wsk_3f2a9c1b7e4d_")+160 {
		t.Errorf("long name not cut: %d chars", len(got))
	}
	odd := &Backend{instance: "e2e/x y"}
	if got := odd.containerName("n"); got != "wsk_e2e_x_y_n" {
		t.Errorf("instance not made safe: %q", got)
	}
}
