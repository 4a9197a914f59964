package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestOrkesJSSDKEvents drives the event handlers with the Orkes
// JavaScript SDK 4.0.0, unmodified (token auth on): addEventHandler (it
// sends a list), getEventHandlerByName, an update_workflow_variables
// handler fed by two EVENT tasks, getEventExecutions,
// getAllActiveEventHandlers, getEventHandlersWithStats and
// getEventMessages.
func TestOrkesJSSDKEvents(t *testing.T) {
	sdk := jsSDKDir(t)
	ts := newConductorServer(t, nil, serverWithAuth(t))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", "testdata/js/events.cjs")
	cmd.Env = append(os.Environ(), "SDK_DIR="+sdk, "SERVER_URL="+ts.URL+"/api", "KEY_ID=app-all", "KEY_SECRET=app-all-secret-0123456789")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var got struct {
		Error      string   `json:"error"`
		Handler    string   `json:"handler"`
		UpdatedBy  []string `json:"updatedBy"`
		Executions []string `json:"executions"`
		Active     []string `json:"active"`
		Missing    string   `json:"missing"`
		Stats      []string `json:"stats"`
		Messages   []string `json:"messages"`
	}
	lines := bytes.Split(bytes.TrimSpace(stdout.Bytes()), []byte("\n"))
	if jerr := json.Unmarshal(lines[len(lines)-1], &got); err != nil || jerr != nil || got.Error != "" {
		t.Fatalf("node: %v %v\nstdout: %s\nstderr: %s", err, got.Error, stdout.String(), stderr.String())
	}
	if got.Handler != "js_vars:update_workflow_variables" || got.Missing != "error" {
		t.Errorf("handlers through the JS SDK: %+v", got)
	}
	if strings.Join(got.UpdatedBy, ",") != "ann,bob" {
		t.Errorf("variables after two messages: %v", got.UpdatedBy)
	}
	if strings.Join(got.Executions, ",") != "update_workflow_variables:COMPLETED,update_workflow_variables:COMPLETED" ||
		strings.Join(got.Active, ",") != "js_vars:1:2" {
		t.Errorf("executions %v, active handlers %v", got.Executions, got.Active)
	}
	if strings.Join(got.Stats, ",") != "js_vars:2" || strings.Join(got.Messages, ",") != "HANDLED:1,HANDLED:1" {
		t.Errorf("handlers with statistics %v, messages %v", got.Stats, got.Messages)
	}
}
