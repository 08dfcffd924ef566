package loadgen

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/apache/openwhisk-client-go/whisk"
)

// WebPrefix marks an entry of Plan.Actions (-actions) as a web action to load by its URL rather
// than through the invoke API: "web:<namespace>/<package or default>/<action>[.<ext>]", the path
// after /api/v1/web/ (e.g. web:guest/default/hello.json). Each invocation is one HTTP request to
// <apihost>/api/v1/web/<path> — GET, or POST of Plan.Params as JSON when there are any — answered
// by whatever the action makes of it, as a browser or curl would see it; the row then gets the
// activation record named by the response's x-openwhisk-activation-id header.
const WebPrefix = "web:"

// webActionPath returns the path after /api/v1/web/ of a WebPrefix name.
func webActionPath(name string) (string, bool) {
	p, ok := strings.CutPrefix(name, WebPrefix)
	return strings.TrimPrefix(p, "/"), ok && p != ""
}

// invokeWeb is invoke for a web action: the request by URL, then its record.
func (c *conn) invokeWeb(ctx context.Context, path string, params map[string]any, row *Row, keepResult bool) error {
	url := strings.TrimRight(c.actions.Config.BaseURL.String(), "/") + "/v1/web/" + path
	method, body := http.MethodGet, io.Reader(nil)
	if len(params) > 0 {
		b, err := json.Marshal(params)
		if err != nil {
			row.Status = StatusFailed
			return fmt.Errorf("web %s: encode params: %w", path, err)
		}
		method, body = http.MethodPost, bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, body)
	if err != nil {
		row.Status = StatusFailed
		return fmt.Errorf("web %s: %w", path, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	// Credentials let actions annotated require-whisk-auth: true answer; others ignore them.
	if user, pass, ok := strings.Cut(c.auth, ":"); ok {
		req.SetBasicAuth(user, pass)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		row.Status = StatusFailed
		return fmt.Errorf("web %s: %w", path, err)
	}
	answer, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	resp.Body.Close()
	if err != nil {
		row.Status = StatusFailed
		return fmt.Errorf("web %s: read answer: %w", path, err)
	}
	row.HTTPStatus = resp.StatusCode
	switch resp.StatusCode {
	case http.StatusTooManyRequests:
		row.Status = StatusThrottled
		return fmt.Errorf("web %s: HTTP 429: %s", path, truncate(string(answer), 300))
	case http.StatusServiceUnavailable:
		row.Status = StatusOverloaded
		return fmt.Errorf("web %s: HTTP 503: %s", path, truncate(string(answer), 300))
	}
	id := resp.Header.Get("x-openwhisk-activation-id")
	if id == "" {
		// Refused before any activation: not found, not exported, unauthorized, bad request.
		row.Status = StatusFailed
		return fmt.Errorf("web %s: HTTP %d without an activation: %s", path, resp.StatusCode, truncate(string(answer), 300))
	}
	row.Polled = resp.StatusCode == http.StatusAccepted
	var rec whisk.Activation
	if err := c.pollActivation(ctx, id, &rec); err != nil {
		row.ActivationID = id
		row.Status = StatusFailed
		return fmt.Errorf("web %s: activation %s: %w", path, id, err)
	}
	row.fillFromRecord(&rec, false)
	if keepResult {
		// What the caller got is the HTTP answer, not the action's result object.
		if json.Valid(answer) {
			row.Result = answer
		} else if b, err := json.Marshal(string(answer)); err == nil {
			row.Result = b
		}
	}
	return nil
}
