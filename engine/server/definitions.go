package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"

	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"

	"github.com/wfrun/wfrun/engine"
)

// Definitions registered through /api/metadata live as JSON files in one
// directory: workflows as <name>.<version>.json (the directory the engine
// looks SUB_WORKFLOW names up in), task definitions under taskdefs/.
// Several serve processes may share the directory.

// ErrNoDefinition: an unknown workflow or task definition.
var ErrNoDefinition = errors.New("definition not found")

// ErrDefinitionExists: a workflow version registered again without overwrite.
var ErrDefinitionExists = errors.New("definition already exists")

type defStore struct {
	dir string
	mu  sync.Mutex
}

func validDefName(name string) error {
	if name == "" || len(name) > 200 {
		return fmt.Errorf("definition name must be 1-200 characters")
	}
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return fmt.Errorf("definition name %q: allowed are A-Z a-z 0-9 _ -", name)
		}
	}
	return nil
}

type defHead struct {
	Name    string `json:"name"`
	Version int    `json:"version"`
}

// storedAs reads the definition at path and reports whether it is named
// name. On a case-insensitive filesystem (macOS, Windows) "Deploy.1.json"
// and "deploy.1.json" are one file: a definition is read, replaced or
// deleted through a path only when the file holds that exact name, so a
// principal with metadata:write:Deploy can neither overwrite nor delete
// deploy, nor is Deploy answered with deploy's definition.
func storedAs(path, name string) (b []byte, exists, same bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, false, false
	}
	var h defHead
	if json.Unmarshal(b, &h) != nil {
		return b, true, false
	}
	return b, true, h.Name == name
}

// caseClash is the error for a name whose file holds another name.
func caseClash(kind, name string) error {
	return fmt.Errorf("%w: %s %s: its file holds a definition whose name differs only in case (one file on this filesystem)", ErrDefinitionExists, kind, name)
}

func (d *defStore) workflowPath(name string, version int) string {
	return filepath.Join(d.dir, fmt.Sprintf("%s.%d.json", name, version))
}

// putWorkflow stores a workflow definition (already validated).
func (d *defStore) putWorkflow(raw []byte, overwrite bool) error {
	var h defHead
	if err := json.Unmarshal(raw, &h); err != nil {
		return err
	}
	if err := validDefName(h.Name); err != nil {
		return err
	}
	if !gjson.GetBytes(raw, "version").Exists() {
		// Conductor's WorkflowDef defaults version to 1: a definition sent
		// without one is version 1 there, and is started as version 1.
		var err error
		if raw, err = sjson.SetBytes(raw, "version", 1); err != nil {
			return err
		}
		h.Version = 1
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	p := d.workflowPath(h.Name, h.Version)
	if _, exists, same := storedAs(p, h.Name); exists {
		if !same {
			return caseClash("workflow", h.Name)
		}
		if !overwrite {
			return fmt.Errorf("%w: workflow %s version %d", ErrDefinitionExists, h.Name, h.Version)
		}
	}
	return writeFileAtomic(p, raw)
}

// workflow returns a workflow definition; version 0 means the highest.
func (d *defStore) workflow(name string, version int) ([]byte, error) {
	if err := validDefName(name); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNoDefinition, err)
	}
	if version > 0 {
		b, _, same := storedAs(d.workflowPath(name, version), name)
		if !same {
			return nil, fmt.Errorf("%w: workflow %s version %d", ErrNoDefinition, name, version)
		}
		return b, nil
	}
	all, err := d.workflows(name)
	if err != nil {
		return nil, err
	}
	if len(all) == 0 {
		return nil, fmt.Errorf("%w: workflow %s", ErrNoDefinition, name)
	}
	return all[len(all)-1], nil
}

// workflows lists the definitions of name ("" = all), by name then version.
func (d *defStore) workflows(name string) ([][]byte, error) {
	files, err := filepath.Glob(filepath.Join(d.dir, "*.json"))
	if err != nil {
		return nil, err
	}
	type item struct {
		h   defHead
		raw []byte
	}
	var items []item
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		var h defHead
		if json.Unmarshal(b, &h) != nil || (name != "" && h.Name != name) {
			continue
		}
		items = append(items, item{h, b})
	}
	sort.Slice(items, func(i, j int) bool {
		if items[i].h.Name != items[j].h.Name {
			return items[i].h.Name < items[j].h.Name
		}
		return items[i].h.Version < items[j].h.Version
	})
	out := make([][]byte, len(items))
	for i, it := range items {
		out[i] = it.raw
	}
	return out, nil
}

func (d *defStore) deleteWorkflow(name string, version int) error {
	if err := validDefName(name); err != nil {
		return fmt.Errorf("%w: %v", ErrNoDefinition, err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	p := d.workflowPath(name, version)
	if _, _, same := storedAs(p, name); !same || os.Remove(p) != nil {
		return fmt.Errorf("%w: workflow %s version %d", ErrNoDefinition, name, version)
	}
	return nil
}

func (d *defStore) taskPath(name string) string {
	return filepath.Join(d.dir, "taskdefs", name+".json")
}

func (d *defStore) putTask(raw []byte) error {
	var h defHead
	if err := json.Unmarshal(raw, &h); err != nil {
		return err
	}
	if err := validDefName(h.Name); err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	p := d.taskPath(h.Name)
	if _, exists, same := storedAs(p, h.Name); exists && !same {
		return caseClash("task", h.Name)
	}
	return writeFileAtomic(p, raw)
}

func (d *defStore) task(name string) ([]byte, error) {
	if validDefName(name) != nil {
		return nil, fmt.Errorf("%w: task %s", ErrNoDefinition, name)
	}
	b, _, same := storedAs(d.taskPath(name), name)
	if !same {
		return nil, fmt.Errorf("%w: task %s", ErrNoDefinition, name)
	}
	return b, nil
}

func (d *defStore) tasks() ([][]byte, error) {
	files, err := filepath.Glob(filepath.Join(d.dir, "taskdefs", "*.json"))
	if err != nil {
		return nil, err
	}
	sort.Strings(files)
	var out [][]byte
	for _, f := range files {
		if b, err := os.ReadFile(f); err == nil {
			out = append(out, b)
		}
	}
	return out, nil
}

func (d *defStore) deleteTask(name string) error {
	if validDefName(name) != nil {
		return fmt.Errorf("%w: task %s", ErrNoDefinition, name)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	p := d.taskPath(name)
	if _, _, same := storedAs(p, name); !same || os.Remove(p) != nil {
		return fmt.Errorf("%w: task %s", ErrNoDefinition, name)
	}
	return nil
}

// TaskDef implements engine.TaskDefSource: the engine asks for a task's
// registered definition each time it schedules one, so a definition
// registered through the API applies to the next task.
func (d *defStore) TaskDef(name string) (*engine.TaskDef, bool) {
	b, err := d.task(name)
	if err != nil {
		return nil, false
	}
	defs, err := engine.ParseTaskDefs(b)
	if err != nil || len(defs) != 1 {
		return nil, false
	}
	return defs[0], true
}

func writeFileAtomic(path string, b []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".def-*")
	if err != nil {
		return err
	}
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// prepareDefinition turns a registered definition into what the engine
// runs: the document decoded (numbers as written) and encoded again. A
// worker task's `$<…>` is kept for its worker by the engine itself
// (engine.WithAngleForWorkers), wherever the task comes from.
func (d *defStore) prepareDefinition(raw []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var doc map[string]any
	if err := dec.Decode(&doc); err != nil {
		return nil, err
	}
	return json.Marshal(doc)
}
