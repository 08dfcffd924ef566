package standalone

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Web actions follow OpenWhisk's controller (core/controller/.../WebActions.scala,
// docs/webactions.md): GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS /api/v1/web/<namespace>/<package or
// "default">/<action>[.<ext>][/<path>] runs an action annotated web-export on behalf of the
// namespace's owner, without credentials unless require-whisk-auth says so; the request becomes
// the __ow_* parameters plus the query and body; the result, projected by the extension, becomes
// the HTTP response. Every error answer is pretty-printed JSON, as OpenWhisk's web route prints them.

// webPrefix is where web actions are served.
const webPrefix = "/api/v1/web/"

// Parameters a web action receives about its request (WebApiDirectives); a request may not set them.
const (
	owMethod  = "__ow_method"
	owHeaders = "__ow_headers"
	owPath    = "__ow_path"
	owUser    = "__ow_user"
	owQuery   = "__ow_query"
	owBody    = "__ow_body"
)

var owReserved = []string{owMethod, owHeaders, owPath, owUser, owQuery, owBody}

// webExtensions are the extensions in the order OpenWhisk tries them; a name with none is .http.
var webExtensions = []string{".http", ".json", ".html", ".svg", ".text"}

var webMethods = map[string]bool{
	http.MethodGet: true, http.MethodPost: true, http.MethodPut: true, http.MethodPatch: true,
	http.MethodDelete: true, http.MethodHead: true, http.MethodOptions: true,
}

const (
	corsWebMethods = "OPTIONS, GET, DELETE, POST, PUT, HEAD, PATCH"
	corsWebHeaders = "Authorization, Origin, X-Requested-With, Content-Type, Accept, User-Agent"
)

// webRequest is a parsed web action URL.
type webRequest struct {
	namespace, pkg, name, ext string
	path                      string // the unmatched rest of the path: "", "/" or "/more/segments"
}

// parseWebPath splits the path after /api/v1/web/; ok is false when it names no action.
func parseWebPath(escaped string) (webRequest, bool) {
	parts := strings.SplitN(strings.TrimPrefix(escaped, webPrefix), "/", 4)
	if len(parts) < 3 {
		return webRequest{}, false
	}
	var seg [3]string
	for i := range seg {
		v, err := url.PathUnescape(parts[i])
		if err != nil || !entityNameRE.MatchString(v) {
			return webRequest{}, false
		}
		seg[i] = v
	}
	req := webRequest{namespace: seg[0], pkg: seg[1], name: seg[2], ext: ".http"}
	if req.pkg == "default" {
		req.pkg = ""
	}
	for _, ext := range webExtensions {
		if strings.HasSuffix(req.name, ext) {
			req.name, req.ext = strings.TrimSuffix(req.name, ext), ext
			break
		}
	}
	if !entityNameRE.MatchString(req.name) {
		return webRequest{}, false
	}
	if len(parts) == 4 {
		req.path = "/" + parts[3]
	}
	return req, true
}

// prettyJSON renders JSON as OpenWhisk's web route prints it (spray-json's PrettyPrinter: objects
// one member a line indented by two, arrays on one line with ", "), keeping the members' order.
func prettyJSON(raw []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var buf bytes.Buffer
	if err := prettyValue(dec, &buf, 0); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func prettyValue(dec *json.Decoder, buf *bytes.Buffer, indent int) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			buf.WriteString("{\n")
			for first := true; dec.More(); first = false {
				if !first {
					buf.WriteString(",\n")
				}
				key, err := dec.Token()
				if err != nil {
					return err
				}
				buf.WriteString(strings.Repeat(" ", indent+2))
				writeJSONString(buf, key.(string))
				buf.WriteString(": ")
				if err := prettyValue(dec, buf, indent+2); err != nil {
					return err
				}
			}
			buf.WriteByte('\n')
			buf.WriteString(strings.Repeat(" ", indent))
			buf.WriteByte('}')
		case '[':
			buf.WriteByte('[')
			for first := true; dec.More(); first = false {
				if !first {
					buf.WriteString(", ")
				}
				if err := prettyValue(dec, buf, indent); err != nil {
					return err
				}
			}
			buf.WriteByte(']')
		}
		_, err := dec.Token() // the closing delimiter
		return err
	case string:
		writeJSONString(buf, t)
	case json.Number:
		buf.WriteString(t.String())
	case bool:
		buf.WriteString(strconv.FormatBool(t))
	case nil:
		buf.WriteString("null")
	}
	return nil
}

// writeJSONString escapes only what JSON requires (quote, backslash, control characters), as
// spray-json does.
func writeJSONString(buf *bytes.Buffer, s string) {
	buf.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"':
			buf.WriteString(`\"`)
		case r == '\\':
			buf.WriteString(`\\`)
		case r == '\b':
			buf.WriteString(`\b`)
		case r == '\f':
			buf.WriteString(`\f`)
		case r == '\n':
			buf.WriteString(`\n`)
		case r == '\r':
			buf.WriteString(`\r`)
		case r == '\t':
			buf.WriteString(`\t`)
		case r < 0x20:
			fmt.Fprintf(buf, `\u%04x`, r)
		default:
			buf.WriteRune(r)
		}
	}
	buf.WriteByte('"')
}

// webError answers a web request with {"error", "code"}, pretty-printed.
func webError(w http.ResponseWriter, r *http.Request, status int, msg string) {
	raw, _ := json.Marshal(errorBody{Error: msg, Code: transID(r)})
	b, _ := prettyJSON(raw)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func (s *Server) identityByNamespace(ns string) (Identity, bool) {
	for _, id := range s.identities {
		if id.Namespace == ns {
			return id, true
		}
	}
	return Identity{}, false
}

// annotationIs says whether annotation key holds exactly the JSON value want (e.g. true).
func annotationIs(list []KeyValue, key, want string) bool {
	v, ok := annotation(list, key)
	return ok && strings.TrimSpace(string(v)) == want
}

func (s *Server) handleWeb(w http.ResponseWriter, r *http.Request) {
	if !webMethods[r.Method] {
		writeError(w, r, http.StatusMethodNotAllowed, fmt.Sprintf(msgMethodNotAllowed, corsWebMethods))
		return
	}
	req, ok := parseWebPath(r.URL.EscapedPath())
	if !ok {
		if r.Method == http.MethodOptions {
			// OpenWhisk's catch-all OPTIONS route answers any path with its CORS headers.
			h := w.Header()
			h.Set("Access-Control-Allow-Origin", "*")
			h.Set("Access-Control-Allow-Methods", "GET, DELETE, POST, PUT, HEAD")
			h.Set("Access-Control-Allow-Headers", corsWebHeaders)
			w.WriteHeader(http.StatusOK)
			return
		}
		writeError(w, r, http.StatusNotFound, msgNoResource)
		return
	}
	owner, ok := s.identityByNamespace(req.namespace)
	if !ok {
		webError(w, r, http.StatusNotFound, msgNotFound)
		return
	}
	a, binding, err := s.resolveAction(owner.Namespace, req.namespace, req.pkg, req.name)
	if err != nil || !annotationIs(a.Annotations, "web-export", "true") {
		var herr *httpError
		if errors.As(err, &herr) {
			webError(w, r, herr.status, herr.msg)
			return
		}
		if err != nil && !errors.Is(err, ErrNotFound) {
			s.log.Error("web action lookup", "err", err)
			webError(w, r, http.StatusInternalServerError, msgInternal)
			return
		}
		webError(w, r, http.StatusNotFound, msgNotFound)
		return
	}
	if r.ContentLength > maxInvokePayload {
		webError(w, r, http.StatusRequestEntityTooLarge, fmt.Sprintf(msgRequestTooLarge, r.ContentLength, maxInvokePayload))
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxInvokePayload+1))
	if err != nil {
		webError(w, r, http.StatusBadRequest, fmt.Sprintf(msgMalformed, err.Error()))
		return
	}
	if len(body) > maxInvokePayload {
		webError(w, r, http.StatusRequestEntityTooLarge, fmt.Sprintf(msgRequestTooLarge, len(body), maxInvokePayload))
		return
	}

	var onBehalfOf *Identity
	if user, pass, ok := r.BasicAuth(); ok {
		if id, found := s.identities[user+":"+pass]; found {
			onBehalfOf = &id
		}
	}
	proceed := true
	if annotationIs(a.Annotations, "web-custom-options", "true") {
		// The action answers OPTIONS itself, authenticated or not.
		proceed = r.Method == http.MethodOptions || webAuthorized(a, r, onBehalfOf)
	} else {
		h := w.Header()
		h.Set("Access-Control-Allow-Origin", "*")
		h.Set("Access-Control-Allow-Methods", corsWebMethods)
		if asked := r.Header.Get("Access-Control-Request-Headers"); asked != "" {
			h.Set("Access-Control-Allow-Headers", asked)
		} else {
			h.Set("Access-Control-Allow-Headers", corsWebHeaders)
		}
		if r.Method == http.MethodOptions {
			w.WriteHeader(http.StatusOK)
			return
		}
		proceed = webAuthorized(a, r, onBehalfOf)
	}
	if !proceed {
		webError(w, r, http.StatusUnauthorized, msgUnauthorized)
		return
	}

	raw := annotationIs(a.Annotations, "raw-http", "true")
	reqBody, herr := webBody(r.Header.Get("Content-Type"), body, raw)
	if herr != nil {
		webError(w, r, herr.status, herr.msg)
		return
	}
	args, herr := webArguments(a, r, req.path, reqBody, raw, onBehalfOf)
	if herr != nil {
		webError(w, r, herr.status, herr.msg)
		return
	}
	t0, _ := r.Context().Value(keyT0).(time.Time)
	inv := &invocation{
		action: a, namespace: owner.Namespace, subject: owner.Subject, apiKey: owner.Key,
		activationID: newID(), transID: transID(r), t0: t0, value: args, binding: binding,
	}
	if a.Exec.Kind != KindSequence {
		inv.value = mergeInput(a, args)
	}
	done, ok := s.startActivation(inv, false)
	if !ok {
		webError(w, r, http.StatusServiceUnavailable, msgUnavailable)
		return
	}
	w.Header().Set("x-openwhisk-activation-id", inv.activationID)
	timer := time.NewTimer(s.cfg.BlockingTimeout)
	defer timer.Stop()
	select {
	case rec := <-done:
		writeWebResult(w, r, req.ext, rec)
	case <-timer.C:
		if err := s.store.SyncAccepted(); err != nil { // the client has the id now
			s.log.Error("accept activation", "activation", inv.activationID, "err", err)
		}
		webError(w, r, http.StatusAccepted, msgResponseNotReady)
	case <-r.Context().Done():
	}
}

// webAuthorized applies require-whisk-auth: absent or false lets anyone in; true needs valid
// OpenWhisk credentials; a string or number must equal the X-Require-Whisk-Auth header.
func webAuthorized(a *Action, r *http.Request, onBehalfOf *Identity) bool {
	v, ok := annotation(a.Annotations, "require-whisk-auth")
	if !ok {
		return true
	}
	t := strings.TrimSpace(string(v))
	switch {
	case t == "true":
		return onBehalfOf != nil
	case t == "false":
		return true
	case strings.HasPrefix(t, `"`):
		var want string
		return json.Unmarshal(v, &want) == nil && r.Header.Get("X-Require-Whisk-Auth") == want
	case len(t) > 0 && (t[0] == '-' || (t[0] >= '0' && t[0] <= '9')):
		return r.Header.Get("X-Require-Whisk-Auth") == t
	}
	return false
}

// mediaType is a parsed content type: "type/subtype" lowercased and whether it has a charset.
type mediaType struct {
	name       string
	hasCharset bool
}

func parseMediaType(v string) (mediaType, bool) {
	name, params, err := mime.ParseMediaType(v)
	if err != nil || !strings.Contains(name, "/") {
		return mediaType{}, false
	}
	_, cs := params["charset"]
	return mediaType{name: name, hasCharset: cs}, true
}

// isJSONFamily: application/json or any +json type (WhiskWebActionsApi.isJsonFamily).
func (m mediaType) isJSONFamily() bool {
	return m.name == "application/json" || strings.HasSuffix(m.name, "+json")
}

// isText says whether a body of this type is text rather than bytes, as Pekko HTTP's media types
// (which OpenWhisk uses) classify them: text/*, the registered textual application types, +json
// and +xml types, and any type given a charset; everything else is binary.
func (m mediaType) isText() bool {
	switch {
	case strings.HasPrefix(m.name, "text/"), m.hasCharset, m.isJSONFamily(), strings.HasSuffix(m.name, "+xml"):
		return true
	}
	switch m.name {
	case "application/javascript", "application/x-www-form-urlencoded", "application/xml", "application/x-javascript":
		return true
	}
	return false
}

// webBody turns the request entity into the action's view of it (extractEntityAndProcessRequest):
// nil when empty; a JSON value for JSON (unless raw); an object of fields for a form (unless raw);
// else a string, base64 for binary types and, for legacy, for application/json.
func webBody(contentType string, body []byte, raw bool) (json.RawMessage, *httpError) {
	if len(body) == 0 && contentType == "" {
		return nil, nil
	}
	mt, ok := parseMediaType(contentType)
	if !ok {
		mt = mediaType{name: "application/octet-stream"}
	}
	switch {
	case mt.isJSONFamily() && !raw:
		if len(bytes.TrimSpace(body)) == 0 {
			return nil, nil
		}
		if !json.Valid(body) {
			return nil, malformed("the request body is not valid JSON")
		}
		return compact(body), nil
	case mt.name == "application/x-www-form-urlencoded" && !raw:
		form, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, malformed(err.Error())
		}
		fields := map[string]string{}
		for k, v := range form {
			fields[k] = v[len(v)-1]
		}
		b, _ := json.Marshal(fields)
		return b, nil
	case !mt.isText() || mt.name == "application/json":
		b, _ := json.Marshal(base64.StdEncoding.EncodeToString(body))
		return b, nil
	}
	b, _ := json.Marshal(string(body))
	return b, nil
}

// webArguments builds the action's input (Context.toActionArgument): the __ow_* context, then the
// query parameters (or __ow_query for raw), then the body's fields (or __ow_body), later ones
// winning; a request setting a reserved or final parameter is refused unless the action is raw.
func webArguments(a *Action, r *http.Request, path string, body json.RawMessage, raw bool, onBehalfOf *Identity) (json.RawMessage, *httpError) {
	var bodyFields map[string]json.RawMessage
	if len(body) > 0 && body[0] == '{' {
		_ = json.Unmarshal(body, &bodyFields)
	}
	query := r.URL.Query()
	if !raw {
		given := func(key string) bool {
			_, inQuery := query[key]
			_, inBody := bodyFields[key]
			return inQuery || inBody
		}
		for _, k := range owReserved {
			if given(k) {
				return nil, badRequest(msgFinalParams)
			}
		}
		if overridesFinal(a, given) {
			return nil, badRequest(msgFinalParams)
		}
	}
	headers := map[string]string{}
	for k, vs := range r.Header {
		if lk := strings.ToLower(k); lk != "content-length" && len(vs) > 0 {
			headers[lk] = vs[len(vs)-1]
		}
	}
	if r.Host != "" {
		headers["host"] = r.Host
	}
	args := map[string]any{
		owMethod:  strings.ToLower(r.Method),
		owHeaders: headers,
		owPath:    path,
	}
	if onBehalfOf != nil {
		args[owUser] = onBehalfOf.Namespace
	}
	if raw {
		args[owQuery] = r.URL.RawQuery
	} else {
		for k, vs := range query {
			args[k] = vs[len(vs)-1]
		}
	}
	switch {
	case bodyFields != nil && !raw:
		for k, v := range bodyFields {
			args[k] = v
		}
	case body != nil:
		args[owBody] = body
	case raw:
		args[owBody] = ""
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(args); err != nil {
		return nil, malformed(err.Error())
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

// writeWebResult answers with an activation's result (completeRequest): the whole result on
// success, its "error" field for an application error, both through the extension's transcoder;
// any other failure is a 400.
func writeWebResult(w http.ResponseWriter, r *http.Request, ext string, rec *Activation) {
	result := rec.Response.Result
	switch rec.Response.StatusCode {
	case StatusSuccess:
	case StatusApplicationError:
		var obj map[string]json.RawMessage
		if json.Unmarshal(result, &obj) != nil || obj["error"] == nil {
			webError(w, r, http.StatusNotFound, msgPropertyNotFound)
			return
		}
		result = obj["error"]
	default:
		webError(w, r, http.StatusBadRequest, msgErrorProcessing)
		return
	}
	result = bytes.TrimSpace(result)
	if len(result) == 0 {
		result = json.RawMessage("{}")
	}
	switch ext {
	case ".json":
		if result[0] != '{' && result[0] != '[' {
			webError(w, r, http.StatusBadRequest, fmt.Sprintf(msgInvalidMedia, "application/json"))
			return
		}
		writePrettyJSON(w, http.StatusOK, "application/json", result)
	case ".html", ".svg":
		field, ctype := "html", "text/html; charset=UTF-8"
		if ext == ".svg" {
			field, ctype = "svg", "image/svg+xml"
		}
		var s string
		if json.Unmarshal(projectField(result, "body", field), &s) != nil {
			webError(w, r, http.StatusBadRequest, fmt.Sprintf(msgInvalidMedia, strings.Split(ctype, ";")[0]))
			return
		}
		writeBody(w, http.StatusOK, ctype, []byte(s))
	case ".text":
		v := result
		if result[0] == '{' {
			v = projectField(result, "body", "text")
			if v == nil {
				webError(w, r, http.StatusNotFound, msgPropertyNotFound)
				return
			}
		}
		writeBody(w, http.StatusOK, "text/plain; charset=UTF-8", textOf(v))
	default:
		writeHTTPResult(w, r, result)
	}
}

// projectField returns the first of fields present in an object result (nil if none; null counts
// as absent only for the fallback), or the result itself when it is not an object.
func projectField(result json.RawMessage, fields ...string) json.RawMessage {
	var obj map[string]json.RawMessage
	if json.Unmarshal(result, &obj) != nil {
		return result
	}
	for _, f := range fields {
		if v, ok := obj[f]; ok {
			return v
		}
	}
	return nil
}

// textOf renders a JSON value as .text does: strings bare, objects and arrays pretty, the rest as
// JSON.
func textOf(v json.RawMessage) []byte {
	v = bytes.TrimSpace(v)
	var s string
	if json.Unmarshal(v, &s) == nil {
		return []byte(s)
	}
	if len(v) > 0 && (v[0] == '{' || v[0] == '[') {
		if b, err := prettyJSON(v); err == nil {
			return b
		}
	}
	return v
}

func writeBody(w http.ResponseWriter, status int, ctype string, body []byte) {
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func writePrettyJSON(w http.ResponseWriter, status int, ctype string, v json.RawMessage) {
	b, err := prettyJSON(v)
	if err != nil {
		b = v
	}
	writeBody(w, status, ctype, b)
}

// writeHTTPResult answers .http (resultAsHttp): the result's headers, statusCode and body. A body
// that is a non-empty string is text, or base64 for a binary content-type (default text/html); any
// other value is JSON (default application/json); no body answers empty (default 204).
func writeHTTPResult(w http.ResponseWriter, r *http.Request, result json.RawMessage) {
	invalid := func() { webError(w, r, http.StatusBadRequest, fmt.Sprintf(msgInvalidMedia, "message/http")) }
	var obj map[string]json.RawMessage
	if result[0] != '{' || json.Unmarshal(result, &obj) != nil {
		invalid()
		return
	}
	var headers [][2]string
	if raw, ok := obj["headers"]; ok {
		var hs map[string]json.RawMessage
		if json.Unmarshal(raw, &hs) != nil || raw[0] != '{' {
			invalid()
			return
		}
		for k, v := range hs {
			values, ok := headerValues(v)
			if !ok {
				invalid()
				return
			}
			for _, hv := range values {
				headers = append(headers, [2]string{k, hv})
			}
		}
	}
	code := 0
	if raw, ok := obj["statusCode"]; ok {
		c, ok := statusCodeOf(raw)
		if !ok {
			invalid()
			return
		}
		code = c
	}
	contentType := ""
	for _, h := range headers {
		if strings.EqualFold(h[0], "Content-Type") {
			contentType = h[1]
		} else {
			w.Header().Add(h[0], h[1])
		}
	}
	orDefault := func(def int) int {
		if code == 0 {
			return def
		}
		return code
	}
	body, hasBody := obj["body"]
	body = bytes.TrimSpace(body)
	var str string
	isString := hasBody && json.Unmarshal(body, &str) == nil
	switch {
	case !hasBody || string(body) == "null" || (isString && str == ""):
		w.WriteHeader(orDefault(http.StatusNoContent))
	case isString:
		mt := mediaType{name: "text/html"}
		if contentType != "" {
			var ok bool
			if mt, ok = parseMediaType(contentType); !ok {
				webError(w, r, http.StatusBadRequest, msgUnknownContentType)
				return
			}
		}
		data := []byte(str)
		if (mt.isJSONFamily() && isBinaryCode(str)) || !mt.isText() {
			decoded, err := base64.StdEncoding.DecodeString(strings.TrimSpace(str))
			if err != nil {
				webError(w, r, http.StatusBadRequest, msgContentTypeMismatch)
				return
			}
			data = decoded
		}
		writeBody(w, orDefault(http.StatusOK), renderContentType(mt, contentType), data)
	default:
		mt := mediaType{name: "application/json"}
		if contentType != "" {
			var ok bool
			if mt, ok = parseMediaType(contentType); !ok {
				webError(w, r, http.StatusBadRequest, msgUnknownContentType)
				return
			}
		}
		if !mt.isJSONFamily() {
			webError(w, r, http.StatusBadRequest, msgContentTypeMismatch)
			return
		}
		writePrettyJSON(w, orDefault(http.StatusOK), mt.name, body)
	}
}

// renderContentType is the Content-Type of a text or binary body: the action's own, with
// charset=UTF-8 added to a text type that has none (application/json has a fixed charset and
// takes none).
func renderContentType(mt mediaType, given string) string {
	if given == "" {
		return "text/html; charset=UTF-8"
	}
	if mt.isText() && !mt.hasCharset && !mt.isJSONFamily() {
		return given + "; charset=UTF-8"
	}
	return given
}

// headerValues are the values of one result header: a string, number or boolean, or an array of
// them for a repeated header.
func headerValues(v json.RawMessage) ([]string, bool) {
	v = bytes.TrimSpace(v)
	if len(v) == 0 {
		return nil, false
	}
	switch v[0] {
	case '"':
		var s string
		return []string{s}, json.Unmarshal(v, &s) == nil
	case '[':
		var items []json.RawMessage
		if json.Unmarshal(v, &items) != nil {
			return nil, false
		}
		var out []string
		for _, it := range items {
			vals, ok := headerValues(it)
			if !ok {
				return nil, false
			}
			out = append(out, vals...)
		}
		return out, true
	case '{', 'n':
		return nil, false
	}
	var s string
	if json.Unmarshal(v, &s) == nil {
		return []string{s}, true
	}
	return []string{string(v)}, true // number or boolean, as written
}

// statusCodeOf reads statusCode: a whole number or a string holding one, 200-999 (1xx would be an
// interim response, which an action cannot send).
func statusCodeOf(raw json.RawMessage) (int, bool) {
	raw = bytes.TrimSpace(raw)
	s := string(raw)
	if len(raw) > 0 && raw[0] == '"' {
		if json.Unmarshal(raw, &s) != nil {
			return 0, false
		}
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, false
	}
	return n, n >= 200 && n <= 999
}

// startActivation runs inv in the background under the server's lifetime and returns where its
// record arrives; false when the server is closing or cannot accept it durably. With durable the
// acceptance survives a machine crash before this returns (a non-blocking invoke, whose client has
// the id at once; see Store.Accept).
func (s *Server) startActivation(inv *invocation, durable bool) (<-chan *Activation, bool) {
	done := make(chan *Activation, 1)
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, false
	}
	s.acts.Add(1)
	s.mu.Unlock()
	// Accepted means durable: the activation is journalled before the 202 or the blocking wait,
	// so that a crash from here on still leaves it a record.
	pending := pendingRecord(inv, s.inv.backend.Name())
	if err := s.store.Accept(pending, activationListPath(pending), durable); err != nil {
		s.acts.Done()
		s.log.Error("accept activation", "activation", inv.activationID, "err", err)
		return nil, false
	}
	go func() {
		defer s.acts.Done()
		done <- s.execute(s.ctx, inv, nil)
	}()
	return done, true
}
