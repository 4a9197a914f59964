package main

import (
	"encoding/json"
	"strings"

	"github.com/spf13/cobra"

	"github.com/wfrun/wfrun/engine/runstore"
	"github.com/wfrun/wfrun/store"
)

// Shell completion of arguments that name stored things: run ids and
// secret names come from the configured stores (--home/--store are parsed
// before completion runs); enum flags complete their values.

type completionFunc = func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective)

// fixedCompletion completes one of values.
func fixedCompletion(values ...string) completionFunc {
	return func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return values, cobra.ShellCompDirectiveNoFileComp
	}
}

// completionLimit caps what a completion lists (newest runs first).
const completionLimit = 200

// completeRunIDs offers run ids (first argument only), described by
// workflow and status.
func completeRunIDs(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	return runIDCandidates(cmd, toComplete), cobra.ShellCompDirectiveNoFileComp
}

func runIDCandidates(cmd *cobra.Command, toComplete string) []string {
	rs, err := openRunStore(cmd)
	if err != nil {
		return nil
	}
	defer rs.Close()
	list, err := rs.List(cmd.Context(), runstore.ListOptions{Limit: completionLimit})
	if err != nil {
		return nil
	}
	var out []string
	for _, s := range list {
		if strings.HasPrefix(s.ID, toComplete) {
			out = append(out, s.ID+"\t"+s.WorkflowType+" "+s.Status)
		}
	}
	return out
}

// completeRunThenTask: a run id, then the reference of one of its waiting
// tasks (task complete).
func completeRunThenTask(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	switch len(args) {
	case 0:
		return runIDCandidates(cmd, toComplete), cobra.ShellCompDirectiveNoFileComp
	case 1:
		c, err := openEngine(cmd, nil, nil)
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		defer c.Close()
		view, err := c.Show(cmd.Context(), args[0])
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		var doc struct {
			Tasks []struct {
				Ref    string `json:"referenceTaskName"`
				Type   string `json:"taskType"`
				Status string `json:"status"`
			} `json:"tasks"`
		}
		if json.Unmarshal(view, &doc) != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		var out []string
		for _, t := range doc.Tasks {
			if (t.Status == "IN_PROGRESS" || t.Status == "SCHEDULED") && strings.HasPrefix(t.Ref, toComplete) {
				out = append(out, t.Ref+"\t"+t.Type+" "+t.Status)
			}
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	}
	return nil, cobra.ShellCompDirectiveNoFileComp
}

// completeSecretNames offers the names in the command's scope; every
// argument is a name (rm takes several), except for commands that take
// one name and then key=value pairs.
func completeSecretNames(firstOnly bool) completionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		if firstOnly && len(args) > 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		var names []string
		sf := &scopeFlags{}
		if f := cmd.Flag("project"); f != nil {
			sf.project = f.Value.String()
		}
		if f := cmd.Flag("environment"); f != nil {
			sf.environment = f.Value.String()
		}
		_ = withStore(cmd, sf, func(s store.Store, _ store.Scope) error {
			p, err := s.List(cmd.Context(), store.ListOptions{Prefix: toComplete, Limit: completionLimit})
			if err != nil {
				return err
			}
			names = p.Names
			return nil
		})
		return names, cobra.ShellCompDirectiveNoFileComp
	}
}

// argCompletions maps command paths to the completion of their arguments;
// enforceConventions installs them where a command has none of its own, so
// commands defined in any file get them.
var argCompletions = map[string]completionFunc{
	"wfrun show":           completeRunIDs,
	"wfrun resume":         completeRunIDs,
	"wfrun restart":        completeRunIDs,
	"wfrun terminate":      completeRunIDs,
	"wfrun runs rm":        completeRunIDs,
	"wfrun task complete":  completeRunThenTask,
	"wfrun secret get":     completeSecretNames(true),
	"wfrun secret exists":  completeSecretNames(true),
	"wfrun secret history": completeSecretNames(true),
	"wfrun secret tag":     completeSecretNames(true),
	"wfrun secret rm":      completeSecretNames(false),
	"wfrun secret set":     completeSecretNames(true),
}
