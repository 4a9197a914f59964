// Drives wfrun serve's event handlers with the Orkes JavaScript SDK,
// unmodified: EventClient.addEventHandler (a list body), getEventHandlerByName,
// an update_workflow_variables handler fed by EVENT tasks, getEventExecutions
// and getAllActiveEventHandlers. Prints one JSON line of findings.
const { createRequire } = require("node:module");
const sdkRequire = createRequire(process.env.SDK_DIR + "/");
const { orkesConductorClient, WorkflowExecutor, EventClient } = sdkRequire("@io-orkes/conductor-javascript");

const findings = {};

async function main() {
  const client = await orkesConductorClient({
    serverUrl: process.env.SERVER_URL, keyId: process.env.KEY_ID, keySecret: process.env.KEY_SECRET,
  });
  const executor = new WorkflowExecutor(client);
  const events = new EventClient(client);
  await executor.registerWorkflow(true, {
    name: "js_vars_gate", version: 1, schemaVersion: 2, timeoutSeconds: 0,
    tasks: [{ name: "gate", taskReferenceName: "gate", type: "WAIT" }],
  });
  await executor.registerWorkflow(true, {
    name: "js_emit", version: 1, schemaVersion: 2, timeoutSeconds: 0,
    tasks: [{ name: "emit", taskReferenceName: "emit", type: "EVENT", sink: "conductor:js_q",
      inputParameters: { waiter: "${workflow.input.waiter}", who: "${workflow.input.who}" } }],
  });
  await events.addEventHandler({
    name: "js_vars", event: "conductor:js_emit:js_q", active: true,
    actions: [{ action: "update_workflow_variables",
      update_workflow_variables: { workflowId: "${waiter}", variables: { updatedBy: "${who}" }, appendArray: true } }],
  });
  const h = await events.getEventHandlerByName("js_vars");
  findings.handler = h && h.name + ":" + h.actions[0].action;

  const waiter = await executor.startWorkflow({ name: "js_vars_gate", version: 1, input: {} });
  for (const who of ["ann", "bob"]) {
    await executor.startWorkflow({ name: "js_emit", version: 1, input: { waiter, who } });
  }
  const deadline = Date.now() + 20000;
  let wf;
  for (;;) {
    wf = await executor.getWorkflow(waiter, false);
    const by = (wf.variables || {}).updatedBy;
    if ((Array.isArray(by) && by.length === 2) || Date.now() > deadline) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  findings.updatedBy = ((wf.variables || {}).updatedBy || []).slice().sort();
  const execs = await events.getEventExecutions("js_vars");
  findings.executions = execs.map((x) => x.action + ":" + x.status).sort();
  const active = await events.getAllActiveEventHandlers();
  findings.active = (active.results || []).map((r) => r.name + ":" + r.numberOfActions + ":" + r.numberOfMessages);
  const stats = await events.getEventHandlersWithStats();
  findings.stats = (stats.results || []).map((r) => r.name + ":" + r.numberOfMessages);
  const msgs = await events.getEventMessages("conductor:js_emit:js_q");
  findings.messages = msgs.map((m) => m.status + ":" + (m.eventExecutions || []).length);
  try {
    await events.getEventHandlerByName("js_nobody");
    findings.missing = "found";
  } catch (e) {
    findings.missing = "error";
  }
}

main().then(
  () => { console.log(JSON.stringify(findings)); process.exit(0); },
  (err) => { console.log(JSON.stringify({ error: String(err && err.message || err) })); process.exit(1); },
);
