// Drives wfrun serve's workflow scopes with the Orkes JavaScript SDK,
// unmodified, as a key that may read runs of "guarded" but neither start
// nor change them: its start and terminate are refused (the SDK throws
// with the server's message, at once: a 403 without a token error is not
// retried), its read of the run works. Prints one JSON line of findings.
const { createRequire } = require("node:module");
const sdkRequire = createRequire(process.env.SDK_DIR + "/");
const { orkesConductorClient, WorkflowExecutor } = sdkRequire("@io-orkes/conductor-javascript");

const findings = {};

async function refused(what, fn) {
  const t0 = Date.now();
  try {
    await fn();
    findings[what] = { ok: true };
  } catch (e) {
    findings[what] = { message: String(e && e.message), ms: Date.now() - t0 };
  }
}

async function main() {
  const client = await orkesConductorClient({
    serverUrl: process.env.SERVER_URL, keyId: process.env.KEY_ID, keySecret: process.env.KEY_SECRET,
  });
  const executor = new WorkflowExecutor(client);
  await refused("start", () => executor.startWorkflow({ name: "guarded", version: 1, input: {} }));
  await refused("terminate", () => executor.terminate(process.env.RUN_ID, "not mine"));
  const run = await executor.getWorkflow(process.env.RUN_ID, false);
  findings.readStatus = run.status;
}

// The SDK keeps a token refresh timer: exit explicitly.
main().then(
  () => { console.log(JSON.stringify(findings)); process.exit(0); },
  (e) => { console.log(JSON.stringify({ error: String(e && e.message) })); process.exit(1); },
);
