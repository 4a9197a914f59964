// Drives wfrun serve's workflow test endpoint with the Orkes JavaScript
// SDK, unmodified: WorkflowExecutor.testWorkflow with each request file
// given (Conductor's WorkflowTestRequest JSON), then getWorkflow of the run
// it answered. Prints one JSON line of findings.
const fs = require("node:fs");
const { createRequire } = require("node:module");
const sdkRequire = createRequire(process.env.SDK_DIR + "/");
const { orkesConductorClient, WorkflowExecutor } = sdkRequire("@io-orkes/conductor-javascript");

const list = (wf) => (wf.tasks || []).map((t) => t.referenceTaskName + ":" + t.taskType + ":" + t.status).join(" ");

async function main() {
  const client = await orkesConductorClient({
    serverUrl: process.env.SERVER_URL, keyId: process.env.KEY_ID, keySecret: process.env.KEY_SECRET,
  });
  const executor = new WorkflowExecutor(client);
  const findings = [];
  for (const file of process.env.REQUEST_FILES.split(",")) {
    const request = JSON.parse(fs.readFileSync(file, "utf8"));
    const wf = await executor.testWorkflow(request);
    const again = await executor.getWorkflow(wf.workflowId, true);
    findings.push({
      status: wf.status, tasks: list(wf), firstOutput: wf.tasks[0].outputData,
      againStatus: again.status, againTasks: list(again),
    });
  }
  return findings;
}

main().then(
  (findings) => { console.log(JSON.stringify({ findings })); process.exit(0); },
  (err) => { console.log(JSON.stringify({ error: String(err && err.message || err) })); process.exit(1); },
);
