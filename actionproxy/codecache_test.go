package actionproxy

import (
	"bytes"
	"encoding/base64"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// bigCode returns random bytes whose base64 is at least MinCachedCode long, and that base64.
func bigCode(seed uint64) ([]byte, []byte) {
	data := make([]byte, MinCachedCode*3/4+3)
	r := rand.New(rand.NewPCG(seed, seed))
	for i := range data {
		data[i] = byte(r.Uint32())
	}
	return data, []byte(base64.StdEncoding.EncodeToString(data))
}

func (c *CodeCache) entries() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Len()
}

func TestCodeCache(t *testing.T) {
	dataA, textA := bigCode(1)
	dataB, textB := bigCode(2)
	if len(textA) != len(textB) {
		t.Fatal("the two codes must have the same length")
	}
	entrySize := int64(len(textA) + len(dataA))
	short := []byte(base64.StdEncoding.EncodeToString([]byte("short code")))
	bad := bytes.Repeat([]byte("%"), MinCachedCode)

	c := NewCodeCache(entrySize) // room for exactly one entry
	first, err := c.decode(bytes.Clone(textA))
	if err != nil || !bytes.Equal(first, dataA) {
		t.Fatalf("first decode: %v, equal %v", err, bytes.Equal(first, dataA))
	}
	again, err := c.decode(bytes.Clone(textA))
	if err != nil || &again[0] != &first[0] {
		t.Fatalf("the same text again was decoded anew (err %v)", err)
	}
	// The same length and hash bucket or not, other text is never taken for it.
	other, err := c.decode(bytes.Clone(textB))
	if err != nil || !bytes.Equal(other, dataB) {
		t.Fatalf("other text: %v, equal %v", err, bytes.Equal(other, dataB))
	}
	if n := c.entries(); n != 1 {
		t.Fatalf("%d entries in a cache with room for one", n)
	}
	if fresh, _ := c.decode(bytes.Clone(textA)); &fresh[0] == &first[0] || !bytes.Equal(fresh, dataA) {
		t.Fatal("the evicted entry was still served, or the text decoded wrong")
	}
	for _, in := range [][]byte{short, bad} {
		before := c.entries()
		got, err := c.decode(in)
		if in[0] == '%' {
			if err == nil {
				t.Fatal("invalid base64 decoded")
			}
		} else if err != nil || string(got) != "short code" {
			t.Fatalf("short code: %q %v", got, err)
		}
		if c.entries() != before {
			t.Fatalf("%.10q... was cached", in)
		}
	}
	small := NewCodeCache(entrySize - 1)
	if _, err := small.decode(textA); err != nil || small.entries() != 0 {
		t.Fatalf("an entry over the whole budget was kept (err %v)", err)
	}
	var none *CodeCache
	if got, err := none.decode(textA); err != nil || !bytes.Equal(got, dataA) {
		t.Fatalf("nil cache: %v", err)
	}
}

// TestCodeCacheProxies: proxies sharing a cache hand their executors the right code, whichever of
// them decoded it first, also when they /init at once.
func TestCodeCacheProxies(t *testing.T) {
	cache := NewCodeCache(64 << 20)
	codes := [][2][]byte{}
	for seed := uint64(10); seed < 13; seed++ {
		data, text := bigCode(seed)
		codes = append(codes, [2][]byte{data, text})
	}
	var wg sync.WaitGroup
	for i := 0; i < 12; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			code := codes[i%len(codes)]
			rec := &recorder{}
			p := New(Config{Executor: rec, Stdout: io.Discard, Stderr: io.Discard, Environ: []string{},
				Setenv: func(string, string) error { return nil }, CodeCache: cache})
			body := `{"value":{"name":"a","binary":true,"code":"` + string(code[1]) + `"}}`
			w := httptest.NewRecorder()
			p.Handler().ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/init", strings.NewReader(body)))
			if w.Code != http.StatusOK || len(rec.inits) != 1 {
				t.Errorf("init %d: %d %s", i, w.Code, w.Body)
				return
			}
			if !bytes.Equal(rec.inits[0].Code, code[0]) {
				t.Errorf("init %d: the executor got other code", i)
			}
		}()
	}
	wg.Wait()
	if n := cache.entries(); n != len(codes) {
		t.Fatalf("%d entries, want %d", n, len(codes))
	}
}
