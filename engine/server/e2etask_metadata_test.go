package server_test

import (
	"testing"

	"github.com/antihax/optional"
	"github.com/conductor-sdk/conductor-go/sdk/client"
	"github.com/conductor-sdk/conductor-go/sdk/model"
	"github.com/conductor-sdk/conductor-go/sdk/settings"
)

// Ports of conductor-oss e2e metadata/MetadataClientTests and
// metadata/EventClientTests through `wfrun serve`, with the Go SDK's
// metadata and event clients in place of the Java ones. The definitions
// are the e2e util's: Commons.getTaskDef() (test-sdk-java-task) and
// WorkflowUtil.getWorkflowDef() (one SIMPLE task of that name, timeout 600
// s TIME_OUT_WF; the Java name is test_wf_ plus a random UUID).

const e2eWorkflowName = "test_wf_5b0c9f6e2d3a4e1f8a7b6c5d4e3f2a1b"

func TestConductorE2EMetadataClientTests(t *testing.T) {
	s := newE2TServer(t)
	ctx := t.Context()
	t.Run("testTaskDefinition", func(t *testing.T) {
		_, _ = s.meta.UnregisterTaskDef(ctx, "test-sdk-java-task") // may not exist
		def := javaTaskDef("test-sdk-java-task")
		if resp, err := s.meta.RegisterTaskDef(ctx, []model.TaskDef{def}); err != nil {
			t.Fatalf("registerTaskDefs: %v (status %d)", err, status(resp))
		}
		if resp, err := s.meta.UpdateTaskDef(ctx, def); err != nil {
			t.Fatalf("updateTaskDef: %v (status %d)", err, status(resp))
		}
		got, resp, err := s.meta.GetTaskDef(ctx, "test-sdk-java-task")
		if err != nil || got.Name != def.Name {
			t.Fatalf("getTaskDef: %+v %v (status %d)", got, err, status(resp))
		}
	})
	t.Run("testWorkflow", func(t *testing.T) {
		_, _ = s.meta.UnregisterWorkflowDef(ctx, e2eWorkflowName, 1) // may not exist
		if resp, err := s.meta.RegisterTaskDef(ctx, []model.TaskDef{javaTaskDef("test-sdk-java-task")}); err != nil {
			t.Fatalf("registerTaskDefs: %v (status %d)", err, status(resp))
		}
		def := model.WorkflowDef{Name: e2eWorkflowName, Version: 1, OwnerEmail: "test@conductor.io", TimeoutSeconds: 600, TimeoutPolicy: "TIME_OUT_WF",
			SchemaVersion: 2, Restartable: true,
			Tasks: []model.WorkflowTask{{Name: "test-sdk-java-task", TaskReferenceName: "test-sdk-java-task", Type_: "SIMPLE"}}}
		s.updateDefs(t, def)
		s.updateDefs(t, def)
		got, resp, err := s.meta.Get(ctx, e2eWorkflowName, &client.MetadataResourceApiGetOpts{Version: optional.NewInt32(1)})
		if err != nil || got.Name != e2eWorkflowName || got.Version != 1 {
			t.Fatalf("getWorkflowDef: %s v%d %v (status %d)", got.Name, got.Version, err, status(resp))
		}
	})
}

func TestConductorE2EEventClientTests(t *testing.T) {
	s := newE2TServer(t)
	ctx := t.Context()
	events := client.NewEventHandlerClient(client.NewAPIClient(nil, settings.NewHttpSettings(s.URL+"/api")))
	const name, event = "test_sdk_java_event_name", "test_sdk_java_event"
	_, _ = events.RemoveEventHandler(ctx, name) // may not exist
	h := model.EventHandler{Name: name, Event: event, Actions: []model.Action{{Action: "start_workflow",
		StartWorkflow: &model.StartWorkflow{Name: e2eWorkflowName, Version: 1}}}}
	if resp, err := events.AddEventHandler(ctx, h); err != nil {
		t.Fatalf("registerEventHandler: %v (status %d)", err, status(resp))
	}
	if resp, err := events.UpdateEventHandler(ctx, h); err != nil {
		t.Fatalf("updateEventHandler: %v (status %d)", err, status(resp))
	}
	all := &client.EventResourceApiGetEventHandlersForEventOpts{ActiveOnly: optional.NewBool(false)}
	got, resp, err := events.GetEventHandlersForEvent(ctx, event, all)
	if err != nil || len(got) != 1 {
		t.Fatalf("Expected exactly 1 event handler: %+v %v (status %d)", got, err, status(resp))
	}
	if got[0].Name != h.Name || got[0].Event != h.Event {
		t.Fatalf("handler %s on %s, want %s on %s", got[0].Name, got[0].Event, h.Name, h.Event)
	}
	if resp, err := events.RemoveEventHandler(ctx, name); err != nil {
		t.Fatalf("unregisterEventHandler: %v (status %d)", err, status(resp))
	}
	if got, resp, err := events.GetEventHandlersForEvent(ctx, event, all); err != nil || len(got) != 0 {
		t.Fatalf("after cleanup: %+v %v (status %d)", got, err, status(resp))
	}
}
