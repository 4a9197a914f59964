// Drives wfrun serve's POST /api/workflow/{id}/variables with the Orkes
// JavaScript SDK, unmodified: WorkflowExecutor.updateVariables on a run
// held at a WAIT task, then the run is let go and reads the variables.
// Prints one JSON line of findings.
const { createRequire } = require("node:module");
const sdkRequire = createRequire(process.env.SDK_DIR + "/");
const { orkesConductorClient, WorkflowExecutor } = sdkRequire("@io-orkes/conductor-javascript");

const findings = {};

async function waitFor(executor, id, ok) {
  const deadline = Date.now() + 20000;
  for (;;) {
    const wf = await executor.getWorkflow(id, true);
    if (ok(wf) || Date.now() > deadline) return wf;
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function main() {
  const client = await orkesConductorClient({
    serverUrl: process.env.SERVER_URL, keyId: process.env.KEY_ID, keySecret: process.env.KEY_SECRET,
  });
  const executor = new WorkflowExecutor(client);
  await executor.registerWorkflow(true, {
    name: "js_variables_flow", version: 1, schemaVersion: 2, timeoutSeconds: 0, variables: { stage: "one" },
    tasks: [
      { name: "hold", taskReferenceName: "hold", type: "WAIT" },
      { name: "read", taskReferenceName: "read", type: "INLINE",
        inputParameters: { evaluatorType: "javascript", expression: "$.stage + '/' + $.count", stage: "${workflow.variables.stage}", count: "${workflow.variables.count}" } },
    ],
    outputParameters: { read: "${read.output.result}" },
  });
  const id = await executor.startWorkflow({ name: "js_variables_flow", version: 1, input: {} });
  await waitFor(executor, id, (wf) => (wf.tasks || []).length === 1 && wf.tasks[0].status === "IN_PROGRESS");
  const updated = await executor.updateVariables(id, { stage: "two", count: 2, _secrets: { token: process.env.SECRET_VALUE } });
  findings.updated = { id: updated.workflowId === id, status: updated.status, variables: updated.variables };
  await executor.signalAsync(id, "COMPLETED", {});
  const wf = await waitFor(executor, id, (wf) => wf.status !== "RUNNING");
  findings.status = wf.status;
  findings.output = wf.output;
  findings.variables = wf.variables;
}

main().then(
  () => { console.log(JSON.stringify(findings)); process.exit(0); },
  (err) => { console.log(JSON.stringify({ error: String(err && err.message || err) })); process.exit(1); },
);
