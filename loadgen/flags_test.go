package loadgen

import (
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseConcurrency(t *testing.T) {
	tests := []struct {
		in      string
		want    []int
		wantErr string
	}{
		{in: "1..5", want: []int{1, 2, 3, 4, 5}},
		{in: "1,2,4,8", want: []int{1, 2, 4, 8}},
		{in: "4", want: []int{4}},
		{in: " 3 .. 4 ", want: []int{3, 4}},
		{in: "1..3,8", want: []int{1, 2, 3, 8}},
		{in: "2,2,1..2", want: []int{2, 1}},
		{in: "5..5", want: []int{5}},
		{in: "5..1", wantErr: "range 5..1 goes down"},
		{in: "0", wantErr: "level 0 out of range 1..1000"},
		{in: "-1", wantErr: "level -1 out of range"},
		{in: "abc", wantErr: `"abc" is not a whole number`},
		{in: "", wantErr: "empty"},
		{in: "1,,2", wantErr: `"" is not a whole number`},
		{in: "1..", wantErr: `"" is not a whole number`},
		{in: "1...3", wantErr: `".3" is not a whole number`},
		{in: "2.5", wantErr: `"2.5" is not a whole number`},
		{in: "1001", wantErr: "out of range"},
		{in: "0..3", wantErr: "level 0 out of range"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseConcurrency(tt.in)
			checkErr(t, err, tt.wantErr)
			if tt.wantErr == "" && !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func checkErr(t *testing.T, err error, want string) {
	t.Helper()
	if want == "" {
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		return
	}
	if err == nil {
		t.Fatalf("no error, want one containing %q", want)
	}
	var ue *UsageError
	if !errors.As(err, &ue) {
		t.Fatalf("error %v is %T, want *UsageError", err, err)
	}
	if !strings.Contains(err.Error(), want) {
		t.Fatalf("error %q does not contain %q", err, want)
	}
}

func FuzzParseConcurrency(f *testing.F) {
	for _, s := range []string{"1..5", "1,2,4,8", "4", "5..1", "0", "-1", "abc", "1..1000"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		levels, err := ParseConcurrency(s)
		if err != nil {
			return
		}
		seen := map[int]bool{}
		for _, l := range levels {
			if l < 1 || l > maxConcurrency || seen[l] {
				t.Fatalf("%q gave bad or repeated level %d in %v", s, l, levels)
			}
			seen[l] = true
		}
	})
}

func TestParseParams(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "p.json")
	if err := os.WriteFile(good, []byte(`{"n": 3, "name": "x"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte(`[1,2]`), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		in      string
		want    map[string]any
		wantErr string
	}{
		{in: "", want: map[string]any{}},
		{in: `{"a":1}`, want: map[string]any{"a": 1.0}},
		{in: "@" + good, want: map[string]any{"n": 3.0, "name": "x"}},
		{in: "@" + bad, wantErr: "not a JSON object"},
		{in: "@" + filepath.Join(dir, "missing.json"), wantErr: "read"},
		{in: `{"a":`, wantErr: "not a JSON object"},
		{in: `null`, wantErr: "got null"},
		{in: `"str"`, wantErr: "not a JSON object"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseParams(tt.in)
			checkErr(t, err, tt.wantErr)
			if tt.wantErr == "" && !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestParseRate(t *testing.T) {
	tests := []struct {
		in      string
		want    float64
		wantErr string
	}{
		{in: "10/s", want: 10}, {in: "2.5", want: 2.5}, {in: "120/m", want: 2},
		{in: "0/s", wantErr: "positive"}, {in: "-3/s", wantErr: "positive"}, {in: "x/s", wantErr: "positive"},
		{in: "10/h", wantErr: "unit"}, {in: "NaN", wantErr: "positive"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseRate(tt.in)
			checkErr(t, err, tt.wantErr)
			if tt.wantErr == "" && got != tt.want {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestParseActions(t *testing.T) {
	got, err := ParseActions(" a, pkg/b ,")
	if err != nil || !reflect.DeepEqual(got, []string{"a", "pkg/b"}) {
		t.Fatalf("got %v, %v", got, err)
	}
	_, err = ParseActions(" , ")
	checkErr(t, err, "no action given")
	_, err = ParseActions("/guest/a")
	checkErr(t, err, "no leading /")
}

func TestParseRunFlags(t *testing.T) {
	dir := t.TempDir()
	props := filepath.Join(dir, "wskprops")
	if err := os.WriteFile(props, []byte("# comment\nAPIHOST=http://127.0.0.2:3233\nAUTH=u:k\nNAMESPACE=alice\nBROKEN LINE\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	home := filepath.Join(dir, "home")
	if err := os.MkdirAll(home, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(home, ".wskprops"), []byte("APIHOST=http://127.0.0.3:3233\nAUTH=h:k\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	withConfig := func(k string) string {
		return map[string]string{"WSK_CONFIG_FILE": props, "HOME": home}[k]
	}
	homeOnly := func(k string) string { return map[string]string{"HOME": home}[k] }
	nothing := func(string) string { return "" }
	now := time.Date(2026, 11, 25, 15, 4, 5, 0, time.UTC)

	tests := []struct {
		name    string
		args    []string
		env     func(string) string
		check   func(t *testing.T, o *RunOptions)
		wantErr string
	}{
		{
			name: "wskprops from WSK_CONFIG_FILE", args: []string{"-actions", "a,b", "-concurrency", "1..3", "-cold"}, env: withConfig,
			check: func(t *testing.T, o *RunOptions) {
				want := Target{APIHost: "http://127.0.0.2:3233", Auth: "u:k", Namespace: "alice"}
				if o.Target != want {
					t.Errorf("target %+v, want %+v", o.Target, want)
				}
				if !reflect.DeepEqual(o.Plan.Concurrency, []int{1, 2, 3}) || !o.Plan.Cold || o.Plan.Repeat != 1 {
					t.Errorf("plan %+v", o.Plan)
				}
				if o.OutDir != filepath.Join("results", "20261125-150405") {
					t.Errorf("out %q", o.OutDir)
				}
			},
		},
		{
			name: "home wskprops, flags override, double dashes", env: homeOnly,
			args: []string{"--actions", "a", "--apihost", "http://127.0.0.1:9", "--auth", "x:y", "--namespace", "bob", "--insecure", "-out", "o", "-count", "7", "-repeat", "3", "-warmup", "2", "-params", `{"n":1}`},
			check: func(t *testing.T, o *RunOptions) {
				want := Target{APIHost: "http://127.0.0.1:9", Auth: "x:y", Namespace: "bob", Insecure: true}
				if o.Target != want {
					t.Errorf("target %+v, want %+v", o.Target, want)
				}
				p := o.Plan
				if p.Count != 7 || p.Repeat != 3 || p.Warmup != 2 || p.Params["n"] != 1.0 || o.OutDir != "o" {
					t.Errorf("plan %+v out %q", p, o.OutDir)
				}
			},
		},
		{
			name: "standalone defaults", env: nothing, args: []string{"-actions", "a", "-standalone"},
			check: func(t *testing.T, o *RunOptions) {
				if o.Target.APIHost != StandaloneAPIHost || o.Target.Auth != GuestAuth || o.Target.Namespace != "_" || !o.Standalone {
					t.Errorf("target %+v", o.Target)
				}
			},
		},
		{
			name: "open loop", env: withConfig, args: []string{"-actions", "a", "-rate", "20/s", "-duration", "3s", "-concurrency", "4"},
			check: func(t *testing.T, o *RunOptions) {
				if o.Plan.Rate != 20 || o.Plan.Duration != 3*time.Second {
					t.Errorf("plan %+v", o.Plan)
				}
			},
		},
		{name: "no actions", env: withConfig, args: []string{}, wantErr: "no action given"},
		{name: "bad concurrency range", env: withConfig, args: []string{"-actions", "a", "-concurrency", "5..1"}, wantErr: "goes down"},
		{name: "zero concurrency", env: withConfig, args: []string{"-actions", "a", "-concurrency", "0"}, wantErr: "out of range"},
		{name: "negative concurrency", env: withConfig, args: []string{"-actions", "a", "-concurrency", "-1"}, wantErr: "out of range"},
		{name: "word concurrency", env: withConfig, args: []string{"-actions", "a", "-concurrency", "abc"}, wantErr: "not a whole number"},
		{name: "negative count", env: withConfig, args: []string{"-actions", "a", "-count", "-1"}, wantErr: "-count -1"},
		{name: "non-numeric count", env: withConfig, args: []string{"-actions", "a", "-count", "x"}, wantErr: "invalid value"},
		{name: "zero repeat", env: withConfig, args: []string{"-actions", "a", "-repeat", "0"}, wantErr: "-repeat 0"},
		{name: "warmup with cold", env: withConfig, args: []string{"-actions", "a", "-cold", "-warmup", "3"}, wantErr: "nothing to warm"},
		{name: "bad rate", env: withConfig, args: []string{"-actions", "a", "-rate", "fast"}, wantErr: "-rate"},
		{name: "rate with count", env: withConfig, args: []string{"-actions", "a", "-rate", "5/s", "-count", "3"}, wantErr: "-count with -rate"},
		{name: "rate with zero duration", env: withConfig, args: []string{"-actions", "a", "-rate", "5/s", "-duration", "0s"}, wantErr: "-duration"},
		{name: "bad params", env: withConfig, args: []string{"-actions", "a", "-params", "{"}, wantErr: "-params"},
		{name: "no host anywhere", env: nothing, args: []string{"-actions", "a"}, wantErr: "no API host"},
		{name: "no key", env: nothing, args: []string{"-actions", "a", "-apihost", "http://127.0.0.1:1"}, wantErr: "no API key"},
		{name: "unknown flag", env: withConfig, args: []string{"-actions", "a", "-bogus"}, wantErr: "flag provided but not defined"},
		{name: "stray argument", env: withConfig, args: []string{"-actions", "a", "extra"}, wantErr: "unexpected arguments"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := ParseRunFlags(tt.args, io.Discard, tt.env, now)
			checkErr(t, err, tt.wantErr)
			if tt.check != nil && err == nil {
				tt.check(t, o)
			}
		})
	}
	if _, err := ParseRunFlags([]string{"-h"}, io.Discard, nothing, now); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("-h gave %v, want flag.ErrHelp", err)
	}
}
