package docker

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strings"
	"testing"
	"time"
)

// frame encodes one frame of the engine's multiplexed stream.
func frame(stream byte, payload string) []byte {
	h := make([]byte, 8, 8+len(payload))
	h[0] = stream
	binary.BigEndian.PutUint32(h[4:], uint32(len(payload)))
	return append(h, payload...)
}

type logRow struct {
	stream, time, text string
}

func demuxAll(data []byte) ([]logRow, error) {
	var rows []logRow
	err := DemuxLogs(bytes.NewReader(data), func(stream string, t time.Time, text string) {
		rows = append(rows, logRow{stream, t.Format(time.RFC3339Nano), text})
	})
	return rows, err
}

func TestDemuxLogs(t *testing.T) {
	const t1, t2 = "2026-11-25T15:06:33.969829888Z", "2026-11-25T15:06:34.5Z"
	cat := func(frames ...[]byte) []byte { return bytes.Join(frames, nil) }
	tests := []struct {
		name    string
		in      []byte
		want    []logRow
		wantErr string
	}{
		{name: "empty stream", in: nil},
		{
			name: "both streams in order",
			in:   cat(frame(1, t1+" hello out\n"), frame(2, t2+" hello err\n")),
			want: []logRow{{"stdout", t1, "hello out"}, {"stderr", t2, "hello err"}},
		},
		{
			name: "line split by the engine is joined with the first part's time",
			in:   cat(frame(1, t1+" part one, "), frame(2, t2+" interleaved\n"), frame(1, t2+" part two\n")),
			want: []logRow{{"stderr", t2, "interleaved"}, {"stdout", t1, "part one, part two"}},
		},
		{
			name: "several lines in one frame, CRLF trimmed, empty line kept",
			in:   cat(frame(1, t1+" a\r\nb\n\n")),
			want: []logRow{{"stdout", t1, "a"}, {"stdout", t1, "b"}, {"stdout", t1, ""}},
		},
		{
			name: "unterminated last line is flushed at EOF",
			in:   cat(frame(2, t1+" no newline")),
			want: []logRow{{"stderr", t1, "no newline"}},
		},
		{
			name: "unicode survives",
			in:   cat(frame(1, t1+" ❄ ☃ ❄\n")),
			want: []logRow{{"stdout", t1, "❄ ☃ ❄"}},
		},
		{
			name:    "stdin stream id is rejected",
			in:      frame(0, t1+" x\n"),
			wantErr: "unknown stream id 0",
		},
		{
			name:    "TTY raw output is rejected",
			in:      []byte("2026-11-25T15:06:33Z plain text from a tty\n"),
			wantErr: "unknown stream id",
		},
		{
			name:    "truncated header",
			in:      []byte{1, 0, 0},
			wantErr: "frame header",
		},
		{
			name:    "truncated payload",
			in:      frame(1, t1+" abc\n")[:12],
			wantErr: "frame payload",
		},
		{
			name:    "oversized frame",
			in:      []byte{1, 0, 0, 0, 0x7f, 0xff, 0xff, 0xff},
			wantErr: "exceeds",
		},
		{
			name:    "non-zero padding",
			in:      []byte{1, 1, 0, 0, 0, 0, 0, 0},
			wantErr: "malformed frame header",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := demuxAll(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Fatalf("got  %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestDemuxLogsWithoutTimestampUsesNow(t *testing.T) {
	before := time.Now().Add(-time.Second)
	var got time.Time
	err := DemuxLogs(bytes.NewReader(frame(1, "no-timestamp-here\n")), func(_ string, ts time.Time, text string) {
		got = ts
		if text != "no-timestamp-here" {
			t.Errorf("text = %q", text)
		}
	})
	if err != nil || got.Before(before) {
		t.Fatalf("err=%v time=%v", err, got)
	}
}

func FuzzDemuxLogs(f *testing.F) {
	f.Add(frame(1, "2026-11-25T15:06:33.969829888Z hello\n"))
	f.Add(append(frame(2, "2026-11-25T15:06:33Z a"), frame(2, "2026-11-25T15:06:34Z b\n")...))
	f.Add([]byte{1, 0, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		total := 0
		_ = DemuxLogs(bytes.NewReader(data), func(stream string, _ time.Time, text string) {
			if stream != "stdout" && stream != "stderr" {
				t.Fatalf("stream %q", stream)
			}
			if strings.Contains(text, "\n") {
				t.Fatalf("line holds a newline: %q", text)
			}
			total += len(text)
		})
		if total > len(data) {
			t.Fatalf("emitted %d bytes of text from %d bytes of input", total, len(data))
		}
	})
}
