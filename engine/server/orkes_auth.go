package server

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/wfrun/wfrun/store"
)

// token is POST /api/token: {"keyId","keySecret"} → {"token"}. Without an
// auth configuration it is 404, which the Orkes SDKs read as "no auth".
func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	if s.auth == nil {
		conductorError(w, r, http.StatusNotFound, "authentication is not enabled on this server")
		return
	}
	body, err := s.readBody(w, r)
	if err != nil {
		s.bodyError(w, r, err)
		return
	}
	var req struct {
		KeyID     string `json:"keyId"`
		KeySecret string `json:"keySecret"`
	}
	if err := json.Unmarshal(body, &req); err != nil || req.KeyID == "" {
		conductorError(w, r, http.StatusBadRequest, "request body must be {\"keyId\":…,\"keySecret\":…}")
		return
	}
	// The key secrets the server accepts are in its masker from the start
	// (New): a refused one is not added, or anyone could blank chosen words
	// out of the server's logs and grow its memory with every request.
	tok, _, err := s.auth.login(req.KeyID, req.KeySecret, s.now())
	if err != nil {
		s.log.Warn("token refused", "keyId", req.KeyID)
		writeJSON(w, http.StatusUnauthorized, map[string]any{
			"status": http.StatusUnauthorized, "message": "invalid keyId or keySecret", "error": "INVALID_CREDENTIALS",
		})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"token": tok})
}

// orkesPrincipal authenticates an Orkes/Conductor API call by its
// X-Authorization token. It writes the 401 itself and returns ok=false
// when the token is missing, forged or expired: the Orkes SDKs refresh
// their token once on a 401 whose error is INVALID_TOKEN or EXPIRED_TOKEN.
func (s *Server) orkesPrincipal(w http.ResponseWriter, r *http.Request) (store.Principal, bool) {
	if s.auth == nil {
		return store.LocalPrincipal, true
	}
	tok := r.Header.Get("X-Authorization")
	if tok == "" {
		if len(s.auth.AnonymousScopes) > 0 {
			return s.auth.anonymous(), true
		}
		writeJSON(w, http.StatusUnauthorized, map[string]any{
			"status": http.StatusUnauthorized, "message": "X-Authorization token required (POST /api/token)", "error": "INVALID_TOKEN",
		})
		return store.Principal{}, false
	}
	p, err := s.auth.verify(tok, s.now())
	if err != nil {
		code, msg := "INVALID_TOKEN", "invalid token"
		if errors.Is(err, ErrExpiredToken) {
			code, msg = "EXPIRED_TOKEN", "token expired"
		}
		s.log.Warn("token rejected", "path", r.URL.Path, "reason", code)
		writeJSON(w, http.StatusUnauthorized, map[string]any{"status": http.StatusUnauthorized, "message": msg, "error": code})
		return store.Principal{}, false
	}
	return p, true
}

// bodyError answers a request whose body could not be read.
func (s *Server) bodyError(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, errTooLarge) {
		conductorError(w, r, http.StatusRequestEntityTooLarge, err.Error())
		return
	}
	conductorError(w, r, http.StatusBadRequest, "reading the request body: "+err.Error())
}
