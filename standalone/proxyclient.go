package standalone

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"syscall"
	"time"
)

// ProxyClient calls an action proxy's /init and /run over HTTP the way OpenWhisk's invoker does
// (SPEC §1.1): /init is retried while the connection is refused, /run never; a response without
// Content-Length or without an entity counts as no response. Backends that reach their proxy over
// TCP (process, docker) embed it.
type ProxyClient struct {
	// BaseURL is "http://host:port" of the proxy.
	BaseURL string
	// HTTP is the client to use; nil means a client with keep-alive sized by NewProxyClient.
	HTTP *http.Client
	// RetryInterval is the pause between /init connection attempts (default 10 ms).
	RetryInterval time.Duration
}

// NewProxyClient returns a client for the proxy at baseURL that keeps up to conns idle connections
// (one per concurrent activation). Keep-alive connections survive pause/resume of the container.
func NewProxyClient(baseURL string, conns int) *ProxyClient {
	if conns < 1 {
		conns = 1
	}
	tr := &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		MaxIdleConns:        conns,
		MaxIdleConnsPerHost: conns,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}
	return &ProxyClient{BaseURL: baseURL, HTTP: &http.Client{Transport: tr}}
}

// Init posts body to /init, retrying refused connections until ctx is done.
func (p *ProxyClient) Init(ctx context.Context, body []byte) (int, []byte, error) {
	interval := p.RetryInterval
	if interval <= 0 {
		interval = 10 * time.Millisecond
	}
	for {
		status, resp, err := p.post(ctx, "/init", body)
		if err == nil || !isConnRefused(err) || ctx.Err() != nil {
			return status, resp, err
		}
		select {
		case <-ctx.Done():
			return 0, nil, fmt.Errorf("init: %w", ctx.Err())
		case <-time.After(interval):
		}
	}
}

// Run posts body to /run once.
func (p *ProxyClient) Run(ctx context.Context, body []byte) (int, []byte, error) {
	return p.post(ctx, "/run", body)
}

// CloseIdle drops kept-alive connections (before destroying the container).
func (p *ProxyClient) CloseIdle() {
	if p.HTTP != nil {
		p.HTTP.CloseIdleConnections()
	}
}

func (p *ProxyClient) post(ctx context.Context, path string, body []byte) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.BaseURL+path, bytes.NewReader(body))
	if err != nil {
		return 0, nil, fmt.Errorf("%s: %w", path, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	c := p.HTTP
	if c == nil {
		c = http.DefaultClient
	}
	resp, err := c.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return 0, nil, fmt.Errorf("%s: %w", path, ctx.Err())
		}
		if isConnRefused(err) {
			return 0, nil, fmt.Errorf("%s: %w", path, err)
		}
		return 0, nil, fmt.Errorf("%s: %w: %v", path, ErrNoResponse, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		if ctx.Err() != nil {
			return 0, nil, fmt.Errorf("%s: read body: %w", path, ctx.Err())
		}
		return 0, nil, fmt.Errorf("%s: read body: %w: %v", path, ErrNoResponse, err)
	}
	if resp.ContentLength < 0 || resp.StatusCode == http.StatusNoContent {
		return resp.StatusCode, data, fmt.Errorf("%s: %w: response without Content-Length", path, ErrNoResponse)
	}
	return resp.StatusCode, data, nil
}

func isConnRefused(err error) bool {
	return errors.Is(err, syscall.ECONNREFUSED)
}
