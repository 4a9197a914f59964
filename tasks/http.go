package tasks

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
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
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
//     string (default 3000 each, Conductor's Input defaults). The connect
//     timeout bounds dialing (with the default client; a client from
//     Services or WithHTTPClient dials as it is configured); the whole call
//     is bounded by their sum;
//   - auth: applied by ApplyAuth (or the AuthFunc given with WithHTTPAuth)
//     after the headers, so a credential from a secret wins over a literal.
//
// The output is {"response":{"statusCode","reasonPhrase","headers","body"}};
// headers map to lists of values; a JSON object or array body is kept as
// JSON, a number as a number, anything else as text (Conductor's rules).
// A non-2xx status fails the task (retryable) with a reason naming the status
// and a short, masked excerpt of the body; the output still carries the
// response.
type HTTPTask struct {
	opts *options
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

// httpInput is the request part of the task input, in either form.
type httpInput struct {
	HTTPRequest       json.RawMessage `json:"http_request"`
	URI               string          `json:"uri"`
	Method            string          `json:"method"`
	Headers           map[string]any  `json:"headers"`
	Body              json.RawMessage `json:"body"`
	Accept            json.RawMessage `json:"accept"`
	ContentType       string          `json:"contentType"`
	ConnectionTimeOut json.RawMessage `json:"connectionTimeOut"`
	ReadTimeOut       json.RawMessage `json:"readTimeOut"`
	Auth              json.RawMessage `json:"auth"`

	// HTTP_POLL's fields, read from the same object.
	TerminationCondition json.RawMessage `json:"terminationCondition"`
	EvaluatorType        string          `json:"evaluatorType"`
	PollingInterval      json.RawMessage `json:"pollingInterval"`
	PollingStrategy      string          `json:"pollingStrategy"`
	MaxPollCount         json.RawMessage `json:"maxPollCount"`
}

// parseHTTPInput decodes the task input and, when http_request is given,
// the nested request. Fields of the nested object take precedence, and
// the HTTP_POLL fields are also looked up at the top level, because
// definitions put them in either place.
func parseHTTPInput(raw json.RawMessage) (*httpInput, error) {
	var top httpInput
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &top); err != nil {
			return nil, fmt.Errorf("input is not a valid HTTP request object: %v", err)
		}
	}
	if rawNull(top.HTTPRequest) {
		return &top, nil
	}
	var in httpInput
	if err := json.Unmarshal(top.HTTPRequest, &in); err != nil {
		return nil, fmt.Errorf("http_request is not a valid HTTP request object: %v", err)
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
	return &in, nil
}

// Execute performs one HTTP call.
func (t *HTTPTask) Execute(ctx context.Context, req *Request) Result {
	in, err := parseHTTPInput(req.Input)
	if err != nil {
		return Result{Status: FailedTerminal, Reason: mask(req.Services, err.Error())}
	}
	out, res := t.call(ctx, req.Services, in)
	if res.Status == "" {
		res.Status = Completed
	}
	if out != nil {
		res.Output = out
	}
	return res
}

// call performs the request and returns the task output (nil when no
// response arrived) and the outcome without its output.
func (t *HTTPTask) call(ctx context.Context, svc *Services, in *httpInput) (json.RawMessage, Result) {
	if in.URI == "" {
		return nil, Result{Status: FailedTerminal, Reason: "Missing HTTP URI"}
	}
	if in.Method == "" {
		return nil, Result{Status: FailedTerminal, Reason: "No HTTP method specified"}
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
	total := connect + time.Duration(readMS)*time.Millisecond
	callCtx, cancel := context.WithTimeout(context.WithValue(ctx, connectTimeoutKey{}, connect), total)
	defer cancel()

	var bodyReader io.Reader
	if body != nil {
		bodyReader = bytes.NewReader(body)
	}
	hreq, err := http.NewRequestWithContext(callCtx, method, in.URI, bodyReader)
	if err != nil {
		return nil, Result{Status: FailedTerminal, Reason: mask(svc, "invalid HTTP request: "+redactURLError(err).Error())}
	}
	if body != nil {
		hreq.Header.Set("Content-Type", contentType)
	}
	hreq.Header.Set("Accept", acceptHeader(in.Accept))
	for k, v := range in.Headers {
		switch x := v.(type) {
		case nil:
			continue // Conductor skips null header values
		case string:
			hreq.Header.Set(k, x)
		default:
			b, _ := json.Marshal(x)
			hreq.Header.Set(k, string(b))
		}
	}
	if !rawNull(in.Auth) {
		if err := t.opts.auth(ctx, hreq, body, in.Auth, svc); err != nil {
			return nil, Result{Status: FailedTerminal, Reason: mask(svc, "auth: "+err.Error())}
		}
	}

	client := t.opts.client
	if svc != nil && svc.HTTPClient != nil {
		client = svc.HTTPClient
	}
	resp, err := client.Do(hreq)
	if err != nil {
		return nil, Result{Status: Failed, Reason: mask(svc, transportReason(ctx, err, method, connectMS, readMS))}
	}
	defer resp.Body.Close()
	respBody, err := readLimited(resp.Body, t.opts.maxResponse)
	if err != nil {
		return nil, Result{Status: Failed, Reason: mask(svc, transportReason(ctx, err, method, connectMS, readMS))}
	}
	out := encodeResponse(resp, respBody)
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		reason := fmt.Sprintf("HTTP %d %s", resp.StatusCode, reasonPhrase(resp))
		if ex := excerpt(respBody); ex != "" {
			reason += ": " + ex
		}
		return out, Result{Status: Failed, Reason: mask(svc, reason)}
	}
	return out, Result{Status: Completed}
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
	return int64(f), nil
}

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

func readLimited(r io.Reader, limit int64) ([]byte, error) {
	if limit <= 0 {
		return io.ReadAll(r)
	}
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%w (%d bytes)", errResponseTooLarge, limit)
	}
	return b, nil
}

// transportReason explains a failed call without the URL's query string,
// which may carry credentials.
func transportReason(ctx context.Context, err error, method string, connectMS, readMS int64) string {
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
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Sprintf("HTTP %s: no complete response within %dms (connectionTimeOut %dms + readTimeOut %dms)",
			method, connectMS+readMS, connectMS, readMS)
	}
	return "HTTP " + method + ": " + redactURLError(err).Error()
}

// redactURLError rewrites a *url.Error so its URL has no query, fragment or
// user info.
func redactURLError(err error) error {
	var ue *url.Error
	if !errors.As(err, &ue) {
		return err
	}
	return fmt.Errorf("%s %s: %v", ue.Op, redactURL(ue.URL), ue.Err)
}

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

// excerpt returns the start of a response body for a failure reason:
// printable, on one line, cut at a rune boundary.
func excerpt(b []byte) string {
	b = bytes.TrimSpace(b)
	if len(b) > reasonExcerptBytes {
		cut := reasonExcerptBytes
		for cut > 0 && !utf8.RuneStart(b[cut]) {
			cut--
		}
		b = append(b[:cut:cut], "…"...)
	}
	s := strings.ToValidUTF8(string(b), "?")
	return strings.Map(func(r rune) rune {
		if r == '\n' || r == '\r' || r == '\t' {
			return ' '
		}
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, s)
}

// encodeResponse writes the task output directly as JSON, embedding a JSON
// body as it came (validated, not decoded and re-encoded).
func encodeResponse(resp *http.Response, body []byte) json.RawMessage {
	var b bytes.Buffer
	b.Grow(len(body) + 256)
	b.WriteString(`{"response":{"statusCode":`)
	b.WriteString(strconv.Itoa(resp.StatusCode))
	b.WriteString(`,"reasonPhrase":`)
	writeJSONString(&b, reasonPhrase(resp))
	b.WriteString(`,"headers":{`)
	keys := make([]string, 0, len(resp.Header))
	for k := range resp.Header {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		writeJSONString(&b, k)
		b.WriteString(":[")
		for j, v := range resp.Header[k] {
			if j > 0 {
				b.WriteByte(',')
			}
			writeJSONString(&b, v)
		}
		b.WriteByte(']')
	}
	b.WriteString(`},"body":`)
	writeBody(&b, body)
	b.WriteString("}}")
	return b.Bytes()
}

// writeBody applies Conductor's body rules: object and array stay JSON,
// a number stays a number, a JSON string becomes its text, anything else
// (true, null, non-JSON) is sent on as text.
func writeBody(b *bytes.Buffer, body []byte) {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) > 0 && json.Valid(trimmed) {
		switch c := trimmed[0]; {
		case c == '{' || c == '[' || c == '-' || (c >= '0' && c <= '9'):
			b.Write(trimmed)
			return
		case c == '"':
			b.Write(trimmed) // already a JSON string of the text
			return
		}
		writeJSONString(b, string(trimmed))
		return
	}
	writeJSONString(b, strings.ToValidUTF8(string(body), "\uFFFD"))
}

// writeJSONString writes s as a JSON string without HTML escaping, so the
// stored text reads as it was received; invalid UTF-8 becomes U+FFFD.
func writeJSONString(b *bytes.Buffer, s string) {
	const hex = "0123456789abcdef"
	b.WriteByte('"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b.WriteString(s[start:i])
			switch c {
			case '"', '\\':
				b.WriteByte('\\')
				b.WriteByte(c)
			case '\n':
				b.WriteString(`\n`)
			case '\r':
				b.WriteString(`\r`)
			case '\t':
				b.WriteString(`\t`)
			default:
				b.WriteString(`\u00`)
				b.WriteByte(hex[c>>4])
				b.WriteByte(hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b.WriteString(s[start:i])
			b.WriteString(`\ufffd`)
			i++
			start = i
			continue
		}
		i += size
	}
	b.WriteString(s[start:])
	b.WriteByte('"')
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
