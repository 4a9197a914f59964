package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/wfrun/wfrun/store"
)

// newSecretCmd is `wfrun secret`: manage the secret store as the local
// principal (which holds every scope).
func newSecretCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "secret",
		Short: "Manage secrets in the configured store",
		Long: `Manage secrets in the configured store (default: the encrypted file
$WFRUN_HOME/secrets.db; WFRUN_STORE=redis://… switches to Redis).

Names are 1-255 bytes of A-Z a-z 0-9 _ . / : - ; values are JSON (a plain
--value is a JSON string) of at most 64 KiB. Secrets live at organization
level unless --project/--environment say otherwise; a run reads the
narrowest level holding a name. Values are never printed without --reveal.`,
		Example: `  wfrun secret set api_token --expires 720h --tag env=prod     # asks for the value, hidden
  wfrun secret set aws --json '{"ACCESS_KEY":"AK…","SECRET_ACCESS_KEY":"…"}'
  wfrun secret set tls/key --from-file key.pem --project shop --environment prod
  wfrun secret get api_token
  wfrun secret ls project/ -o json`,
	}
	addConfigFlags(cmd)
	cmd.AddCommand(newSecretSetCmd(), newSecretGetCmd(), newSecretExistsCmd(), newSecretLsCmd(), newSecretRmCmd(),
		newSecretTagCmd(), newSecretHistoryCmd(), newSecretRekeyCmd(), newSecretSweepCmd(),
		newSecretExportCmd(), newSecretImportCmd())
	return cmd
}

// scopeFlags holds --project/--environment.
type scopeFlags struct{ project, environment string }

func (f *scopeFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.project, "project", "", "project scope (with --environment: environment scope)")
	cmd.Flags().StringVar(&f.environment, "environment", "", "environment scope")
}

func (f *scopeFlags) scope() (store.Scope, error) {
	sc := store.Scope{Project: f.project, Environment: f.environment}
	if err := sc.Validate(); err != nil {
		return sc, usageErr(err)
	}
	return sc, nil
}

// withStore opens the store, narrows it to the scope and runs fn.
func withStore(cmd *cobra.Command, sf *scopeFlags, fn func(s store.Store, scope store.Scope) error) (err error) {
	scope := store.Scope{}
	if sf != nil {
		if scope, err = sf.scope(); err != nil {
			return err
		}
	}
	raw, err := openStore(cmd)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, raw.Close()) }()
	s, err := store.InScope(store.WithAccess(raw, store.LocalPrincipal), scope)
	if err != nil {
		return err
	}
	return fn(s, scope)
}

// validName turns a bad name into a usage error (exit 2).
func validName(name string) error {
	if err := store.ValidateName(name); err != nil {
		return usageErr(withhold(err, name))
	}
	return nil
}

// parseExpires accepts RFC 3339 or a duration from now (24h, 90m, 7d).
func parseExpires(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if d, ok := strings.CutSuffix(s, "d"); ok {
		if n, err := strconv.Atoi(d); err == nil && n > 0 {
			return now.Add(time.Duration(n) * 24 * time.Hour), nil
		}
	}
	if d, err := time.ParseDuration(s); err == nil && d > 0 {
		return now.Add(d), nil
	}
	return time.Time{}, fmt.Errorf("--expires %q: want RFC 3339 (2026-12-31T23:59:00Z) or a positive duration (24h, 90m, 7d)", s)
}

func parseTags(args []string) (map[string]string, error) {
	tags := map[string]string{}
	for i, a := range args {
		k, v, ok := strings.Cut(a, "=")
		if !ok || k == "" {
			// Not quoted: it may be a value typed without its key=.
			return nil, fmt.Errorf("the %s tag has no key= (want key=value)", ordinal(i+1))
		}
		tags[k] = v
	}
	if err := store.ValidateTags(tags); err != nil {
		return nil, err
	}
	return tags, nil
}

// jsonSyntaxError describes malformed JSON by position only: the input may
// be a secret.
func jsonSyntaxError(what string, data []byte) error {
	var v any
	err := json.Unmarshal(data, &v)
	var se *json.SyntaxError
	if errors.As(err, &se) {
		line, col := 1, 1
		for _, c := range data[:min(int(se.Offset), len(data))] {
			if c == '\n' {
				line, col = line+1, 1
			} else {
				col++
			}
		}
		if strings.Contains(se.Error(), "max depth") {
			return fmt.Errorf("%s: JSON nested too deeply at line %d, column %d (more than 10000 levels of arrays and objects)", what, line, col)
		}
		return fmt.Errorf("%s: malformed JSON at line %d, column %d (byte %d)", what, line, col, se.Offset)
	}
	return fmt.Errorf("%s: malformed JSON", what)
}

func newSecretSetCmd() *cobra.Command {
	var (
		value, jsonValue, fromFile, expires, description string
		asJSON                                           bool
		tags                                             []string
		ifVersion                                        int64
		sf                                               scopeFlags
		format                                           string
		binary                                           bool
	)
	cmd := &cobra.Command{
		Use:   "set NAME (--value V | --json J | --from-file F | < stdin)",
		Short: "Create or update a secret",
		Long: `Create or update a secret. The value comes from exactly one of --value (a
string), --json (any JSON value), --from-file (the file's text; with --as-json,
its JSON) or, when none is given, standard input (text, one trailing newline
removed; with --as-json, JSON); at a terminal, stdin is a prompt that does not
echo what you type. Prefer the prompt, --from-file or a pipe for real secrets:
command-line arguments land in shell history and are visible to other local
users in ps. A value under 4 bytes cannot be masked in run output: set warns.

Values are text: a file or stdin that is not UTF-8 is refused, unless
--binary is given: then its bytes are stored exactly, as base64 with the
encoding recorded ("type: binary"; --reveal prints the base64).

Tags and description given replace the stored ones; omitted, they are kept.
--expires takes RFC 3339 or a duration from now (24h, 7d); without it the new
version never expires. --if-version makes the write a compare-and-swap
(0: only if the secret does not exist).`,
		Example: `  wfrun secret set api_token                      # at a terminal: a hidden prompt
  printf '%s' "$TOKEN" | wfrun secret set github/token --expires 24h --tag team=ci
  wfrun secret set aws --from-file aws.json --as-json --description "deploy user"
  wfrun secret set region --value eu-west-1       # --value: for scripts and values that are not secret
  wfrun secret set ci/bundle --from-file bundle.json --as-json --project shop`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			if err := validName(name); err != nil {
				return err
			}
			if err := checkFormat(format); err != nil {
				return err
			}
			given := 0
			for _, f := range []string{"value", "json", "from-file"} {
				if cmd.Flags().Changed(f) {
					given++
				}
			}
			if given > 1 {
				return usageErr(errors.New("set: give only one of --value, --json, --from-file"))
			}
			var val json.RawMessage
			encoding := ""
			if binary && (asJSON || cmd.Flags().Changed("value") || cmd.Flags().Changed("json")) {
				return usageErr(errors.New("set: --binary takes the value from --from-file or stdin, as bytes (not with --value, --json or --as-json)"))
			}
			switch {
			case cmd.Flags().Changed("value"):
				if err := checkText("--value", []byte(value)); err != nil {
					return usageErr(err)
				}
				val, _ = json.Marshal(value)
			case cmd.Flags().Changed("json"):
				val = json.RawMessage(strings.TrimSpace(jsonValue))
				if !json.Valid(val) {
					return usageErr(jsonSyntaxError("--json", val))
				}
			default:
				var data []byte
				var err error
				src := "stdin"
				if fromFile != "" {
					src = fromFile
					data, err = os.ReadFile(fromFile)
				} else {
					data, src, err = readSecretStdin(cmd, name, store.MaxValueSize*2)
				}
				if err != nil {
					return usageErr(fmt.Errorf("set: read value: %w", err))
				}
				if binary {
					if len(data) == 0 {
						return usageErr(fmt.Errorf("set: empty value from %s", src))
					}
					val, _ = json.Marshal(base64.StdEncoding.EncodeToString(data))
					encoding = store.EncodingBase64
					break
				}
				if err := checkText(src, data); err != nil {
					return usageErr(err)
				}
				if asJSON {
					val = json.RawMessage(bytes.TrimSpace(data))
					if !json.Valid(val) {
						return usageErr(jsonSyntaxError(src, val))
					}
				} else {
					if fromFile == "" {
						data = bytes.TrimSuffix(bytes.TrimSuffix(data, []byte("\n")), []byte("\r"))
					}
					if len(data) == 0 {
						return usageErr(fmt.Errorf("set: empty value from %s", src))
					}
					val, _ = json.Marshal(string(data))
				}
			}
			exp, err := parseExpires(expires, time.Now())
			if err != nil {
				return usageErr(err)
			}
			sec := &store.Secret{Name: name, Value: val, Expires: exp, Description: description, Encoding: encoding}
			if len(tags) > 0 {
				if sec.Tags, err = parseTags(tags); err != nil {
					return usageErr(err)
				}
			}
			if len(val) > store.MaxValueSize {
				return usageErr(fmt.Errorf("set %q: %w: value is %d bytes, the limit is %d bytes (64 KiB)", name, store.ErrTooLarge, len(val), store.MaxValueSize))
			}
			var opts []store.PutOption
			if cmd.Flags().Changed("if-version") {
				opts = append(opts, store.IfVersion(ifVersion))
			}
			return withStore(cmd, &sf, func(s store.Store, scope store.Scope) error {
				out, err := s.Put(cmd.Context(), sec, opts...)
				if err != nil {
					return err
				}
				warnShortValue(cmd, sec)
				view := newSecretView(out, false)
				return render(cmd.OutOrStdout(), format, view, func(w io.Writer) error {
					row(w, fmt.Sprintf("stored secret %q version %d (%s)", out.Name, out.Version, out.Scope))
					return nil
				})
			})
		},
	}
	cmd.Flags().StringVar(&value, "value", "", "the value, as a string")
	cmd.Flags().StringVar(&jsonValue, "json", "", "the value, as JSON")
	cmd.Flags().StringVar(&fromFile, "from-file", "", "read the value from a file")
	cmd.Flags().BoolVar(&asJSON, "as-json", false, "parse the file or stdin as JSON instead of text")
	cmd.Flags().BoolVar(&binary, "binary", false, "store the file's or stdin's bytes exactly (as base64), for values that are not text")
	cmd.Flags().StringVar(&expires, "expires", "", "expiry: RFC 3339 time or duration from now (24h, 7d)")
	cmd.Flags().StringArrayVar(&tags, "tag", nil, "tag key=value (repeatable)")
	cmd.Flags().StringVar(&description, "description", "", "description")
	cmd.Flags().Int64Var(&ifVersion, "if-version", 0, "only write if the stored version is this (0: must not exist)")
	sf.add(cmd)
	addOutputFlag(cmd, &format)
	return cmd
}

// secretView is what `secret get` shows: metadata, a description of the
// value's shape, and the value only when revealed.
type secretView struct {
	Name        string            `json:"name"`
	Scope       string            `json:"scope"`
	Version     int64             `json:"version"`
	Type        string            `json:"type"`
	Size        int               `json:"size"`
	Fields      []string          `json:"fields,omitempty"`
	EnvVars     []string          `json:"envVars,omitempty"`
	Files       []string          `json:"files,omitempty"`
	Description string            `json:"description,omitempty"`
	Tags        map[string]string `json:"tags,omitempty"`
	Expires     *time.Time        `json:"expires,omitempty"`
	Expired     bool              `json:"expired,omitempty"`
	CreatedAt   time.Time         `json:"createdAt"`
	UpdatedAt   time.Time         `json:"updatedAt"`
	State       string            `json:"state"`
	Encoding    string            `json:"encoding,omitempty"`
	Value       json.RawMessage   `json:"value,omitempty"`
}

func newSecretView(s *store.Secret, reveal bool) *secretView {
	v := &secretView{Name: s.Name, Scope: s.Scope.String(), Version: s.Version, Size: len(s.Value),
		Description: s.Description, Tags: s.Tags, CreatedAt: s.CreatedAt, UpdatedAt: s.UpdatedAt}
	now := time.Now()
	v.State, v.Encoding = s.State(now), s.Encoding
	if !s.Expires.IsZero() {
		e := s.Expires
		v.Expires = &e
		v.Expired = s.Expired(now)
	}
	if s.Encoding == store.EncodingBase64 {
		var b64 string
		_ = json.Unmarshal(s.Value, &b64)
		v.Type, v.Size = "binary", base64.StdEncoding.DecodedLen(len(b64))
		if raw, err := base64.StdEncoding.DecodeString(b64); err == nil {
			v.Size = len(raw)
		}
	} else if b, ok := store.ParseBundle(s.Value); ok {
		v.Type = "bundle"
		v.EnvVars, v.Files = b.EnvNames(), b.FilePaths()
	} else {
		v.Type = jsonType(s.Value)
		if v.Type == "object" {
			var m map[string]json.RawMessage
			if json.Unmarshal(s.Value, &m) == nil {
				for k := range m {
					v.Fields = append(v.Fields, k)
				}
				sort.Strings(v.Fields)
			}
		}
	}
	if s.Value == nil {
		// An expired secret's value is never read back, so its type is not
		// known: the state says why.
		v.Type, v.Size = "-", 0
	}
	if reveal {
		v.Value = s.Value
	}
	return v
}

func jsonType(v json.RawMessage) string {
	t := bytes.TrimSpace(v)
	if len(t) == 0 {
		return "none"
	}
	switch t[0] {
	case '"':
		return "string"
	case '{':
		return "object"
	case '[':
		return "array"
	case 't', 'f':
		return "bool"
	case 'n':
		return "null"
	}
	return "number"
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

func fmtTags(tags map[string]string) string {
	if len(tags) == 0 {
		return "-"
	}
	keys := make([]string, 0, len(tags))
	for k := range tags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for i, k := range keys {
		keys[i] = k + "=" + tags[k]
	}
	return strings.Join(keys, ",")
}

func newSecretGetCmd() *cobra.Command {
	var (
		reveal bool
		sf     scopeFlags
		format string
	)
	cmd := &cobra.Command{
		Use:   "get NAME [--reveal]",
		Short: "Show a secret's metadata (its value only with --reveal)",
		Long: `Show a secret's metadata: version, scope, type, size, tags, expiry, and for
an object its field names, for a bundle its env var names and file paths —
never the values. With --reveal and the table format, print only the value (a
string unquoted), so $(wfrun secret get NAME --reveal) works; with -o json or
yaml, include it as "value".`,
		Example: `  wfrun secret get api_token
  wfrun secret get aws -o json
  curl -H "Authorization: Bearer $(wfrun secret get api_token --reveal)" …`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := validName(args[0]); err != nil {
				return err
			}
			if err := checkFormat(format); err != nil {
				return err
			}
			return withStore(cmd, &sf, func(s store.Store, _ store.Scope) error {
				sec, err := s.Get(cmd.Context(), args[0])
				err = withholdMissing(err, args[0])
				// An expired secret shows its metadata (state: expired); its
				// value is never returned.
				if err != nil && !(errors.Is(err, store.ErrExpired) && sec != nil && !reveal) {
					return err
				}
				w := cmd.OutOrStdout()
				if reveal && (format == formatTable || format == "") {
					var str string
					if json.Unmarshal(sec.Value, &str) == nil {
						_, err = fmt.Fprintln(w, str)
					} else {
						_, err = fmt.Fprintf(w, "%s\n", sec.Value)
					}
					return err
				}
				v := newSecretView(sec, reveal)
				return render(w, format, v, func(tw io.Writer) error {
					row(tw, "name:", v.Name)
					row(tw, "scope:", v.Scope)
					row(tw, "version:", strconv.FormatInt(v.Version, 10))
					if v.State != "active" {
						row(tw, "state:", v.State)
					}
					if v.Type == "-" {
						row(tw, "type:", "- (the value of an expired secret is never read)")
					} else {
						row(tw, "type:", fmt.Sprintf("%s (%d bytes)", v.Type, v.Size))
					}
					if v.Encoding != "" {
						row(tw, "encoding:", v.Encoding)
					}
					if len(v.Fields) > 0 {
						row(tw, "fields:", strings.Join(v.Fields, ", "))
					}
					if v.Type == "bundle" {
						row(tw, "env vars:", strings.Join(v.EnvVars, ", "))
						row(tw, "files:", strings.Join(v.Files, ", "))
					}
					if v.Description != "" {
						row(tw, "description:", v.Description)
					}
					row(tw, "tags:", fmtTags(v.Tags))
					exp := "never"
					if v.Expires != nil {
						exp = fmtTime(*v.Expires)
					}
					row(tw, "expires:", exp)
					row(tw, "created:", fmtTime(v.CreatedAt))
					row(tw, "updated:", fmtTime(v.UpdatedAt))
					return nil
				})
			})
		},
	}
	cmd.Flags().BoolVar(&reveal, "reveal", false, "print the value")
	sf.add(cmd)
	addOutputFlag(cmd, &format)
	return cmd
}

// listEntry is one row of `secret ls`.
type listEntry struct {
	Name      string            `json:"name"`
	Scope     string            `json:"scope"`
	Version   int64             `json:"version"`
	Type      string            `json:"type"`
	Tags      map[string]string `json:"tags,omitempty"`
	Expires   *time.Time        `json:"expires,omitempty"`
	UpdatedAt time.Time         `json:"updatedAt"`
	State     string            `json:"state"`
}

func newSecretLsCmd() *cobra.Command {
	var (
		expired bool
		limit   int
		token   string
		sf      scopeFlags
		format  string
	)
	cmd := &cobra.Command{
		Use:   "ls [PREFIX]",
		Short: "List secrets (names and metadata, never values)",
		Long: `List the secrets whose names start with PREFIX, in name order. Without
--limit every page is read; with --limit one page is printed and, if there
are more, the token for the next page is printed on stderr. Expired secrets
are left out unless --expired is given (their STATE is then "expired"; their
values are never read).`,
		Example: `  wfrun secret ls
  wfrun secret ls project/app/ -o json
  wfrun secret ls --limit 50 --continuation-token TOKEN`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkFormat(format); err != nil {
				return err
			}
			prefix := ""
			if len(args) == 1 {
				prefix = args[0]
			}
			return withStore(cmd, &sf, func(s store.Store, scope store.Scope) error {
				var names []string
				tok := token
				for {
					p, err := s.List(cmd.Context(), store.ListOptions{Prefix: prefix, Limit: limit, ContinuationToken: tok, Expired: expired})
					if err != nil {
						if errors.Is(err, store.ErrInvalidToken) {
							return usageErr(err)
						}
						return err
					}
					names = append(names, p.Names...)
					tok = p.ContinuationToken
					if tok == "" || limit > 0 {
						break
					}
				}
				found, _, err := store.GetMany(cmd.Context(), s, names)
				if err != nil {
					return err
				}
				entries := make([]listEntry, 0, len(names))
				for _, n := range names {
					e := listEntry{Name: n, Scope: scope.String(), Type: "-"}
					if sec := found[n]; sec != nil {
						v := newSecretView(sec, false)
						e.Scope, e.Version, e.Type, e.Tags, e.Expires, e.UpdatedAt, e.State = v.Scope, v.Version, v.Type, v.Tags, v.Expires, v.UpdatedAt, v.State
					}
					entries = append(entries, e)
				}
				if tok != "" {
					fmt.Fprintf(cmd.ErrOrStderr(), "more secrets: --continuation-token %s\n", tok)
				}
				return render(cmd.OutOrStdout(), format, entries, func(w io.Writer) error {
					head := []string{"NAME", "SCOPE", "VERSION", "TYPE", "UPDATED", "EXPIRES", "TAGS"}
					if expired {
						head = append(head, "STATE")
					}
					row(w, head...)
					for _, e := range entries {
						exp := "never"
						if e.Expires != nil {
							exp = fmtTime(*e.Expires)
						}
						cells := []string{e.Name, e.Scope, strconv.FormatInt(e.Version, 10), e.Type, fmtTime(e.UpdatedAt), exp, fmtTags(e.Tags)}
						if expired {
							cells = append(cells, e.State)
						}
						row(w, cells...)
					}
					return nil
				})
			})
		},
	}
	cmd.Flags().BoolVar(&expired, "expired", false, "include expired secrets (metadata only, with their state)")
	cmd.Flags().IntVar(&limit, "limit", 0, "print one page of at most this many names")
	cmd.Flags().StringVar(&token, "continuation-token", "", "resume a paged listing")
	sf.add(cmd)
	addOutputFlag(cmd, &format)
	return cmd
}

func newSecretRmCmd() *cobra.Command {
	var (
		sf  scopeFlags
		out outputFlags
	)
	cmd := &cobra.Command{
		Use:     "rm NAME…",
		Short:   "Delete secrets and their history (deleting a missing secret succeeds)",
		Example: "  wfrun secret rm api_token old/token\n  wfrun secret rm api_token -o json",
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			for _, n := range args {
				if err := validName(n); err != nil {
					return err
				}
			}
			if err := out.check(); err != nil {
				return err
			}
			type removal struct {
				Name    string `json:"name"`
				Scope   string `json:"scope"`
				Removed bool   `json:"removed"` // false: there was nothing to remove
			}
			return withStore(cmd, &sf, func(s store.Store, scope store.Scope) error {
				var done []removal
				for _, n := range args {
					existed, err := secretExists(cmd.Context(), s, n)
					if err != nil {
						return err
					}
					if err := s.Delete(cmd.Context(), n); err != nil {
						return err
					}
					if !existed {
						n = withheld // a name no secret holds may be a value
					}
					done = append(done, removal{n, scope.String(), existed})
				}
				return out.render(cmd.OutOrStdout(), done, func(t *table) {
					for i, r := range done {
						if r.Removed {
							t.line(fmt.Sprintf("removed secret %q", r.Name))
						} else {
							t.line(fmt.Sprintf("no secret of the %s name: nothing to remove (a name no secret holds is not shown)", ordinal(i+1)))
						}
					}
				})
			})
		},
	}
	sf.add(cmd)
	out.add(cmd)
	return cmd
}

func newSecretTagCmd() *cobra.Command {
	var (
		remove []string
		sf     scopeFlags
		out    outputFlags
	)
	cmd := &cobra.Command{
		Use:   "tag NAME [key=value…] [--rm key…]",
		Short: "Set or remove a secret's tags (does not change its version)",
		Example: `  wfrun secret tag api_token env=prod team=payments
  wfrun secret tag api_token --rm team`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			if err := validName(name); err != nil {
				return err
			}
			if len(args) == 1 && len(remove) == 0 {
				return usageErr(errors.New("tag: give key=value pairs and/or --rm key"))
			}
			tags, err := parseTags(args[1:])
			if err != nil {
				return usageErr(err)
			}
			if err := out.check(); err != nil {
				return err
			}
			return withStore(cmd, &sf, func(s store.Store, _ store.Scope) error {
				if len(tags) > 0 {
					if err := s.SetTags(cmd.Context(), name, tags); err != nil {
						return withholdMissing(err, name)
					}
				}
				if len(remove) > 0 {
					if err := s.DeleteTags(cmd.Context(), name, remove...); err != nil {
						return withholdMissing(err, name)
					}
				}
				sec, err := s.Get(cmd.Context(), name)
				if err != nil && !errors.Is(err, store.ErrExpired) {
					return err
				}
				v := struct {
					Name  string            `json:"name"`
					Scope string            `json:"scope,omitempty"`
					Tags  map[string]string `json:"tags"`
				}{Name: name, Tags: map[string]string{}}
				if sec != nil {
					v.Scope = sec.Scope.String()
					if sec.Tags != nil {
						v.Tags = sec.Tags
					}
				}
				return out.render(cmd.OutOrStdout(), v, func(t *table) {
					t.line(fmt.Sprintf("tagged secret %q: %s", name, fmtTags(v.Tags)))
				})
			})
		},
	}
	cmd.Flags().StringArrayVar(&remove, "rm", nil, "tag key to remove (repeatable)")
	sf.add(cmd)
	out.add(cmd)
	return cmd
}

func newSecretHistoryCmd() *cobra.Command {
	var (
		n      int
		reveal bool
		sf     scopeFlags
		format string
	)
	cmd := &cobra.Command{
		Use:   "history NAME",
		Short: "Show a secret's kept versions, newest first (values only with --reveal)",
		Example: `  wfrun secret history api_token
  wfrun secret history api_token -n 2 -o json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := validName(args[0]); err != nil {
				return err
			}
			if err := checkFormat(format); err != nil {
				return err
			}
			return withStore(cmd, &sf, func(s store.Store, _ store.Scope) error {
				h, err := s.History(cmd.Context(), args[0], n)
				if err != nil {
					return withholdMissing(err, args[0])
				}
				views := make([]*secretView, len(h))
				for i, sec := range h {
					views[i] = newSecretView(sec, reveal)
				}
				return render(cmd.OutOrStdout(), format, views, func(w io.Writer) error {
					// STATE appears when a version has expired (the model of
					// `secret get` and `ls --expired`).
					showState := false
					for _, v := range views {
						showState = showState || v.State != "active"
					}
					head := []string{"VERSION", "UPDATED", "EXPIRES", "TYPE", "SIZE"}
					if showState {
						head = []string{"VERSION", "UPDATED", "EXPIRES", "STATE", "TYPE", "SIZE"}
					}
					if reveal {
						head = append(head, "VALUE")
					}
					row(w, head...)
					for _, v := range views {
						exp := "never"
						if v.Expires != nil {
							exp = fmtTime(*v.Expires)
						}
						cells := []string{strconv.FormatInt(v.Version, 10), fmtTime(v.UpdatedAt), exp, v.Type, strconv.Itoa(v.Size)}
						if showState {
							cells = []string{strconv.FormatInt(v.Version, 10), fmtTime(v.UpdatedAt), exp, v.State, v.Type, strconv.Itoa(v.Size)}
						}
						if reveal {
							cells = append(cells, string(v.Value))
						}
						row(w, cells...)
					}
					return nil
				})
			})
		},
	}
	cmd.Flags().IntVarP(&n, "number", "n", 0, "how many versions (default: all kept)")
	cmd.Flags().BoolVar(&reveal, "reveal", false, "include the values")
	sf.add(cmd)
	addOutputFlag(cmd, &format)
	return cmd
}
