package server

import (
	"net/http"
	"strings"
)

// maskAnswer is text an error answer sends back, masked with the server's
// masker (whole values in every form it knows; not MaskFragments' pieces:
// a principal's name is a piece of its own credentials). An error answer
// often quotes the request's own text (a run id, a definition name, a
// search query, a sort field), and a client may send there a value the
// server knows as a secret (a credential, a secret put through the
// secrets API): it is not sent back in clear, as the server's 404 for an
// unknown path does not send it.
//
// The answer is masked with the values the server itself holds, not with
// the values its runs read from the secret store: those belong to the
// runs' principals, and an answer masked with them would tell any caller
// which of the texts it sends is somebody's secret.
//
// A '+' in the text may be a space the client query-escaped (Taskcluster's
// clients escape a name so, and a path keeps the '+'): what the text reads
// with the remaining '+'s as spaces is masked too, and shown so when that
// masks more.
func maskAnswer(r *http.Request, text string) string {
	ri, ok := r.Context().Value(reqInfoKey{}).(*reqInfo)
	if !ok || ri.masker == nil || text == "" {
		return text
	}
	masked := ri.masker.MaskString(text)
	if strings.Contains(masked, "+") {
		spaced := strings.ReplaceAll(masked, "+", " ")
		if m := ri.masker.MaskString(spaced); m != spaced {
			return m
		}
	}
	return masked
}
