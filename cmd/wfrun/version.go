package main

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// Set at link time by release builds, which may not carry VCS data:
//
//	go build -ldflags "-X main.version=v1.2.0 -X main.commit=$(git rev-parse HEAD)" ./cmd/wfrun
var (
	version string
	commit  string
)

// buildVersion is what wfrun knows about its own build: the -X values
// first, then the module version and VCS revision Go records in the binary
// (`go install github.com/wfrun/wfrun/cmd/wfrun@v1.2.0` records v1.2.0; a
// build inside a git checkout records a pseudo-version and the commit, one
// with -buildvcs=false "(devel)" and no commit).
type buildVersion struct {
	Version   string `json:"version"`
	Commit    string `json:"commit,omitempty"`
	Modified  bool   `json:"modified,omitempty"`
	GoVersion string `json:"goVersion"`
	Platform  string `json:"platform"`
}

func readBuildVersion() buildVersion {
	v := buildVersion{Version: version, Commit: commit, GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if bi, ok := debug.ReadBuildInfo(); ok {
		if v.Version == "" {
			v.Version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				if v.Commit == "" {
					v.Commit = s.Value
				}
			case "vcs.modified":
				v.Modified = s.Value == "true"
			}
		}
	}
	if v.Version == "" {
		v.Version = "(devel)"
	}
	return v
}

// versionString is the one-line form of --version and `wfrun version`.
func versionString() string {
	v := readBuildVersion()
	s := "wfrun " + v.Version
	switch {
	case v.Commit != "":
		c := v.Commit
		if len(c) > 12 {
			c = c[:12]
		}
		s += " (commit " + c
		if v.Modified {
			s += ", modified"
		}
		s += ")"
	default:
		s += " (commit unknown: built without VCS data)"
	}
	return fmt.Sprintf("%s %s %s", s, v.GoVersion, v.Platform)
}

func newVersionCmd() *cobra.Command {
	var out outputFlags
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the wfrun version, commit, Go version and platform",
		Long: `Print the module version and VCS commit recorded in the binary. A binary
installed with 'go install github.com/wfrun/wfrun/cmd/wfrun@VERSION' reports
VERSION; 'go install ./cmd/wfrun' in a git checkout reports a pseudo-version
(v0.0.0-DATE-COMMIT) and the commit; built with -buildvcs=false or outside git,
"(devel)" and no commit. Release builds set both with
-ldflags "-X main.version=... -X main.commit=...".`,
		Example: "  wfrun version\n  wfrun --version\n  wfrun version -o json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := out.check(); err != nil {
				return err
			}
			return out.render(cmd.OutOrStdout(), readBuildVersion(), func(t *table) {
				t.line(versionString())
			})
		},
	}
	out.add(cmd)
	return cmd
}
