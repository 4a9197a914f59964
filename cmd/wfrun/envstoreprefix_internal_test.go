package main

import (
	"slices"
	"testing"
)

func TestEnvStorePrefixes(t *testing.T) {
	for _, tc := range []struct {
		url  string
		want []string
	}{
		{"", nil},
		{"bolt:/x/secrets.db", nil},
		{"env:", []string{"WFRUN_SECRET_"}},
		{"env", []string{"WFRUN_SECRET_"}},
		{"env:APP_SECRET_ | redis://localhost:6379/0", []string{"APP_SECRET_"}},
		{"env:A_|env:B_", []string{"A_", "B_"}},
	} {
		if got := envStorePrefixes(tc.url); !slices.Equal(got, tc.want) {
			t.Errorf("envStorePrefixes(%q) = %q, want %q", tc.url, got, tc.want)
		}
	}
}
