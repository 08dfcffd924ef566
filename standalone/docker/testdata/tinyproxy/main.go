// Command tinyproxy is a minimal action proxy for the docker backend's tests: it answers /init and
// /run like an OpenWhisk runtime (sentinels, Content-Length) and can be told to misbehave (exit
// mid-run, allocate memory past the container limit, never listen), so that the backend's
// handling of real container failures can be exercised.
package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/wasmwhisk/wasmwhisk/runtime"
)

func reply(w http.ResponseWriter, status int, v any) {
	data, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(data)))
	w.WriteHeader(status)
	_, _ = w.Write(data)
}

func main() {
	fmt.Println("tinyproxy starting")
	if d, err := time.ParseDuration(os.Getenv("TINY_LISTEN_DELAY")); err == nil {
		time.Sleep(d)
	}
	if os.Getenv("TINY_EXIT_AT_START") != "" {
		fmt.Fprintln(os.Stderr, "tinyproxy: exiting at start")
		os.Exit(4)
	}
	if os.Getenv("TINY_NO_LISTEN") != "" {
		for {
			time.Sleep(time.Hour)
		}
	}
	var hog [][]byte
	http.HandleFunc("/init", func(w http.ResponseWriter, r *http.Request) {
		reply(w, 200, map[string]bool{"ok": true})
	})
	http.HandleFunc("/run", func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Value struct {
				Msg     string `json:"msg"`
				AllocMB int    `json:"allocMB"`
				Exit    bool   `json:"exit"`
				Lines   int    `json:"lines"`
				Long    int    `json:"long"`
			} `json:"value"`
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			reply(w, 400, map[string]string{"error": err.Error()})
			return
		}
		v := body.Value
		if v.Exit {
			os.Exit(3)
		}
		for i := 0; i < v.AllocMB; i++ {
			b := make([]byte, 1<<20)
			for j := range b {
				b[j] = byte(j)
			}
			hog = append(hog, b)
		}
		for i := 0; i < v.Lines; i++ {
			fmt.Printf("line %d of %s\n", i, v.Msg)
		}
		if v.Long > 0 {
			b := make([]byte, v.Long)
			for i := range b {
				b[i] = 'x'
			}
			fmt.Println(string(b))
		}
		fmt.Println("stdout: " + v.Msg)
		fmt.Fprintln(os.Stderr, "stderr: "+v.Msg)
		fmt.Println(runtime.Sentinel)
		fmt.Fprintln(os.Stderr, runtime.Sentinel)
		reply(w, 200, map[string]string{"msg": v.Msg, "api_host": os.Getenv("__OW_API_HOST")})
	})
	if err := http.ListenAndServe(":8080", nil); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
