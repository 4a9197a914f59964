// Drives a synchronous execution, task execution logs and the task search
// with the Orkes JavaScript SDK, unmodified. Prints one JSON line of
// findings; never prints the secret value (leaks says where it appeared).
const { createRequire } = require("node:module");
const sdkRequire = createRequire(process.env.SDK_DIR + "/");
const { orkesConductorClient, WorkflowExecutor, TaskClient } = sdkRequire("@io-orkes/conductor-javascript");

const VALUE = process.env.SECRET_VALUE;
const findings = { leaks: [] };
const look = (what, v) => { if (JSON.stringify(v).includes(VALUE)) findings.leaks.push(what); };

async function main() {
  const client = await orkesConductorClient({
    serverUrl: process.env.SERVER_URL, keyId: process.env.KEY_ID, keySecret: process.env.KEY_SECRET,
  });
  const executor = new WorkflowExecutor(client);
  const tasks = new TaskClient(client);
  await executor.registerWorkflow(true, {
    name: "js_exec", version: 1, schemaVersion: 2, timeoutSeconds: 0,
    tasks: [
      { name: "setv", taskReferenceName: "setv", type: "SET_VARIABLE", inputParameters: { token: "${workflow.secrets.js_token}" } },
      { name: "hold", taskReferenceName: "hold", type: "WAIT" },
    ],
  });
  const run = await executor.executeWorkflow({ name: "js_exec", version: 1, input: {} }, "js_exec", 1, "js-req-1");
  look("executeWorkflow", run);
  findings.run = run.status + ":" + run.requestId + ":" + (run.variables && run.variables.token);
  const hold = (run.tasks || []).find((t) => t.referenceTaskName === "hold");
  findings.holdStatus = hold && hold.status;
  if (!hold) throw new Error("no hold task in " + JSON.stringify(run).split(VALUE).join("<value>").slice(0, 1500));

  await tasks.addTaskLog(hold.taskId, "js line " + VALUE);
  const logs = await tasks.getTaskLogs(hold.taskId);
  look("getTaskLogs", logs);
  findings.logs = (logs || []).map((l) => l.log);

  const found = await tasks.search(0, 10, "", "*", "workflowType = js_exec AND taskType = WAIT");
  look("search", found);
  findings.searchHits = found.totalHits;
  findings.searchTask = ((found.results || [])[0] || {}).taskId === hold.taskId;
}

main().then(() => {
  console.log(JSON.stringify(findings));
  process.exit(0);
}, (e) => {
  const msg = String(e && e.message || e).split(VALUE).join("<value>");
  console.log(JSON.stringify({ error: msg }));
  process.exit(1);
});
