package store

// RunScoper is implemented by backends that keep state for one run: the
// Vault provider's view reads each secret at most once per run.
type RunScoper interface {
	// ForRun returns a view of the backend for one run. The view shares the
	// backend's connections; closing it releases only the run's state.
	ForRun() Store
}

// PerRun returns the view of s for one run: s's ForRun when it is a
// RunScoper, a chain of per-run views for a layered store, else s itself.
// NewRunView calls it, so every run gets its own view.
func PerRun(s Store) Store {
	switch v := s.(type) {
	case *layered:
		layers := make([]Store, len(v.layers))
		changed := false
		for i, l := range v.layers {
			layers[i] = PerRun(l)
			changed = changed || layers[i] != l
		}
		if !changed {
			return s
		}
		return &layered{layers: layers}
	case RunScoper:
		return v.ForRun()
	}
	return s
}
