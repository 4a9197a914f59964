// Package eval compiles and runs the expressions Conductor workflows carry:
// SWITCH and INLINE expressions, DO_WHILE loop conditions and HTTP_POLL
// termination conditions.
//
// Four evaluator types are supported:
//
//   - "value-param": the expression names a key of the input object; the
//     result is that key's value, unchanged (nil when absent).
//   - "expr": github.com/expr-lang/expr. Every key of the input object is a
//     top-level variable, and "$" names the whole input, so "$.a",
//     "$['a']" and "a" are equivalent. The "$" identifier is rewritten at
//     compile time to expr's own "$env". Programs are compiled with a plain
//     map environment (no methods reachable) and undefined variables read as
//     nil, because the keys of the input are only known at run time.
//   - "javascript" and "graaljs" (synonyms): github.com/dop251/goja, an
//     ECMAScript 5.1+ engine in Go, so Conductor's own scripts run
//     unmodified. "$" is a native JavaScript copy of the input (a script that
//     writes to it cannot change the caller's data). Both function-call
//     style "(function(){ return $.a; })()" and statement style
//     "if (x) { true; } else { false; }" work: the result is the script's
//     completion value. Scripts run in sloppy (non-strict) mode, like
//     Conductor's.
//
// # Results
//
// Results are plain Go values as encoding/json would decode them, with one
// rule for numbers shared by every evaluator except value-param: a number
// whose value is integral and within ±2^53 comes back as int64, any other
// number as float64. NaN and ±Infinity come back as nil (JSON has no
// spelling for them). JavaScript objects are converted through
// JSON.stringify, so Dates become ISO-8601 strings, functions and undefined
// members disappear, and a cyclic object is an error. value-param returns
// the input value as it is.
//
// # Bounds
//
// Every evaluation is bounded in time: the context's deadline or cancellation
// and a per-evaluator timeout (default 4s, Conductor's script time limit;
// WithTimeout) both interrupt a running script, an infinite loop included.
// For JavaScript the following are bounded as well:
//
//   - expression size (WithMaxExpressionBytes, default 64 KiB, all evaluators);
//   - input size: the number of values copied into the script's "$"
//     (WithMaxInputValues, default 1,000,000);
//   - call depth (WithMaxCallStackSize, default 1,024 frames), so runaway
//     recursion ends with an error instead of exhausting memory;
//   - result size, measured as its JSON encoding (WithMaxResultBytes,
//     default 1 MiB);
//   - heap growth: a watchdog samples the process heap every 10ms while a
//     script runs and interrupts it when the heap has grown by more than
//     WithMemoryLimit (default 256 MiB) since the evaluation started.
//
// What is NOT bounded exactly: goja has no per-runtime heap accounting, so
// the heap watchdog measures the whole process. It can blame a script for
// memory another goroutine allocated, and a script can allocate a large
// block between two samples (one single huge allocation such as
// "'x'.repeat(1e9)" is allocated before the next sample can see it). The
// watchdog is a backstop against runaway growth, not an exact quota. expr
// programs are bounded by expr's own memory budget and node limit.
//
// # Errors
//
// Every error is an *Error naming the evaluator, the phase (compile or
// evaluate) and, when known, the line and column in the expression. It wraps
// one of the sentinel errors (ErrCompile, ErrEval, ErrTimeout, ErrTooLarge,
// ErrUnknownEvaluator) for errors.Is. Error text may quote the expression or
// values from the input, so it is passed through the masker hook
// (WithMasker) before the error is returned. No input makes these functions
// panic: a panic inside an evaluator is recovered into an *Error.
//
// # Caching and concurrency
//
// A Program is immutable and safe for concurrent use. Cache (and the
// package-level Compile, which uses a shared Cache) compiles each
// (evaluator type, expression) pair once.
package eval
