// Drives wfrun serve with the Orkes JavaScript SDK, unmodified: secrets API,
// workflow registration and start, and a TaskManager worker. Prints one JSON
// line of findings; never prints the secret value.
const { createRequire } = require("node:module");
const sdkRequire = createRequire(process.env.SDK_DIR + "/");
const { orkesConductorClient, SecretClient, WorkflowExecutor, TaskManager } = sdkRequire("@io-orkes/conductor-javascript");

const VALUE = process.env.SECRET_VALUE;
const findings = {};

async function main() {
  const client = await orkesConductorClient({
    serverUrl: process.env.SERVER_URL, keyId: process.env.KEY_ID, keySecret: process.env.KEY_SECRET,
  });
  const secrets = new SecretClient(client);
  await secrets.putSecret("js_token", VALUE);
  findings.getMatches = (await secrets.getSecret("js_token")) === VALUE;
  findings.exists = await secrets.secretExists("js_token");
  findings.listed = (await secrets.listAllSecretNames()).includes("js_token");
  await secrets.setSecretTags([{ key: "team", value: "js" }], "js_token");
  findings.tags = (await secrets.getSecretTags("js_token")).map((t) => t.key + "=" + t.value);

  const executor = new WorkflowExecutor(client);
  await executor.registerWorkflow(true, {
    name: "js_secret_flow", version: 1, schemaVersion: 2, timeoutSeconds: 0,
    tasks: [
      { name: "call", taskReferenceName: "call", type: "HTTP", inputParameters: {
        http_request: { uri: process.env.ECHO_URL, method: "GET",
          headers: { Authorization: "Bearer ${workflow.secrets.js_token}" } } } },
      { name: "js_worker_task", taskReferenceName: "work", type: "SIMPLE",
        inputParameters: { token: "${workflow.secrets.js_token}", remote: "$<workflow.secrets.elsewhere>" } },
    ],
    outputParameters: { echoed: "${call.output.response.body.auth}", worker: "${work.output}" },
  });

  const manager = new TaskManager(client, [{
    taskDefName: "js_worker_task",
    execute: async (task) => {
      findings.workerGotValue = task.inputData.token === VALUE;
      findings.workerRemote = task.inputData.remote;
      return { status: "COMPLETED", outputData: { received: task.inputData.token, ok: true } };
    },
  }], { options: { pollInterval: 20, concurrency: 1 } });
  manager.startPolling();

  const id = await executor.startWorkflow({ name: "js_secret_flow", version: 1, input: { from: "js" } });
  findings.id = id;
  const deadline = Date.now() + 20000;
  let wf;
  for (;;) {
    wf = await executor.getWorkflow(id, true);
    if (wf.status !== "RUNNING" || Date.now() > deadline) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  await manager.stopPolling();
  findings.status = wf.status;
  findings.echoed = wf.output && wf.output.echoed;
  findings.tasks = (wf.tasks || []).map((t) => t.referenceTaskName + ":" + t.status);
}

main().then(
  () => { console.log(JSON.stringify(findings)); process.exit(0); },
  (err) => { console.log(JSON.stringify({ error: String(err && err.message || err) })); process.exit(1); },
);
