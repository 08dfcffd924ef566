package docker

import (
	"context"
	"testing"
	"time"
)

func TestContainerMemory(t *testing.T) {
	t.Parallel()
	b, image := newTestBackend(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	sc, err := b.Create(ctx, tinySpec(image, 256, nil))
	if err != nil {
		t.Fatal(err)
	}
	c := sc.(*Container)
	if status, body, err := c.Init(ctx, []byte(`{"value":{"name":"x","main":"main","binary":false,"env":{}}}`)); err != nil || status != 200 {
		t.Fatalf("init = %d %s %v", status, body, err)
	}
	idle, err := c.Memory(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if idle.Bytes == nil || *idle.Bytes <= 0 || idle.Method == "" {
		t.Fatalf("idle memory %+v", idle)
	}
	if err := c.ResetPeak(ctx); err != nil {
		t.Logf("peak not resettable here: %v", err)
	}
	// The proxy keeps what it allocates: the container's memory grows by about that much.
	if status, body, err := c.Run(ctx, []byte(`{"value":{"msg":"m","allocMB":64}}`)); err != nil || status != 200 {
		t.Fatalf("run = %d %s %v", status, body, err)
	}
	after, err := c.Memory(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if grew := *after.Bytes - *idle.Bytes; grew < 56<<20 || grew > 128<<20 {
		t.Fatalf("memory grew by %d bytes after the proxy allocated 64 MiB (%+v → %+v)", grew, idle, after)
	}
	if after.PeakBytes != nil && *after.PeakBytes < *after.Bytes {
		t.Fatalf("peak %d below current %d", *after.PeakBytes, *after.Bytes)
	}
	// The Engine's own figures agree with the cgroup's within a few MiB.
	st, err := b.Client().ContainerMemoryStats(ctx, c.ID())
	if err != nil {
		t.Fatal(err)
	}
	if st.Usage < *after.Bytes {
		t.Fatalf("engine usage %d below usage minus page cache %d", st.Usage, *after.Bytes)
	}
	if err := c.Destroy(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Memory(ctx); err == nil {
		t.Fatal("memory of a destroyed container measured")
	}
}
