// Drives wfrun serve's queue endpoints with the Orkes JavaScript SDK,
// unmodified, as a key that may poll one task type (QUEUE) and nothing of
// another (OTHER): its TaskClient reads QUEUE's size and poll data, the
// client's taskResource the verbose details of every queue (OTHER's left
// out) and requeues QUEUE's pending tasks; reading or requeuing OTHER is
// refused (the SDK throws with the server's message). Prints one JSON
// line of findings.
const { createRequire } = require("node:module");
const sdkRequire = createRequire(process.env.SDK_DIR + "/");
const { orkesConductorClient, TaskClient } = sdkRequire("@io-orkes/conductor-javascript");

const findings = {};
const queue = process.env.QUEUE;
const other = process.env.OTHER;

async function refused(what, fn) {
  try {
    findings[what] = { ok: true, value: await fn() };
  } catch (e) {
    findings[what] = { message: String(e && e.message) };
  }
}

async function main() {
  const client = await orkesConductorClient({
    serverUrl: process.env.SERVER_URL, keyId: process.env.KEY_ID, keySecret: process.env.KEY_SECRET,
  });
  const tasks = new TaskClient(client);
  findings.sizes = await tasks.getQueueSizeForTask([queue]);
  findings.pollData = await tasks.getTaskPollData(queue);
  findings.verbose = await client.taskResource.allVerbose();
  findings.requeued = await client.taskResource.requeuePendingTask(queue);
  await refused("otherSize", () => tasks.getQueueSizeForTask([other]));
  await refused("otherRequeue", () => client.taskResource.requeuePendingTask(other));
}

// The SDK keeps a token refresh timer: exit explicitly.
main().then(
  () => { console.log(JSON.stringify(findings)); process.exit(0); },
  (e) => { console.log(JSON.stringify({ error: String(e && e.message) })); process.exit(1); },
);
