package docker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestClientLifecycle drives one container through every call of the client against the real
// engine: create (env, labels, memory = swap), start, inspect, logs, list by label, pause,
// unpause, kill, remove.
func TestClientLifecycle(t *testing.T) {
	c := requireDocker(t)
	image := requireTinyImage(t, c)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	name := uniqueName("wwtest-client-")
	label := uniqueName("lbl-")
	id, err := c.CreateContainer(ctx, name, ContainerConfig{
		Image:       image,
		Env:         map[string]string{"__OW_API_HOST": "http://api.example:3233"},
		Labels:      map[string]string{LabelInstance: label},
		MemoryBytes: 64 << 20,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.RemoveContainer(context.Background(), id, true) })

	info, err := c.InspectContainer(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Status != "created" || info.Name != "/"+name || info.Label[LabelInstance] != label {
		t.Fatalf("after create: %+v", info)
	}
	if _, err := c.CreateContainer(ctx, name, ContainerConfig{Image: image}); !IsConflict(err) {
		t.Fatalf("second create with the same name: err = %v, want a 409 conflict", err)
	}

	if err := c.StartContainer(ctx, id); err != nil {
		t.Fatal(err)
	}
	if info, err = c.InspectContainer(ctx, id); err != nil {
		t.Fatal(err)
	}
	if !info.State.Running || info.IP == "" {
		t.Fatalf("after start: running=%v ip=%q", info.State.Running, info.IP)
	}

	// The proxy answers over the bridge and sees the environment; its output reaches the log.
	base := fmt.Sprintf("http://%s:%d", info.IP, ProxyPort)
	var body string
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Post(base+"/run", "application/json", strings.NewReader(`{"value":{"msg":"ping"}}`))
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			body = string(b)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("proxy never answered: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if want := `{"api_host":"http://api.example:3233","msg":"ping"}`; body != want {
		t.Fatalf("/run = %s, want %s", body, want)
	}
	rows := readLogsUntil(t, c, id, "stderr: ping", "stdout: ping")
	if !containsRow(rows, "stdout", "stdout: ping") || !containsRow(rows, "stdout", "tinyproxy starting") {
		t.Fatalf("logs = %q", rows)
	}

	list, err := c.ListContainers(ctx, map[string]string{LabelInstance: label})
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].ID != id {
		t.Fatalf("list by label = %+v, want only %s", list, id)
	}
	if list, err = c.ListContainers(ctx, map[string]string{LabelInstance: label + "-other"}); err != nil || len(list) != 0 {
		t.Fatalf("list by another label = %+v, %v", list, err)
	}

	if err := c.PauseContainer(ctx, id); err != nil {
		t.Fatal(err)
	}
	if info, _ = c.InspectContainer(ctx, id); !info.State.Paused {
		t.Fatalf("after pause: %+v", info.State)
	}
	if err := c.PauseContainer(ctx, id); !IsConflict(err) {
		t.Fatalf("pause twice: err = %v, want a conflict", err)
	}
	if err := c.UnpauseContainer(ctx, id); err != nil {
		t.Fatal(err)
	}
	if info, _ = c.InspectContainer(ctx, id); info.State.Paused || !info.State.Running {
		t.Fatalf("after unpause: %+v", info.State)
	}

	if err := c.KillContainer(ctx, id, ""); err != nil {
		t.Fatal(err)
	}
	if info, _ = c.InspectContainer(ctx, id); info.State.Running {
		t.Fatalf("after kill: %+v", info.State)
	}
	if err := c.RemoveContainer(ctx, id, false); err != nil {
		t.Fatal(err)
	}
	if _, err := c.InspectContainer(ctx, id); !IsNotFound(err) {
		t.Fatalf("inspect after remove: err = %v, want 404", err)
	}
	if err := c.RemoveContainer(ctx, id, true); !IsNotFound(err) {
		t.Fatalf("remove twice: err = %v, want 404", err)
	}
}

func TestClientErrors(t *testing.T) {
	c := requireDocker(t)
	image := requireTinyImage(t, c)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tests := []struct {
		name     string
		call     func() error
		notFound bool
	}{
		{"create from a missing image", func() error {
			_, err := c.CreateContainer(ctx, "", ContainerConfig{Image: "wasmwhisk-test/does-not-exist:none"})
			return err
		}, true},
		{"start a missing container", func() error { return c.StartContainer(ctx, "wwtest-missing-container") }, true},
		{"pause a missing container", func() error { return c.PauseContainer(ctx, "wwtest-missing-container") }, true},
		{"logs of a missing container", func() error {
			_, err := c.Logs(ctx, "wwtest-missing-container", false)
			return err
		}, true},
		{"create with an invalid name", func() error {
			_, err := c.CreateContainer(ctx, "bad name!", ContainerConfig{Image: image})
			return err
		}, false},
		{"build with a broken Dockerfile", func() error {
			_, err := c.BuildImage(ctx, "wasmwhisk-test/broken:test", tarOf(t, map[string][]byte{"Dockerfile": []byte("FROM scratch\nCOPY missing /missing\n")}))
			return err
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			if err == nil {
				t.Fatal("no error")
			}
			if IsNotFound(err) != tt.notFound {
				t.Fatalf("IsNotFound(%v) = %v, want %v", err, !tt.notFound, tt.notFound)
			}
		})
	}
	if ok, err := c.ImageExists(ctx, "wasmwhisk-test/does-not-exist:none"); ok || err != nil {
		t.Fatalf("ImageExists(missing) = %v, %v", ok, err)
	}

	dead := NewClient("/nonexistent/docker.sock")
	defer dead.Close()
	if err := dead.Ping(ctx); err == nil || errors.As(err, new(*APIError)) {
		t.Fatalf("ping over a missing socket: %v, want a transport error", err)
	}
}

// readLogsUntil reads the container's whole log (not following) until every line of want
// appears (the engine copies the two streams independently).
func readLogsUntil(t *testing.T, c *Client, id string, want ...string) []logRow {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		rc, err := c.Logs(context.Background(), id, false)
		if err != nil {
			t.Fatal(err)
		}
		var rows []logRow
		err = DemuxLogs(rc, func(stream string, ts time.Time, text string) {
			if ts.IsZero() || time.Since(ts) > time.Hour {
				t.Errorf("implausible log time %v", ts)
			}
			rows = append(rows, logRow{stream: stream, text: text})
		})
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		missing := 0
		for _, w := range want {
			found := false
			for _, r := range rows {
				found = found || r.text == w
			}
			if !found {
				missing++
			}
		}
		if missing == 0 {
			return rows
		}
		if time.Now().After(deadline) {
			t.Fatalf("log line %q never appeared; have %q", want, rows)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func containsRow(rows []logRow, stream, text string) bool {
	for _, r := range rows {
		if r.stream == stream && r.text == text {
			return true
		}
	}
	return false
}

func TestChooseAPIVersion(t *testing.T) {
	tests := []struct{ min, max, want string }{
		{"1.12", "1.41", "1.41"}, // Debian's 20.10
		{"1.24", "1.50", "1.41"}, // 28.x still serves 1.41
		{"1.44", "1.52", "1.44"}, // engines that dropped old versions
		{"1.12", "1.40", "1.40"}, // older engines
		{"", "", "1.41"},
		{"garbage", "1.41", "1.41"},
		{"1.12", "1.9", "1.9"}, // compared as numbers: 1.9 is older than 1.41
	}
	for _, tt := range tests {
		if got := chooseAPIVersion("1.41", tt.min, tt.max); got != tt.want {
			t.Errorf("chooseAPIVersion(1.41, %q, %q) = %s, want %s", tt.min, tt.max, got, tt.want)
		}
	}
}

func TestNegotiate(t *testing.T) {
	c := requireDocker(t)
	v, err := c.Negotiate(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if v == "" || c.Ping(context.Background()) != nil {
		t.Fatalf("negotiated %q", v)
	}
}
