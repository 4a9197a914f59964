package server_test

import (
	"fmt"
	"testing"
)

// TestE2ESwitch ports SwitchTests (testSwitchHappySms, testSwitchHappyEmail
// and testSwitchNegetive, @Disabled in Conductor for its timing with the
// SDK): sdk_switch_test as the Java SDK's ConductorWorkflow builds it
// (transcribed/e2e_sdk_switch_test.json) is started with its definition
// (executeDynamic) and run by the test's annotated workers. SMS: 4 tasks,
// the fourth (send_push) with its formatted result; EMAIL: 3 tasks, the
// third send_email's; another preference: the default case, 3 tasks, the
// SWITCH's evaluationResult ["Whatsapp"].
func TestE2ESwitch(t *testing.T) {
	ts := ctlServer(t)
	def := ctlFile(t, "transcribed/e2e_sdk_switch_test.json")
	str := func(v any) string {
		if v == nil {
			return "null"
		}
		return fmt.Sprint(v)
	}
	ctlWorkers(t, ts, []string{"get_user_details", "send_email", "send_sms", "send_push", "default_switch_case"}, "",
		func(name string, in map[string]any) map[string]any {
			switch name {
			case "get_user_details":
				return map[string]any{"phoneNumber": "9999999999", "email": str(in["userId"]) + "@gmail.com"}
			case "send_email":
				return map[string]any{"result": "EMAIL: " + str(in["email"])}
			case "send_sms":
				return map[string]any{"result": "SMS: " + str(in["phoneNumber"])}
			case "send_push":
				return map[string]any{"result": "Sending push for  " + str(in["userId"]) + "[Email: " + str(in["email"]) + "][PhoneNumber: " + str(in["phoneNumber"]) + "]"}
			default:
				return map[string]any{"result": "No activity found for  " + str(in["userId"]) + "[Email: " + str(in["email"]) + "][PhoneNumber: " + str(in["phoneNumber"]) + "]"}
			}
		})
	for _, tc := range []struct {
		test, preference string
		size, task       int
		result           string
	}{
		{"testSwitchHappySms", "SMS", 4, 3, "Sending push for  userA[Email: userA@gmail.com][PhoneNumber: 9999999999]"},
		{"testSwitchHappyEmail", "EMAIL", 3, 2, "EMAIL: userA@gmail.com"},
		{"testSwitchNegetive", "Whatsapp", 3, -1, ""},
	} {
		t.Run(tc.test, func(t *testing.T) {
			id := ctlStart(t, ts, `{"name":"sdk_switch_test","version":1,"input":{"name":"userA","notificationPreference":"`+tc.preference+`"},"workflowDef":`+def+`}`)
			d := ctlAwait(t, ts, id, ctlStatus("COMPLETED"))
			if len(d.Tasks) != tc.size {
				t.Fatalf("%d tasks, want %d (%s)", len(d.Tasks), tc.size, d.shape())
			}
			if tc.task >= 0 {
				if got := d.Tasks[tc.task].OutputData["result"]; got != tc.result {
					t.Errorf("task %d result %q, want %q", tc.task, got, tc.result)
				}
				return
			}
			if got := fmt.Sprint(d.Tasks[1].OutputData["evaluationResult"]); got != "[Whatsapp]" {
				t.Errorf("SWITCH evaluationResult %s, want [Whatsapp]", got)
			}
		})
	}
}
