// Package interpolate resolves Conductor-style parameter expressions inside JSON documents:
// task inputParameters, workflow outputParameters, any JSON value.
//
// A document is compiled once (Compile) into an immutable *Template and executed many times,
// concurrently, against an Env that supplies the workflow document, task records, secrets and
// configuration values. Only JSON string values are scanned; object keys never are.
//
// # Syntax
//
//	${PATH}   $<PATH>          the same grammar; $<...> avoids clashes with shell templating
//	$${  $$<                   escapes: exactly one '$' is removed
//	${}  ${  }                 ""
//	${a.${b}}                  nesting: inner first, its text is spliced into the outer path
//
// Paths (Jayway meaning): dotted keys, [n], [-1], ['key'], ["key"], a leading "$.", and the
// indefinite forms [*], .*, .., [?(@.x=='y')], [a:b], [a,b] whose result is always an array.
// Roots: workflow.* (input, output, variables, workflowId, correlationId, status, ...),
// <taskRef>.* (input, output, status, taskId, retryCount, iteration, ...), CPEWF_TASK_ID,
// workflow.env.NAME[path] and workflow.secrets.NAME[path] / workflow.secrets['a.b'][path].
// Secret and env names match [A-Za-z0-9_./:-]+; names with '.' or '/' need the bracket form.
//
// Definite paths are looked up with gjson directly in the Env's bytes (keys escaped through
// one helper, so gjson syntax in a key is never interpreted); indefinite paths use ojg's
// JSONPath (github.com/ohler55/ojg/jp), chosen because it implements Jayway's filters,
// recursive descent, slices and unions in pure Go, was already a dependency, and lets us
// hand it order-preserving objects: results come out in document order, as with Jayway.
//
// # Values
//
// A string that is exactly one expression takes the JSON type of the value; a missing path
// gives null. Embedded in text, strings are inserted as is, numbers and bools in JSON form,
// objects and arrays as compact JSON, missing values and null as "" (Conductor writes "null"
// and Java's {k=v}; wfrun does not). Inserted text is JSON-escaped and never scanned again,
// so a value holding "${...}", quotes or backslashes is data. The output is always valid JSON
// and keeps the document's layout and key order.
//
// # Secrets
//
// In DeferSecrets mode every workflow.secrets.* reference stays exactly as written; this is
// the form an engine stores. ResolveSecrets resolves them too, for the transient copy handed
// to an executor, and returns every secret value used so a masker can register it. A missing,
// expired or forbidden secret is an *Error naming the secret and the location, wrapping the
// source's error; it never contains the value. A missing field inside an existing JSON secret
// is an error too (no silent "").
//
// Secrets never take part in paths: a secret inside another expression's path
// (${workflow.input.${workflow.secrets.x}}), a computed secret name
// (${workflow.secrets.${workflow.input.n}}) and a computed path that turns out to select a
// secret are all rejected (ErrDynamicSecret) — at compile time where the text shows it. This
// keeps run input from choosing which secret is read and keeps SecretNames complete for a
// one-round-trip prefetch.
//
// Escapes are removed in both modes. An engine must therefore run ResolveSecrets over the
// original template (Template.Source), never over a stored DeferSecrets output: there
// "$${workflow.secrets.x}" has already become "${workflow.secrets.x}" and would turn live.
//
// CPEWF_TASK_ID resolves to Env.TaskID(); when that is empty the expression stays as written,
// as in Conductor. No other bare name is read from the process environment: ${HOME} is a task
// reference like any other and resolves to null.
package interpolate
