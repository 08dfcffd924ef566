package standalone

import (
	"context"
	"testing"
	"time"
)

// TestLogBufferSettle: Settle returns when the input ends, when lines stop arriving, or at its
// limit, and lets lines that arrive late reach the next Collect.
func TestLogBufferSettle(t *testing.T) {
	b := NewLogBuffer()
	go func() {
		for i := 0; i < 5; i++ {
			time.Sleep(10 * time.Millisecond)
			b.Add("stdout", "late", time.Now())
		}
		b.CloseInput()
	}()
	b.Settle(context.Background(), 200*time.Millisecond, 5*time.Second)
	got, err := b.Collect(context.Background(), false)
	if err != nil || len(got) != 5 {
		t.Fatalf("after Settle: %d lines, %v; want the 5 late ones", len(got), err)
	}

	quiet := NewLogBuffer()
	start := time.Now()
	quiet.Settle(context.Background(), 20*time.Millisecond, 5*time.Second)
	if d := time.Since(start); d >= 5*time.Second {
		t.Fatalf("Settle on a quiet, open buffer waited for its limit (%v)", d)
	}

	busy := NewLogBuffer()
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(time.Millisecond):
				busy.Add("stderr", "chatty", time.Now())
			}
		}
	}()
	done := make(chan struct{})
	go func() { busy.Settle(context.Background(), time.Second, 50*time.Millisecond); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Settle on a buffer that never goes quiet did not stop at its limit")
	}
}
