// Drives wfrun serve's task signal endpoints with the Orkes JavaScript SDK,
// unmodified: WorkflowExecutor.signal with each return strategy, and
// signalAsync. Prints one JSON line of findings.
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
    name: "js_signal_flow", version: 1, schemaVersion: 2, timeoutSeconds: 0,
    tasks: [
      { name: "first", taskReferenceName: "first", type: "WAIT" },
      { name: "second", taskReferenceName: "second", type: "WAIT", inputParameters: { got: "${first.output}" } },
      { name: "third", taskReferenceName: "third", type: "WAIT" },
    ],
    outputParameters: { second: "${second.output}", third: "${third.output}" },
  });
  const id = await executor.startWorkflow({ name: "js_signal_flow", version: 1, input: {} });
  await waitFor(executor, id, (wf) => (wf.tasks || []).length === 1 && wf.tasks[0].status === "IN_PROGRESS");

  const blockingTask = await executor.signal(id, "COMPLETED", { step: 1 }, "BLOCKING_TASK");
  findings.blockingTask = {
    isTask: blockingTask.isBlockingTask(), ref: blockingTask.referenceTaskName, status: blockingTask.status,
    input: blockingTask.input, target: blockingTask.targetWorkflowId === id, type: blockingTask.responseType,
    timeout: blockingTask.signalTimeout,
  };
  const blockingWorkflow = await executor.signal(id, "COMPLETED", { step: 2 }, "BLOCKING_WORKFLOW");
  findings.blockingWorkflow = {
    isWorkflow: blockingWorkflow.isBlockingWorkflow(), id: blockingWorkflow.workflowId === id,
    tasks: (blockingWorkflow.tasks || []).map((t) => t.referenceTaskName + ":" + t.status),
  };
  await executor.signalAsync(id, "COMPLETED", { step: 3 });
  const wf = await waitFor(executor, id, (wf) => wf.status !== "RUNNING");
  findings.status = wf.status;
  findings.output = wf.output;
}

main().then(
  () => { console.log(JSON.stringify(findings)); process.exit(0); },
  (err) => { console.log(JSON.stringify({ error: String(err && err.message || err) })); process.exit(1); },
);
