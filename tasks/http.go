package tasks

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/tidwall/gjson"
	"github.com/wfrun/wfrun/internal/jsonenc"
	"github.com/wfrun/wfrun/runsecrets"
)

// HTTPTask executes Conductor's HTTP system task. The request is read from
// inputParameters.http_request when present, otherwise from the flat
// inputParameters (both Conductor forms):
//
//   - uri, method (required);
//   - headers: a map; null values are skipped, strings are sent as they
//     are, other values as their JSON text. They are applied after the
//     Accept and Content-Type defaults, so an explicit header wins;
//   - body: sent as its JSON encoding, except a string body with a
//     non-JSON contentType, which is sent as the raw text;
//   - accept: a string or a list of strings (default application/json);
//   - contentType (default application/json), set when there is a body;
//   - connectionTimeOut, readTimeOut: milliseconds, number or numeric
//     string (default 3000 each, Conductor's Input defaults). As in
//     Conductor, the first bounds connecting and the second every wait for
//     data (sending the request, its response's headers, each part of its
//     body), not the whole call: a task definition's timeoutSeconds or
//     responseTimeoutSeconds bounds that. A client from Services or
//     WithHTTPClient whose Transport is an *http.Transport is used through
//     a clone of it that dials so (its settings kept); with any other
//     RoundTripper the whole call is bounded by the sum of both;
//   - auth: applied by ApplyAuth (or the AuthFunc given with WithHTTPAuth)
//     after the headers, so a credential from a secret wins over a literal;
//   - followRedirects: redirects are followed only to the same scheme, host
//     and port. A list of hosts ("api.example.com" or "host:port") also
//     allows those hosts; a request redirected there carries no body and
//     none of the task's headers (custom headers, auth credentials,
//     X-Amz-Security-Token, cookies) nor any cookie of the client's Jar,
//     and a 307/308 that would resend the body there fails the task.
//     false follows no redirect. A redirect that is not followed is the
//     response (a 3xx fails the task).
//
// The output is {"response":{"statusCode","reasonPhrase","headers","body"}};
// headers map to lists of values; a JSON object or array body is kept as
// JSON, a number as a number, anything else as text (Conductor's rules).
// A non-2xx status fails the task (retryable) with a reason naming the status
// and a short, masked excerpt of the body; the output still carries the
// response.
type HTTPTask struct {
	opts *options
	// sameOrigin is the last client given a same-origin CheckRedirect
	// (sameOriginClient), reused while calls use the same client.
	sameOrigin atomic.Pointer[redirectClient]
	// deadlines bounds a call by connectionTimeOut + readTimeOut when its
	// client's RoundTripper is not an *http.Transport (timedTransports).
	deadlines callDeadlines
}

var (
	_ Task      = (*HTTPTask)(nil)
	_ Validator = (*HTTPTask)(nil)
)

// Default timeouts of Conductor's HTTP task Input, in milliseconds.
const (
	defaultConnectTimeoutMS = 3000
	defaultReadTimeoutMS    = 3000
	reasonExcerptBytes      = 256
)

// httpInput is the request part of the task input, in either form. The
// json.RawMessage fields (and Headers, a JSON object or null) point into the
// task input, which is not copied.
type httpInput struct {
	HTTPRequest       json.RawMessage `json:"http_request"`
	URI               string          `json:"uri"`
	Method            string          `json:"method"`
	Headers           json.RawMessage `json:"headers"`
	Body              json.RawMessage `json:"body"`
	Accept            json.RawMessage `json:"accept"`
	ContentType       string          `json:"contentType"`
	ConnectionTimeOut json.RawMessage `json:"connectionTimeOut"`
	ReadTimeOut       json.RawMessage `json:"readTimeOut"`
	Auth              json.RawMessage `json:"auth"`
	FollowRedirects   json.RawMessage `json:"followRedirects"`

	// HTTP_POLL's fields, read from the same object.
	TerminationCondition json.RawMessage `json:"terminationCondition"`
	EvaluatorType        string          `json:"evaluatorType"`
	PollingInterval      json.RawMessage `json:"pollingInterval"`
	PollingStrategy      string          `json:"pollingStrategy"`
	MaxPollCount         json.RawMessage `json:"maxPollCount"`
}

// httpInputKeys are the JSON keys of httpInput. encoding/json also matches
// them case-insensitively; decodeHTTPInput leaves such keys to it.
var httpInputKeys = [...]string{
	"http_request", "uri", "method", "headers", "body", "accept", "contentType",
	"connectionTimeOut", "readTimeOut", "auth", "followRedirects", "terminationCondition",
	"evaluatorType", "pollingInterval", "pollingStrategy", "maxPollCount",
}

// parseHTTPInput decodes the task input into in and, when http_request is
// given, the nested request. Fields of the nested object take precedence,
// and the HTTP_POLL fields are also looked up at the top level, because
// definitions put them in either place. The caller's in (usually on its
// stack) is filled, so a call allocates no request object.
func parseHTTPInput(raw json.RawMessage, valid bool, in *httpInput) error {
	*in = httpInput{}
	if len(raw) > 0 {
		if err := decodeHTTPInput(raw, valid, in); err != nil {
			return fmt.Errorf("input is not a valid HTTP request object: %v", err)
		}
	}
	if rawNull(in.HTTPRequest) {
		return nil
	}
	top := *in
	*in = httpInput{}
	if err := decodeHTTPInput(top.HTTPRequest, valid, in); err != nil {
		return fmt.Errorf("http_request is not a valid HTTP request object: %v", err)
	}
	if rawNull(in.TerminationCondition) {
		in.TerminationCondition = top.TerminationCondition
	}
	if in.EvaluatorType == "" {
		in.EvaluatorType = top.EvaluatorType
	}
	if rawNull(in.PollingInterval) {
		in.PollingInterval = top.PollingInterval
	}
	if in.PollingStrategy == "" {
		in.PollingStrategy = top.PollingStrategy
	}
	if rawNull(in.MaxPollCount) {
		in.MaxPollCount = top.MaxPollCount
	}
	if rawNull(in.Auth) {
		in.Auth = top.Auth
	}
	if rawNull(in.FollowRedirects) {
		in.FollowRedirects = top.FollowRedirects
	}
	return nil
}

// decodeHTTPInput fills in from one request object. The common input — an
// object with exactly spelled keys, string fields without escapes — is read
// in one gjson pass, the raw fields sliced from raw without copying; anything
// else (not an object, a wrong type, an escaped or differently cased key, a
// repeated headers key) is left to encoding/json, so every input decodes, or
// fails, exactly as json.Unmarshal decides.
func decodeHTTPInput(raw []byte, valid bool, in *httpInput) error {
	if decodeHTTPInputFast(raw, valid, in) {
		return nil
	}
	*in = httpInput{}
	if err := exactMembers(raw, "input", "auth", "http_request"); err != nil {
		return err
	}
	var full struct {
		httpInput
		// Shadows httpInput.Headers, so a non-object is rejected as before.
		Headers map[string]any `json:"headers"`
	}
	if err := json.Unmarshal(raw, &full); err != nil {
		return err
	}
	*in = full.httpInput
	in.Headers = nil
	if full.Headers != nil {
		b, err := json.Marshal(full.Headers)
		if err != nil {
			return err
		}
		in.Headers = b
	}
	return nil
}

// decodeHTTPInputFast is decodeHTTPInput's single pass; it reports false
// when the input needs encoding/json. valid says raw is known to be valid
// JSON (Request.InputValid, or a member of such a document): it is then not
// validated again.
func decodeHTTPInputFast(raw []byte, valid bool, in *httpInput) bool {
	doc := bytes.TrimLeft(raw, " \t\r\n")
	if len(doc) == 0 || doc[0] != '{' || !(valid || validJSON(doc)) {
		return false
	}
	ok, seenHeaders := true, false
	gjson.Parse(string(doc)).ForEach(func(k, v gjson.Result) bool {
		if strings.IndexByte(k.Raw, '\\') >= 0 || v.Index < 0 || v.Index+len(v.Raw) > len(doc) {
			ok = false
			return false
		}
		rv := json.RawMessage(doc[v.Index : v.Index+len(v.Raw) : v.Index+len(v.Raw)])
		if string(rv) != v.Raw {
			ok = false // not where gjson said: take the careful path
			return false
		}
		switch k.Str {
		case "http_request":
			in.HTTPRequest = rv
		case "uri":
			ok = setPlainString(&in.URI, v)
		case "method":
			ok = setPlainString(&in.Method, v)
		case "headers":
			if seenHeaders || (v.Type != gjson.Null && !v.IsObject()) {
				ok = false // encoding/json merges repeated maps and rejects non-objects
			}
			seenHeaders = true
			in.Headers = rv
		case "body":
			in.Body = rv
		case "accept":
			in.Accept = rv
		case "contentType":
			ok = setPlainString(&in.ContentType, v)
		case "connectionTimeOut":
			in.ConnectionTimeOut = rv
		case "readTimeOut":
			in.ReadTimeOut = rv
		case "auth":
			in.Auth = rv
		case "followRedirects":
			in.FollowRedirects = rv
		case "terminationCondition":
			in.TerminationCondition = rv
		case "evaluatorType":
			ok = setPlainString(&in.EvaluatorType, v)
		case "pollingInterval":
			in.PollingInterval = rv
		case "pollingStrategy":
			ok = setPlainString(&in.PollingStrategy, v)
		case "maxPollCount":
			in.MaxPollCount = rv
		default:
			for _, f := range httpInputKeys {
				if strings.EqualFold(k.Str, f) {
					ok = false
					break
				}
			}
		}
		return ok
	})
	return ok
}

// setPlainString stores a JSON string without escapes and in valid UTF-8
// (null leaves dst as it is, as encoding/json does); anything else reports
// false.
func setPlainString(dst *string, v gjson.Result) bool {
	switch {
	case v.Type == gjson.Null:
		return true
	case v.Type == gjson.String && strings.IndexByte(v.Raw, '\\') < 0 && utf8.ValidString(v.Str):
		*dst = v.Str
		return true
	}
	return false
}

// Execute performs one HTTP call.
func (t *HTTPTask) Execute(ctx context.Context, req *Request) Result {
	var in httpInput
	if err := parseHTTPInput(req.Input, req.InputValid, &in); err != nil {
		return Result{Status: FailedTerminal, Reason: mask(req.Services, err.Error())}
	}
	out, res := t.call(ctx, req.Services, &in)
	if res.Status == "" {
		res.Status = Completed
	}
	if out != nil {
		// readResponse's output is valid by construction: its members are
		// encoded here and a JSON body is validated before it is kept.
		res.Output, res.OutputValid = out, true
	}
	return res
}

// call performs the request and returns the task output (nil when no
// response arrived) and the outcome without its output.
func (t *HTTPTask) call(ctx context.Context, svc *Services, in *httpInput) (json.RawMessage, Result) {
	// A request without a URI or a method fails as Conductor's HttpTask
	// fails it: FAILED, so the task's retries are tried, with its reasons.
	if in.URI == "" {
		return nil, Result{Status: Failed, Reason: "Missing HTTP URI.  See documentation for HttpTask for required input parameters"}
	}
	if in.Method == "" {
		return nil, Result{Status: Failed, Reason: "No HTTP method specified"}
	}
	if strings.Contains(in.URI, "#") && strings.Count(mask(svc, in.URI), "#") < strings.Count(in.URI, "#") {
		// A '#' inside a secret value: a URL ends there (the rest is a
		// fragment, never sent), so the request would carry a piece of
		// the value that no masker knows — and would be wrong.
		return nil, Result{Status: FailedTerminal, Reason: "uri: a secret value in it holds '#', where a URL is cut: the part after it would not be sent; URL-encode the value (%23)"}
	}
	method := strings.ToUpper(in.Method)
	if !validMethod(method) {
		return nil, Result{Status: FailedTerminal, Reason: mask(svc, fmt.Sprintf("invalid HTTP method %q", in.Method))}
	}
	connectMS, err := timeoutMS(in.ConnectionTimeOut, defaultConnectTimeoutMS)
	if err != nil {
		return nil, Result{Status: FailedTerminal, Reason: "connectionTimeOut: " + err.Error()}
	}
	readMS, err := timeoutMS(in.ReadTimeOut, defaultReadTimeoutMS)
	if err != nil {
		return nil, Result{Status: FailedTerminal, Reason: "readTimeOut: " + err.Error()}
	}

	contentType := in.ContentType
	if contentType == "" {
		contentType = "application/json"
	}
	body, err := requestBody(in.Body, contentType)
	if err != nil {
		return nil, Result{Status: FailedTerminal, Reason: "body: " + err.Error()}
	}

	connect := time.Duration(connectMS) * time.Millisecond
	read := time.Duration(readMS) * time.Millisecond
	client := t.opts.client
	if svc != nil && svc.HTTPClient != nil {
		client = svc.HTTPClient
	}
	var policy *redirectPolicy
	timed := false
	if rawNull(in.FollowRedirects) {
		// The default policy needs nothing of this call but its URL.
		client, timed = t.sameOriginClient(client)
	} else {
		policy, err = newRedirectPolicy(nil, in.FollowRedirects)
		if err != nil {
			return nil, Result{Status: FailedTerminal, Reason: "followRedirects: " + err.Error()}
		}
		// A copy: the shared client keeps no per-task state.
		c := *client
		c.CheckRedirect = policy.check
		if c.Jar != nil && len(policy.hosts) > 0 {
			c.Jar = originJar{jar: c.Jar, policy: policy}
		}
		c.Transport, timed = t.opts.transports.get(client.Transport)
		client = &c
	}
	callCtx := ctx
	var cc *callConns
	if timed {
		// connectionTimeOut and readTimeOut apply at the connection.
		callCtx, cc = startCall(ctx, connect, read)
		defer cc.done()
	} else {
		// A RoundTripper wfrun cannot reach the connections of: the
		// whole call is bounded by the sum.
		dc := t.deadlines.start(ctx, connect+read)
		defer t.deadlines.end(dc)
		callCtx = dc
	}

	var bodyReader io.Reader
	if body != nil {
		bodyReader = bytes.NewReader(body)
	}
	hreq, err := http.NewRequestWithContext(callCtx, method, in.URI, bodyReader)
	if err != nil {
		return nil, Result{Status: FailedTerminal, Reason: mask(svc, "invalid HTTP request: "+redactURLError(svc, err).Error())}
	}
	if policy != nil {
		policy.origin = hreq.URL
	}
	if body != nil {
		hreq.Header.Set("Content-Type", contentType)
	}
	hreq.Header.Set("Accept", acceptHeader(in.Accept))
	setHeaders(hreq.Header, in.Headers)
	if !rawNull(in.Auth) {
		if err := t.opts.auth(ctx, hreq, body, in.Auth, svc); err != nil {
			return nil, Result{Status: AuthStatus(ctx, err), Reason: mask(svc, "auth: "+err.Error())}
		}
	}

	resp, err := client.Do(hreq)
	if err != nil {
		return nil, Result{Status: Failed, Reason: mask(svc, transportReason(ctx, svc, readTimedOut(cc, err), method, connectMS, readMS))}
	}
	defer resp.Body.Close()
	out, respBody, err := readResponse(resp, t.opts.maxResponse)
	if err != nil {
		return nil, Result{Status: Failed, Reason: mask(svc, transportReason(ctx, svc, readTimedOut(cc, err), method, connectMS, readMS))}
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		// The body is masked whole, and only then made one line and cut:
		// a value cut first, or with its TAB turned into a space, would no
		// longer match and its head would be shown in clear.
		reason := fmt.Sprintf("HTTP %d %s", resp.StatusCode, reasonPhrase(resp))
		if ex := runsecrets.Line(svcMasker(svc), string(respBody), reasonExcerptBytes); ex != "" {
			reason += ": " + ex
		}
		return out, Result{Status: Failed, Reason: mask(svc, reason)}
	}
	return out, Result{Status: Completed}
}

// setHeaders applies the input's headers object (valid JSON, an object or
// null) in document order: null values are skipped (as Conductor does),
// strings are set as they are, other values as their JSON encoding.
func setHeaders(h http.Header, raw json.RawMessage) {
	if rawNull(raw) {
		return
	}
	gjson.ParseBytes(raw).ForEach(func(k, v gjson.Result) bool {
		key := jsonStringText(k)
		switch v.Type {
		case gjson.Null:
		case gjson.String:
			h.Set(key, jsonStringText(v))
		default:
			// Rare: the text encoding/json gives the decoded value (numbers
			// normalized, object keys sorted).
			var x any
			_ = json.Unmarshal([]byte(v.Raw), &x)
			b, _ := json.Marshal(x)
			h.Set(key, string(b))
		}
		return true
	})
}

// jsonStringText is the text of a JSON string token exactly as
// encoding/json decodes it (invalid UTF-8 and lone surrogates become
// U+FFFD); gjson's own text is used when there is nothing to convert.
func jsonStringText(r gjson.Result) string {
	if strings.IndexByte(r.Raw, '\\') < 0 && utf8.ValidString(r.Str) {
		return r.Str
	}
	var s string
	_ = json.Unmarshal([]byte(r.Raw), &s)
	return s
}

func validMethod(m string) bool {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodTrace:
		return true
	}
	return false
}

func timeoutMS(raw json.RawMessage, def int64) (int64, error) {
	f, ok, err := flexNumber(raw)
	if err != nil {
		return 0, err
	}
	if !ok || f == 0 {
		return def, nil
	}
	if f < 0 {
		return 0, fmt.Errorf("must not be negative, got %v", f)
	}
	// Past this many milliseconds a time.Duration overflows: the call
	// would time out at once. The value is not quoted (it may be a
	// number secret, printed here in a form no masker knows).
	if f > maxTimeoutMS {
		return 0, fmt.Errorf("too large: at most %d ms", int64(maxTimeoutMS))
	}
	return int64(f), nil
}

// maxTimeoutMS is the longest timeout a time.Duration holds, in ms.
const maxTimeoutMS = float64(math.MaxInt64 / int64(time.Millisecond))

// requestBody returns the bytes to send: nil for no body, the raw text for a
// string body with a non-JSON content type, the body's JSON otherwise. The
// input is already JSON, so nothing is encoded twice.
func requestBody(raw json.RawMessage, contentType string) ([]byte, error) {
	if rawNull(raw) {
		return nil, nil
	}
	raw = bytes.TrimSpace(raw)
	if raw[0] == '"' && !isJSONContentType(contentType) {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, err
		}
		return []byte(s), nil
	}
	return raw, nil
}

func isJSONContentType(ct string) bool {
	ct = strings.ToLower(ct)
	return strings.Contains(ct, "/json") || strings.Contains(ct, "+json")
}

func acceptHeader(raw json.RawMessage) string {
	if rawNull(raw) {
		return "application/json"
	}
	var one string
	if json.Unmarshal(raw, &one) == nil {
		if one == "" {
			return "application/json"
		}
		return one
	}
	var list []string
	if json.Unmarshal(raw, &list) == nil && len(list) > 0 {
		return strings.Join(list, ", ")
	}
	return "application/json"
}

var errResponseTooLarge = errors.New("response body exceeds the size limit")

// readAppend appends what r yields to dst, failing with errResponseTooLarge
// past limit bytes (no limit when limit <= 0).
func readAppend(dst []byte, r io.Reader, limit int64) ([]byte, error) {
	start := len(dst)
	for {
		if len(dst) == cap(dst) {
			dst = append(dst, 0)[:len(dst)]
		}
		buf := dst[len(dst):cap(dst)]
		if limit > 0 {
			// Read at most one byte past the limit, to tell "exactly
			// limit" from "more".
			if room := limit + 1 - int64(len(dst)-start); int64(len(buf)) > room {
				buf = buf[:room]
			}
		}
		n, err := r.Read(buf)
		dst = dst[:len(dst)+n]
		if limit > 0 && int64(len(dst)-start) > limit {
			return nil, fmt.Errorf("%w (%d bytes)", errResponseTooLarge, limit)
		}
		if err == io.EOF {
			return dst, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// readTimedOut returns err, or os.ErrDeadlineExceeded when a read of the
// call timed out: the transport may report what that caused instead (a
// write to the connection it closed).
func readTimedOut(cc *callConns, err error) error {
	if cc != nil && !errors.Is(err, os.ErrDeadlineExceeded) && cc.readTimedOut() {
		return os.ErrDeadlineExceeded
	}
	return err
}

// transportReason explains a failed call without the URL's query string,
// which may carry credentials.
func transportReason(ctx context.Context, svc *Services, err error, method string, connectMS, readMS int64) string {
	switch {
	case ctx.Err() != nil:
		return "HTTP call canceled: " + ctx.Err().Error()
	case errors.Is(err, errResponseTooLarge):
		return "HTTP " + method + ": " + err.Error()
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) && opErr.Op == "dial" {
		if opErr.Timeout() || errors.Is(err, context.DeadlineExceeded) {
			return fmt.Sprintf("HTTP %s: connect timeout after %dms", method, connectMS)
		}
		return fmt.Sprintf("HTTP %s: cannot connect: %v", method, opErr.Err)
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return fmt.Sprintf("HTTP %s: read timeout: no data from the server for %dms (readTimeOut)", method, readMS)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Sprintf("HTTP %s: no complete response within %dms (connectionTimeOut %dms + readTimeOut %dms)",
			method, connectMS+readMS, connectMS, readMS)
	}
	return "HTTP " + method + ": " + redactURLError(svc, err).Error()
}

// redactURLError rewrites a *url.Error so its URL has no query, fragment or
// user info. The URL is masked whole before it is cut: a URI that is one
// secret (a webhook URL, its path the token) cut first would no longer
// match, and its path would be shown in clear. A parse error's reason quotes the part of the URL at fault
// (`invalid port ":…" after host`), which may be the head of a password
// whose '/' ended the authority early: a piece no masker matches. The
// quoted part is left out.
func redactURLError(svc *Services, err error) error {
	var ue *url.Error
	if !errors.As(err, &ue) {
		return err
	}
	reason := ue.Err.Error()
	if ue.Op == "parse" {
		reason = quotedText.ReplaceAllLiteralString(reason, `"…"`)
	}
	return fmt.Errorf("%s %s: %s", ue.Op, redactURL(mask(svc, ue.URL)), reason)
}

// quotedText matches a Go-quoted string (%q) in an error's text.
var quotedText = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)

func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	u.User = nil
	if u.RawQuery != "" {
		u.RawQuery = "…"
	}
	u.Fragment = ""
	return u.String()
}

func reasonPhrase(resp *http.Response) string {
	if s := http.StatusText(resp.StatusCode); s != "" {
		return s
	}
	// Status is "418 I'm a teapot": keep what follows the code.
	if i := strings.IndexByte(resp.Status, ' '); i >= 0 {
		return resp.Status[i+1:]
	}
	return ""
}

// headerField is one response header, for sorting them by name.
type headerField struct {
	name   string
	values []string
}

// readResponse reads the response body and returns the task output and the
// body (for a failure reason; it may share the output's memory). The body
// is read straight into the output, after the status and headers, so a JSON
// body — the usual case — is embedded as it came, validated but neither
// decoded, re-encoded nor copied.
func readResponse(resp *http.Response, limit int64) (json.RawMessage, []byte, error) {
	reason := reasonPhrase(resp)
	var hb [16]headerField // most responses have fewer
	fields := hb[:0]
	size := 64 + len(reason)
	for k, vs := range resp.Header {
		fields = append(fields, headerField{k, vs})
		size += len(k) + 6
		for _, v := range vs {
			size += len(v) + 3
		}
	}
	slices.SortFunc(fields, func(a, b headerField) int { return strings.Compare(a.name, b.name) })
	hint := int64(512)
	if n := resp.ContentLength; n >= 0 {
		hint = n + 1 // the final read sees EOF without growing the buffer
		if limit > 0 && hint > limit+1 {
			hint = limit + 1
		}
	}
	out := make([]byte, 0, int64(size)+hint+2)
	out = append(out, `{"response":{"statusCode":`...)
	out = strconv.AppendInt(out, int64(resp.StatusCode), 10)
	out = append(out, `,"reasonPhrase":`...)
	out = jsonenc.AppendString(out, reason)
	out = append(out, `,"headers":{`...)
	for i, f := range fields {
		if i > 0 {
			out = append(out, ',')
		}
		out = jsonenc.AppendString(out, f.name)
		out = append(out, ":["...)
		for j, v := range f.values {
			if j > 0 {
				out = append(out, ',')
			}
			out = jsonenc.AppendString(out, v)
		}
		out = append(out, ']')
	}
	out = append(out, `},"body":`...)
	start := len(out)
	out, err := readAppend(out, resp.Body, limit)
	if err != nil {
		return nil, nil, err
	}
	out, body := appendBody(out, start)
	return append(out, "}}"...), body, nil
}

// appendBody turns out[start:], the raw body, into the output's body value
// by Conductor's rules: an object or array stays JSON, a number stays a
// number, a JSON string becomes its text, anything else (true, null,
// non-JSON) is kept as text. It returns out and the body as received (its
// surrounding whitespace may be cut).
func appendBody(out []byte, start int) ([]byte, []byte) {
	body := out[start:]
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) > 0 {
		c := trimmed[0]
		if (c == '{' || c == '[' || c == '"' || c == '-' || (c >= '0' && c <= '9')) && validJSON(trimmed) {
			// A JSON string is already the JSON encoding of its text.
			n := copy(out[start:], trimmed)
			return out[:start+n], out[start : start+n : start+n]
		}
	}
	text := bytes.Clone(body) // out[start:] is overwritten below
	if len(trimmed) > 0 && validJSON(trimmed) {
		return jsonenc.AppendString(out[:start], string(bytes.TrimSpace(text))), text
	}
	return jsonenc.AppendString(out[:start], strings.ToValidUTF8(string(text), "\uFFFD")), text
}

// Validate checks an HTTP task definition: uri and method present, a
// literal method known, literal timeouts numeric.
func (t *HTTPTask) Validate(def json.RawMessage) []error {
	in, prefix, errs := httpDefInputs(def)
	if errs != nil {
		return errs
	}
	return validateHTTPFields(in, prefix)
}

// httpDefInputs returns the request object of an HTTP or HTTP_POLL
// definition (http_request when given) and its field path prefix.
func httpDefInputs(def json.RawMessage) (map[string]json.RawMessage, string, []error) {
	in, errs := defInputs(def)
	if errs != nil {
		return nil, "", errs
	}
	raw, ok := in["http_request"]
	if !ok || rawNull(raw) {
		return in, "inputParameters.", nil
	}
	if s, _, isStr := literalString(raw); isStr && isTemplate(s) {
		return nil, "", nil // the whole request comes from a parameter
	}
	var nested map[string]json.RawMessage
	if err := json.Unmarshal(raw, &nested); err != nil {
		return nil, "", []error{fieldErr("inputParameters.http_request", "must be a JSON object")}
	}
	// HTTP_POLL fields may sit beside http_request.
	for _, k := range []string{"terminationCondition", "evaluatorType", "pollingInterval", "pollingStrategy", "maxPollCount"} {
		if _, ok := nested[k]; !ok {
			if v, ok := in[k]; ok {
				nested[k] = v
			}
		}
	}
	return nested, "inputParameters.http_request.", nil
}

func validateHTTPFields(in map[string]json.RawMessage, prefix string) []error {
	if in == nil {
		return nil
	}
	var errs []error
	for _, f := range []string{"uri", "method"} {
		s, ok, isStr := literalString(in[f])
		switch {
		case !ok:
			errs = append(errs, fieldErr(prefix+f, "missing (required)"))
		case !isStr:
			errs = append(errs, fieldErr(prefix+f, "must be a string"))
		case strings.TrimSpace(s) == "":
			errs = append(errs, fieldErr(prefix+f, "must not be empty"))
		case f == "method" && !isTemplate(s) && !validMethod(strings.ToUpper(s)):
			errs = append(errs, fieldErr(prefix+f, "unknown HTTP method %q", s))
		}
	}
	for _, f := range []string{"connectionTimeOut", "readTimeOut"} {
		raw := in[f]
		if s, _, isStr := literalString(raw); isStr && isTemplate(s) {
			continue
		}
		if v, _, err := flexNumber(raw); err != nil {
			errs = append(errs, fieldErr(prefix+f, "%v (milliseconds)", err))
		} else if v < 0 {
			errs = append(errs, fieldErr(prefix+f, "must not be negative"))
		}
	}
	if raw, ok := in["followRedirects"]; ok && !rawNull(raw) {
		if _, err := newRedirectPolicy(&url.URL{}, raw); err != nil {
			errs = append(errs, fieldErr(prefix+"followRedirects", "%v", err))
		}
	}
	if raw, ok := in["headers"]; ok && !rawNull(raw) {
		if s, _, isStr := literalString(raw); !(isStr && isTemplate(s)) {
			var m map[string]json.RawMessage
			if json.Unmarshal(raw, &m) != nil {
				errs = append(errs, fieldErr(prefix+"headers", "must be a JSON object"))
			}
		}
	}
	return errs
}
