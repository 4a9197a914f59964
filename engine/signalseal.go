package engine

import (
	"github.com/wfrun/wfrun/runsecrets"
	"github.com/wfrun/wfrun/tasks"
)

// A signal rests in the run store (a bolt bucket, a Redis hash, and so
// its AOF and RDB files) until the process executing its run takes it:
// for ever when none does. The process that writes it has no masker for
// the run (it has not resolved the run's secrets), so whatever in it may
// quote a value the run protects is sealed, bound to the run and to the
// task (or signal) it names: its output (runsecrets.SealCompletion) and
// its reasonForIncompletion (SealCompletionReason). The runner opens them
// when it takes the signal (takeSignals) and masks the reason where it
// stores or tells it, as it masks any reason.

// sealSignalReason seals sig's reason, for task (or signal key) ref, into
// SealedReason; an empty reason stays as it is (EmptyReason tells "" from
// none).
func sealSignalReason(sec *runsecrets.Run, ref string, sig *signal) error {
	if sig.Reason == "" {
		return nil
	}
	sealed, err := sec.SealCompletionReason(ref, sig.Reason)
	if err != nil {
		return err
	}
	sig.Reason, sig.SealedReason = "", sealed
	return nil
}

// signalRef is the task reference (or signal name) the seals of the
// signal stored under key k are bound to.
func signalRef(k string) string {
	if u, ok := updateRef(k); ok {
		return u
	}
	return k
}

// openSignal opens the sealed output and reason of signal s, stored under
// key k. One that does not open (edited bytes, another run's) becomes a
// failure of the task, naming what did not open; a signal stored by an
// older wfrun, its reason in clear, is taken as it is.
func (r *runState) openSignal(k string, s signal) signal {
	ref := signalRef(k)
	if s.SealedOutput != "" {
		out, err := r.sec.OpenCompletion(ref, s.SealedOutput)
		if err != nil {
			return signal{Status: TaskFailedTerminal, Reason: "external completion: " + err.Error()}
		}
		s.Output, s.SealedOutput, s.opened = out, "", true
	}
	if s.SealedReason != "" {
		reason, err := r.sec.OpenCompletionReason(ref, s.SealedReason)
		if err != nil {
			if k == terminateSignal {
				return signal{Status: s.Status, Reason: "terminated (its reason did not open: " + err.Error() + ")"}
			}
			return signal{Status: TaskFailedTerminal, Reason: "external completion: reasonForIncompletion: " + err.Error()}
		}
		s.Reason, s.SealedReason = reason, ""
	}
	return s
}

// result is the task result update s gives: its status, output and
// reason, "" told from none (EmptyReason). Every place that ends a task
// with a signal builds it here.
func (s signal) result() tasks.Result {
	return tasks.Result{Status: tasks.Status(s.Status), Output: s.Output, Reason: s.Reason, EmptyReason: s.EmptyReason}
}
