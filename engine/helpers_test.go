package engine_test

import "os"

func writeFile(p, s string) error { return os.WriteFile(p, []byte(s), 0o600) }

// byRef indexes a run's task records by reference name; a later record
// of a reference (a retry) replaces an earlier one.
func byRef(tasks []taskView) map[string]taskView {
	recs := make(map[string]taskView, len(tasks))
	for _, tk := range tasks {
		recs[tk.Ref] = tk
	}
	return recs
}
