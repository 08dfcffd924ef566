// Command probe is a native action for the backends' isolation and clean-up tests: it does what a
// hostile or careless action would and reports what it managed.
//
//	{"daemon": true}        start a child in a new session (it leaves the process group) and
//	                        answer its pid; the child sleeps for ten minutes
//	{"allocMB": N}          touch N MiB of memory, then answer
//	{"read": [paths]}       try to read each file; answer what could be read
//	{"glob": [patterns]}    list what each pattern matches (unreadable directories match nothing)
//	{"needle": "s"}         search every /proc/<pid>/cmdline and /proc/<pid>/environ that can be
//	                        read, and this action's own environment, for s
//	{"signal": [pids]}      try kill(pid, 0) on each
//
// Run with the single argument "sleep" it is the daemon's child.
package main

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/wasmwhisk/wasmwhisk/actions/sdk"
)

func probe(_ context.Context, params map[string]any) (any, error) {
	out := map[string]any{"uid": os.Getuid(), "pid": os.Getpid()}
	if wd, err := os.Getwd(); err == nil {
		out["cwd"] = wd
	}
	if d, _ := params["daemon"].(bool); d {
		self, err := os.Executable()
		if err != nil {
			return nil, err
		}
		cmd := exec.Command(self, "sleep")
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
		if err := cmd.Start(); err != nil {
			return nil, err
		}
		out["child"] = cmd.Process.Pid
	}
	if mb, ok := number(params["allocMB"]); ok {
		var keep [][]byte
		for i := 0; i < int(mb); i++ {
			b := make([]byte, 1<<20)
			for j := range b {
				b[j] = byte(j)
			}
			keep = append(keep, b)
		}
		out["allocated"] = len(keep)
	}
	if paths, ok := params["read"].([]any); ok {
		read := map[string]string{}
		for _, p := range paths {
			s, _ := p.(string)
			if _, err := os.ReadFile(s); err == nil {
				read[s] = "read"
			} else {
				read[s] = err.Error()
			}
		}
		out["read"] = read
	}
	if patterns, ok := params["glob"].([]any); ok {
		var matches []string
		for _, p := range patterns {
			s, _ := p.(string)
			m, _ := filepath.Glob(s)
			matches = append(matches, m...)
		}
		out["glob"] = matches
	}
	if needle, _ := params["needle"].(string); needle != "" {
		var found []string
		for _, kv := range os.Environ() {
			if strings.Contains(kv, needle) {
				found = append(found, "own environment")
			}
		}
		entries, _ := os.ReadDir("/proc")
		for _, e := range entries {
			if _, err := strconv.Atoi(e.Name()); err != nil {
				continue
			}
			for _, f := range []string{"cmdline", "environ"} {
				p := "/proc/" + e.Name() + "/" + f
				if data, err := os.ReadFile(p); err == nil && strings.Contains(string(data), needle) {
					found = append(found, p)
				}
			}
		}
		out["found"] = found
	}
	if pids, ok := params["signal"].([]any); ok {
		res := map[string]string{}
		for _, p := range pids {
			n, _ := number(p)
			if err := syscall.Kill(int(n), 0); err != nil {
				res[strconv.Itoa(int(n))] = err.Error()
			} else {
				res[strconv.Itoa(int(n))] = "signalled"
			}
		}
		out["signal"] = res
	}
	return out, nil
}

// number reads a JSON number however the SDK decoded it.
func number(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, true
	case json.Number:
		f, err := n.Float64()
		return f, err == nil
	}
	return 0, false
}

func init() { sdk.Handle(probe) }

func main() {
	if len(os.Args) == 2 && os.Args[1] == "sleep" {
		time.Sleep(10 * time.Minute)
		return
	}
	sdk.Serve()
}
