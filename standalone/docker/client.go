// Package docker runs OpenWhisk action containers on a local Docker engine. It holds a small
// client for the Docker Engine API over the unix socket (only the calls the invoker needs:
// create, start, inspect, pause, unpause, kill, remove, logs, list, build) and a
// standalone.Backend built on it. Nothing else in the project speaks to the Docker socket.
//
// The official Docker Go client is not used on purpose: it pulls in a large dependency tree for
// the dozen calls needed here, and the API subset is small and stable (version 1.41, served by
// every engine from 20.10 on).
package docker

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"
)

// APIVersion is the Engine API version the client prefers; engines from 20.10 on serve it.
// Negotiate moves to another version when the engine does not serve this one.
const APIVersion = "1.41"

// DefaultSocket is where the Docker engine listens by default.
const DefaultSocket = "/var/run/docker.sock"

// Client is a minimal Docker Engine API client over a unix socket. It is safe for concurrent use.
type Client struct {
	http *http.Client
	mu   sync.RWMutex
	base string // "http://docker/v1.41"
}

// NewClient returns a client for the engine at socketPath; "" means $DOCKER_HOST when it is a
// unix:// address, else DefaultSocket.
func NewClient(socketPath string) *Client {
	if socketPath == "" {
		socketPath = DefaultSocket
		if h := os.Getenv("DOCKER_HOST"); strings.HasPrefix(h, "unix://") {
			socketPath = strings.TrimPrefix(h, "unix://")
		}
	}
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", socketPath)
		},
		MaxIdleConns:        16,
		MaxIdleConnsPerHost: 16,
		IdleConnTimeout:     30 * time.Second,
		DisableCompression:  true,
	}
	return &Client{http: &http.Client{Transport: tr}, base: "http://docker/v" + APIVersion}
}

// Close releases idle connections to the engine.
func (c *Client) Close() {
	c.http.CloseIdleConnections()
}

// APIError is a non-2xx answer of the engine.
type APIError struct {
	// Op names the call, e.g. "create container".
	Op string
	// Status is the HTTP status code.
	Status int
	// Message is the engine's "message" field (or the raw body).
	Message string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("docker: %s: %d %s", e.Op, e.Status, e.Message)
}

// IsNotFound reports whether err is an engine 404 (no such container or image).
func IsNotFound(err error) bool {
	var ae *APIError
	return errors.As(err, &ae) && ae.Status == http.StatusNotFound
}

// IsConflict reports whether err is an engine 409 (name in use, already paused, ...).
func IsConflict(err error) bool {
	var ae *APIError
	return errors.As(err, &ae) && ae.Status == http.StatusConflict
}

// do sends one request and returns the response when its status is 2xx; otherwise it reads the
// body into an *APIError.
func (c *Client) do(ctx context.Context, op, method, path string, query url.Values, body io.Reader, contentType string) (*http.Response, error) {
	c.mu.RLock()
	u := c.base + path
	c.mu.RUnlock()
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, fmt.Errorf("docker: %s: %w", op, err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("docker: %s: %w", op, err)
	}
	if resp.StatusCode/100 == 2 {
		return resp, nil
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var m struct {
		Message string `json:"message"`
	}
	msg := strings.TrimSpace(string(data))
	if json.Unmarshal(data, &m) == nil && m.Message != "" {
		msg = m.Message
	}
	return nil, &APIError{Op: op, Status: resp.StatusCode, Message: msg}
}

// call sends a JSON body (nil for none) and decodes a JSON answer into out (nil to discard).
func (c *Client) call(ctx context.Context, op, method, path string, query url.Values, in, out any) error {
	var body io.Reader
	ct := ""
	if in != nil {
		data, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("docker: %s: encode: %w", op, err)
		}
		body, ct = bytes.NewReader(data), "application/json"
	}
	resp, err := c.do(ctx, op, method, path, query, body, ct)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("docker: %s: decode answer: %w", op, err)
	}
	return nil
}

// Ping checks that the engine answers.
func (c *Client) Ping(ctx context.Context) error {
	return c.call(ctx, "ping", http.MethodGet, "/_ping", nil, nil, nil)
}

// Negotiate asks the engine which API versions it serves (GET /version, unversioned) and makes
// the client use APIVersion when it can, else the closest version the engine accepts. It returns
// the version chosen.
func (c *Client) Negotiate(ctx context.Context) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://docker/version", nil)
	if err != nil {
		return "", fmt.Errorf("docker: version: %w", err)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return "", fmt.Errorf("docker: version: %w", err)
	}
	defer resp.Body.Close()
	var v struct {
		APIVersion    string `json:"ApiVersion"`
		MinAPIVersion string `json:"MinAPIVersion"`
	}
	if resp.StatusCode != http.StatusOK {
		return "", &APIError{Op: "version", Status: resp.StatusCode, Message: resp.Status}
	}
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		return "", fmt.Errorf("docker: version: %w", err)
	}
	chosen := chooseAPIVersion(APIVersion, v.MinAPIVersion, v.APIVersion)
	c.mu.Lock()
	c.base = "http://docker/v" + chosen
	c.mu.Unlock()
	return chosen, nil
}

// chooseAPIVersion picks want if the engine serves [min, max], else the bound nearest to it.
// Empty or unparsable bounds are ignored.
func chooseAPIVersion(want, min, max string) string {
	if max != "" && versionLess(max, want) {
		return max
	}
	if min != "" && versionLess(want, min) {
		return min
	}
	return want
}

// versionLess compares "major.minor" API versions numerically; unparsable versions compare
// as equal.
func versionLess(a, b string) bool {
	var am, an, bm, bn int
	if _, err := fmt.Sscanf(a, "%d.%d", &am, &an); err != nil {
		return false
	}
	if _, err := fmt.Sscanf(b, "%d.%d", &bm, &bn); err != nil {
		return false
	}
	return am < bm || am == bm && an < bn
}

// ContainerConfig is what CreateContainer needs to know; zero values mean the engine's default.
type ContainerConfig struct {
	// Image is the image reference to run.
	Image string
	// Cmd overrides the image's CMD (the arguments of its ENTRYPOINT).
	Cmd []string
	// Env is the container environment.
	Env map[string]string
	// Labels tag the container, e.g. for cleanup by ListContainers.
	Labels map[string]string
	// MemoryBytes is the memory limit; swap is set to the same value, so the container gets no
	// swap (as OpenWhisk's invoker does).
	MemoryBytes int64
	// CPUShares is the relative CPU weight (0: engine default).
	CPUShares int64
	// NetworkMode is the network to attach to ("" means the default bridge).
	NetworkMode string
	// User overrides the image's USER.
	User string
	// Binds mounts volumes or host paths, "name-or-path:/container/path[:ro]".
	Binds []string
}

type createBody struct {
	Image      string            `json:"Image"`
	Cmd        []string          `json:"Cmd,omitempty"`
	Env        []string          `json:"Env,omitempty"`
	Labels     map[string]string `json:"Labels,omitempty"`
	User       string            `json:"User,omitempty"`
	HostConfig hostConfig        `json:"HostConfig"`
}

type hostConfig struct {
	Binds       []string `json:"Binds,omitempty"`
	Memory      int64    `json:"Memory,omitempty"`
	MemorySwap  int64    `json:"MemorySwap,omitempty"`
	CPUShares   int64    `json:"CpuShares,omitempty"`
	NetworkMode string   `json:"NetworkMode,omitempty"`
	LogConfig   struct {
		Type string `json:"Type"`
	} `json:"LogConfig"`
}

// CreateContainer creates (does not start) a container named name ("" lets the engine choose)
// and returns its id. The log driver is json-file, so that Logs can read the output back.
func (c *Client) CreateContainer(ctx context.Context, name string, cfg ContainerConfig) (string, error) {
	b := createBody{Image: cfg.Image, Cmd: cfg.Cmd, Labels: cfg.Labels, User: cfg.User}
	for k, v := range cfg.Env {
		b.Env = append(b.Env, k+"="+v)
	}
	b.HostConfig.Binds = cfg.Binds
	b.HostConfig.Memory = cfg.MemoryBytes
	b.HostConfig.MemorySwap = cfg.MemoryBytes
	b.HostConfig.CPUShares = cfg.CPUShares
	b.HostConfig.NetworkMode = cfg.NetworkMode
	b.HostConfig.LogConfig.Type = "json-file"
	q := url.Values{}
	if name != "" {
		q.Set("name", name)
	}
	var out struct {
		ID string `json:"Id"`
	}
	if err := c.call(ctx, "create container", http.MethodPost, "/containers/create", q, b, &out); err != nil {
		return "", err
	}
	return out.ID, nil
}

// StartContainer starts a created container.
func (c *Client) StartContainer(ctx context.Context, id string) error {
	return c.call(ctx, "start container", http.MethodPost, "/containers/"+url.PathEscape(id)+"/start", nil, nil, nil)
}

// ContainerState is the part of a container's state the invoker looks at.
type ContainerState struct {
	// Status is "created", "running", "paused", "restarting", "removing", "exited" or "dead".
	Status    string `json:"Status"`
	Running   bool   `json:"Running"`
	Paused    bool   `json:"Paused"`
	OOMKilled bool   `json:"OOMKilled"`
	ExitCode  int    `json:"ExitCode"`
	Error     string `json:"Error"`
}

// ContainerInfo is the part of `docker inspect` the invoker needs.
type ContainerInfo struct {
	ID    string            `json:"Id"`
	Name  string            `json:"Name"`
	State ContainerState    `json:"State"`
	Image string            `json:"Image"`
	Label map[string]string `json:"-"`
	// Mounts are the container's volumes and bind mounts.
	Mounts []Mount `json:"Mounts"`
	// IP is the container's address on its first network (the bridge by default).
	IP string `json:"-"`
}

// Mount is one volume or bind mount of a container.
type Mount struct {
	// Type is "volume" or "bind".
	Type string `json:"Type"`
	// Name is the volume's name (volumes only).
	Name string `json:"Name"`
	// Destination is the path inside the container.
	Destination string `json:"Destination"`
}

// RemoveVolume deletes a named volume (force: even if in use).
func (c *Client) RemoveVolume(ctx context.Context, name string, force bool) error {
	q := url.Values{}
	if force {
		q.Set("force", "1")
	}
	return c.call(ctx, "remove volume", http.MethodDelete, "/volumes/"+url.PathEscape(name), q, nil, nil)
}

// InspectContainer returns the state and address of a container.
func (c *Client) InspectContainer(ctx context.Context, id string) (ContainerInfo, error) {
	var raw struct {
		ContainerInfo
		Config struct {
			Labels map[string]string `json:"Labels"`
		} `json:"Config"`
		NetworkSettings struct {
			IPAddress string `json:"IPAddress"`
			Networks  map[string]struct {
				IPAddress string `json:"IPAddress"`
			} `json:"Networks"`
		} `json:"NetworkSettings"`
	}
	if err := c.call(ctx, "inspect container", http.MethodGet, "/containers/"+url.PathEscape(id)+"/json", nil, nil, &raw); err != nil {
		return ContainerInfo{}, err
	}
	info := raw.ContainerInfo
	info.Label = raw.Config.Labels
	info.IP = raw.NetworkSettings.IPAddress
	if info.IP == "" {
		for _, n := range raw.NetworkSettings.Networks {
			if n.IPAddress != "" {
				info.IP = n.IPAddress
				break
			}
		}
	}
	return info, nil
}

// PauseContainer freezes every process of a container.
func (c *Client) PauseContainer(ctx context.Context, id string) error {
	return c.call(ctx, "pause container", http.MethodPost, "/containers/"+url.PathEscape(id)+"/pause", nil, nil, nil)
}

// UnpauseContainer thaws a paused container.
func (c *Client) UnpauseContainer(ctx context.Context, id string) error {
	return c.call(ctx, "unpause container", http.MethodPost, "/containers/"+url.PathEscape(id)+"/unpause", nil, nil, nil)
}

// KillContainer sends signal ("" means SIGKILL) to a running container.
func (c *Client) KillContainer(ctx context.Context, id, signal string) error {
	q := url.Values{}
	if signal != "" {
		q.Set("signal", signal)
	}
	return c.call(ctx, "kill container", http.MethodPost, "/containers/"+url.PathEscape(id)+"/kill", q, nil, nil)
}

// RemoveContainer removes a container; force kills it first when it still runs (also when
// paused). Anonymous volumes go with it.
func (c *Client) RemoveContainer(ctx context.Context, id string, force bool) error {
	q := url.Values{"v": {"1"}}
	if force {
		q.Set("force", "1")
	}
	return c.call(ctx, "remove container", http.MethodDelete, "/containers/"+url.PathEscape(id), q, nil, nil)
}

// ContainerSummary is one row of ListContainers.
type ContainerSummary struct {
	ID     string            `json:"Id"`
	Names  []string          `json:"Names"`
	Image  string            `json:"Image"`
	State  string            `json:"State"`
	Labels map[string]string `json:"Labels"`
}

// ListContainers lists all containers (running or not) carrying every label of labels
// (key=value; an empty value matches any value of the key).
func (c *Client) ListContainers(ctx context.Context, labels map[string]string) ([]ContainerSummary, error) {
	var sel []string
	for k, v := range labels {
		if v == "" {
			sel = append(sel, k)
		} else {
			sel = append(sel, k+"="+v)
		}
	}
	filters, err := json.Marshal(map[string][]string{"label": sel})
	if err != nil {
		return nil, fmt.Errorf("docker: list containers: %w", err)
	}
	q := url.Values{"all": {"1"}}
	if len(sel) > 0 {
		q.Set("filters", string(filters))
	}
	var out []ContainerSummary
	if err := c.call(ctx, "list containers", http.MethodGet, "/containers/json", q, nil, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// Logs opens the container's log stream (stdout and stderr, each line prefixed with its RFC 3339
// timestamp) in the engine's multiplexed format; read it with DemuxLogs. With follow the stream
// stays open until the container stops or ctx is done.
func (c *Client) Logs(ctx context.Context, id string, follow bool) (io.ReadCloser, error) {
	q := url.Values{"stdout": {"1"}, "stderr": {"1"}, "timestamps": {"1"}}
	if follow {
		q.Set("follow", "1")
	}
	resp, err := c.do(ctx, "container logs", http.MethodGet, "/containers/"+url.PathEscape(id)+"/logs", q, nil, "")
	if err != nil {
		return nil, err
	}
	return resp.Body, nil
}

// ImageExists reports whether ref is present in the engine's image store.
func (c *Client) ImageExists(ctx context.Context, ref string) (bool, error) {
	err := c.call(ctx, "inspect image", http.MethodGet, "/images/"+ref+"/json", nil, nil, nil)
	if IsNotFound(err) {
		return false, nil
	}
	return err == nil, err
}

// BuildImage builds an image tagged tag from a tar build context holding a Dockerfile at its root
// (the classic builder; no registry is contacted when the Dockerfile is FROM scratch). It returns
// the builder's output, and an error carrying the builder's message when the build fails.
func (c *Client) BuildImage(ctx context.Context, tag string, buildContext io.Reader) (string, error) {
	q := url.Values{"t": {tag}, "rm": {"1"}, "forcerm": {"1"}}
	resp, err := c.do(ctx, "build image", http.MethodPost, "/build", q, buildContext, "application/x-tar")
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var log strings.Builder
	dec := json.NewDecoder(resp.Body)
	for {
		var m struct {
			Stream      string `json:"stream"`
			Error       string `json:"error"`
			ErrorDetail struct {
				Message string `json:"message"`
			} `json:"errorDetail"`
		}
		if err := dec.Decode(&m); err == io.EOF {
			return log.String(), nil
		} else if err != nil {
			return log.String(), fmt.Errorf("docker: build image %s: read progress: %w", tag, err)
		}
		log.WriteString(m.Stream)
		if m.Error != "" || m.ErrorDetail.Message != "" {
			msg := m.ErrorDetail.Message
			if msg == "" {
				msg = m.Error
			}
			return log.String(), fmt.Errorf("docker: build image %s: %s", tag, msg)
		}
	}
}
