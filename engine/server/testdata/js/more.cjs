// Drives the run and task endpoints beyond start/status with the Orkes
// JavaScript SDK, unmodified: runs by correlation id, a task by id, the
// synchronous update by reference, and removing a run. Prints one JSON line
// of findings; never prints the secret value (leaks says where it appeared).
const { createRequire } = require("node:module");
const sdkRequire = createRequire(process.env.SDK_DIR + "/");
const { orkesConductorClient, WorkflowExecutor } = sdkRequire("@io-orkes/conductor-javascript");

const VALUE = process.env.SECRET_VALUE;
const findings = { leaks: [] };
const look = (what, v) => { if (JSON.stringify(v).includes(VALUE)) findings.leaks.push(what); };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function heldAt(executor, id, ref) {
  for (let i = 0; i < 500; i++) {
    const wf = await executor.getWorkflow(id, true);
    const t = (wf.tasks || []).find((t) => t.referenceTaskName === ref && t.status === "IN_PROGRESS");
    if (t) return t.taskId;
    await sleep(20);
  }
  throw new Error("run " + id + " never held at " + ref);
}

async function main() {
  const client = await orkesConductorClient({
    serverUrl: process.env.SERVER_URL, keyId: process.env.KEY_ID, keySecret: process.env.KEY_SECRET,
  });
  const executor = new WorkflowExecutor(client);
  await executor.registerWorkflow(true, {
    name: "js_corr", version: 1, schemaVersion: 2, timeoutSeconds: 0,
    tasks: [
      { name: "setv", taskReferenceName: "setv", type: "SET_VARIABLE", inputParameters: { token: "${workflow.secrets.js_token}" } },
      { name: "hold", taskReferenceName: "hold", type: "WAIT" },
      { name: "later", taskReferenceName: "later", type: "WAIT" },
    ],
  });
  const a = await executor.startWorkflow({ name: "js_corr", version: 1, correlationId: "j1", input: {} });
  const b = await executor.startWorkflow({ name: "js_corr", version: 1, correlationId: "j1", input: {} });
  const holdA = await heldAt(executor, a, "hold");
  await heldAt(executor, b, "hold");

  const byCorr = await executor.getByCorrelationIds({ workflowNames: ["js_corr"], correlationIds: ["j1", "none"] }, false, true);
  look("getByCorrelationIds", byCorr);
  findings.correlated = (byCorr.j1 || []).map((w) => w.workflowId).sort();
  findings.correlatedNone = (byCorr.none || []).length;
  findings.correlatedVariable = ((byCorr.j1 || [])[0] || {}).variables?.token;
  findings.ids = [a, b].sort();

  const task = await executor.getTask(holdA);
  look("getTask", task);
  findings.task = task.referenceTaskName + ":" + task.status + ":" + task.workflowInstanceId;
  findings.a = a;

  const wf = await executor.updateTaskSync("hold", a, "COMPLETED", { echo: VALUE });
  look("updateTaskSync", wf);
  const hold = (wf.tasks || []).find((t) => t.referenceTaskName === "hold");
  findings.sync = wf.workflowId + ":" + (hold && hold.status) + ":" + JSON.stringify(hold && hold.outputData);

  await executor.deleteWorkflow(b);
  try {
    await executor.getWorkflow(b, false);
    findings.removed = "still there";
  } catch (e) {
    findings.removed = "gone";
  }
}

main().then(() => {
  console.log(JSON.stringify(findings));
  process.exit(0);
}, (e) => {
  const msg = String(e && e.message || e).split(VALUE).join("<value>");
  console.log(JSON.stringify({ error: msg }));
  process.exit(1);
});
