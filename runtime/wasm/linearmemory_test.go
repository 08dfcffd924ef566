package wasm

import (
	"context"
	"testing"
	"time"
)

func TestLinearMemoryBytes(t *testing.T) {
	eng := sharedEngine(t)
	ctx := context.Background()

	command := newExecutor(t, eng, Config{}, guestModule(t, false))
	if _, ok, err := command.LinearMemoryBytes(ctx); ok || err != nil {
		t.Fatalf("command module: ok %v err %v, want no instance kept", ok, err)
	}

	reactor := newExecutor(t, eng, Config{}, guestModule(t, true))
	before, ok, err := reactor.LinearMemoryBytes(ctx)
	if !ok || err != nil || before <= 0 {
		t.Fatalf("reactor after init: %d, ok %v, err %v", before, ok, err)
	}
	if r := run(t, reactor, activation{value: `{"mode":"alloc","mib":32}`}); r.err != nil {
		t.Fatal(r.err)
	}
	after, ok, err := reactor.LinearMemoryBytes(ctx)
	if !ok || err != nil || after < before+32<<20 {
		t.Fatalf("after allocating 32 MiB: %d bytes (before %d), ok %v, err %v", after, before, ok, err)
	}
	// The instance still serves runs after being measured.
	if r := run(t, reactor, activation{value: `{"mode":"count"}`}); r.err != nil {
		t.Fatal(r.err)
	}

	// While a run holds the instance, the measurement waits, bounded by its context.
	done := make(chan ran, 1)
	go func() { done <- run(t, reactor, activation{value: `{"mode":"sleep","ms":500}`}) }()
	time.Sleep(100 * time.Millisecond)
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	_, _, err = reactor.LinearMemoryBytes(short)
	cancel()
	if err == nil {
		t.Error("measured an instance that a run holds, want the context's error")
	}
	if r := <-done; r.err != nil {
		t.Fatal(r.err)
	}

	fresh := eng.NewExecutor(Config{})
	defer fresh.Close()
	if _, ok, err := fresh.LinearMemoryBytes(ctx); ok || err != nil {
		t.Fatalf("before init: ok %v err %v", ok, err)
	}
}
