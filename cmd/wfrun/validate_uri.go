package main

import (
	"encoding/json"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"
)

// literalURIWarnings finds HTTP tasks whose uri is a literal that is not an
// http(s) URL — typically a template placeholder such as
// "<YOUR_TOKEN_API_ENDPOINT>" that would otherwise pass validation and fail
// at every run. Expressions (${...}) are left alone: their value is known
// only at run time.
func literalURIWarnings(def []byte) []string {
	var doc any
	if json.Unmarshal(def, &doc) != nil {
		return nil
	}
	var out []string
	var walk func(v any, ptr string)
	walk = func(v any, ptr string) {
		switch t := v.(type) {
		case map[string]any:
			if typ, _ := t["type"].(string); typ == "HTTP" {
				if in, ok := t["inputParameters"].(map[string]any); ok {
					checkURI(in, ptr+"/inputParameters", &out)
					if req, ok := in["http_request"].(map[string]any); ok {
						checkURI(req, ptr+"/inputParameters/http_request", &out)
					}
				}
			}
			keys := make([]string, 0, len(t))
			for k := range t {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				walk(t[k], ptr+"/"+strings.NewReplacer("~", "~0", "/", "~1").Replace(k))
			}
		case []any:
			for i, e := range t {
				walk(e, ptr+"/"+strconv.Itoa(i))
			}
		}
	}
	walk(doc, "")
	return out
}

func checkURI(params map[string]any, ptr string, out *[]string) {
	uri, ok := params["uri"].(string)
	if !ok || strings.Contains(uri, "${") {
		return
	}
	u, err := url.Parse(uri)
	if err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" {
		return
	}
	*out = append(*out, fmt.Sprintf("%s/uri: %q is not an http(s) URL (a placeholder to replace?); every run would fail here", ptr, uri))
}
