package redisurl_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/wfrun/wfrun/internal/redisurl"
)

func TestParseErrorsNeverQuoteThePassword(t *testing.T) {
	cases := []struct {
		url      string
		password string // "" when the URL holds none
		want     string // what the error says then
	}{
		{"redis://:hunter2secret@127.0.0.1:badport/0", "hunter2secret", ""},
		{"redis://:12/hunter2rest@127.0.0.1/0", "hunter2rest", ""},
		{"redis://user:hunter2%zz@127.0.0.1/0", "hunter2", ""},
		{"redis://u:hunter2secret@127.0.0.1:6379/x", "hunter2secret", ""},
		{"redis://127.0.0.1:6379/x", "", "invalid database number"},
		{"redis://127.0.0.1:badport/0", "", "badport"},
	}
	for _, c := range cases {
		_, err := redisurl.Parse(c.url)
		if err == nil {
			t.Fatalf("%s parsed", c.url)
		}
		if c.password != "" {
			if !errors.Is(err, redisurl.ErrSyntax) || strings.Contains(err.Error(), "hunter2") {
				t.Errorf("%s: %v, want ErrSyntax without the password", c.url, err)
			}
			continue
		}
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want the parser's own words (%q)", c.url, err, c.want)
		}
	}
	if o, err := redisurl.Parse("redis://:pw@127.0.0.1:6379/2"); err != nil || o.Password != "pw" || o.DB != 2 {
		t.Fatalf("a valid URL: %+v %v", o, err)
	}
}
