package standalone_test

import (
	"net/http"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/wasmwhisk/wasmwhisk/standalone"
)

// TestLoad1000 runs 1000 blocking invocations of hello at concurrency 50 on the wasm host backend
// and checks that exactly 1000 distinct records are retrievable by id.
func TestLoad1000(t *testing.T) {
	srv := startServer(t, newWasmHost(t), nil)
	createAction(t, srv, "hello", map[string]any{"exec": map[string]any{"kind": "wasm:0.1", "code": wasmCode(t, "./actions/hello")}})
	const total, conc = 1000, 50
	ids := make([]string, total)
	statuses := make([]int, total)
	var wg sync.WaitGroup
	next := make(chan int)
	client := &http.Client{Timeout: 2 * time.Minute, Transport: &http.Transport{MaxIdleConnsPerHost: conc}}
	for w := 0; w < conc; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				req, _ := http.NewRequest(http.MethodPost, srv.URL()+"/api/v1/namespaces/_/actions/hello?blocking=true&result=true", nil)
				user, pass, _ := cut(standalone.GuestKey)
				req.SetBasicAuth(user, pass)
				resp, err := client.Do(req)
				if err != nil {
					t.Error(err)
					continue
				}
				resp.Body.Close()
				statuses[i] = resp.StatusCode
				ids[i] = resp.Header.Get("x-openwhisk-activation-id")
			}
		}()
	}
	began := time.Now()
	for i := 0; i < total; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
	t.Logf("%d invocations at c=%d in %v", total, conc, time.Since(began))
	seen := map[string]bool{}
	for i, id := range ids {
		if statuses[i] != 200 || len(id) != 32 {
			t.Fatalf("invocation %d: status %d id %q", i, statuses[i], id)
		}
		if seen[id] {
			t.Fatalf("duplicate activation id %s", id)
		}
		seen[id] = true
	}
	for _, id := range ids {
		status, _, body := call(t, http.MethodGet, srv.URL()+"/api/v1/namespaces/_/activations/"+id, nil, standalone.GuestKey)
		if status != 200 {
			t.Fatalf("get %s: %d %s", id, status, body)
		}
		if rec := decodeRecord(t, body); rec.ActivationID != id || rec.Response.Status != "success" {
			t.Fatalf("record %s: %+v", id, rec)
		}
	}
	// The list sees all of them too, newest first.
	var listed []string
	for skip := 0; ; skip += 200 {
		status, _, body := call(t, http.MethodGet, srv.URL()+"/api/v1/namespaces/_/activations?limit=200&skip="+itoa(skip), nil, standalone.GuestKey)
		if status != 200 {
			t.Fatalf("list: %d", status)
		}
		page := decodeList(t, body)
		if len(page) == 0 {
			break
		}
		for _, r := range page {
			listed = append(listed, r.ActivationID)
		}
	}
	sort.Strings(listed)
	if len(listed) != total {
		t.Fatalf("listed %d records, want %d", len(listed), total)
	}
	for i := 1; i < len(listed); i++ {
		if listed[i] == listed[i-1] {
			t.Fatalf("duplicate in list: %s", listed[i])
		}
	}
	t.Logf("pool: %+v", srv.PoolStats())
}
