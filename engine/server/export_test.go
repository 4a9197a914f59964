package server

import "time"

// LoseNotices makes s apply no poll of another process when it hands a
// task's values over to it, nor send "polled" notices (as when a notice is
// lost), and look for claims of its own tasks every claimCheck.
func LoseNotices(s *Server, claimCheck time.Duration) {
	s.conductor.queue.shared.dropPolled.Store(true)
	s.conductor.queue.claimCheck.Store(int64(claimCheck))
}

// SetClaimCheck sets how often s looks for claims of its tasks.
func SetClaimCheck(s *Server, every time.Duration) { s.conductor.queue.claimCheck.Store(int64(every)) }

// SharedTaskTTL is how long a shared task outlives its owner's last renewal.
const SharedTaskTTL = sharedTaskTTL

// SetEventRedelivery sets how long a conductor queue message taken and
// not finished (an action failed for a transient reason, or its process
// died) waits before it is delivered again.
func SetEventRedelivery(s *Server, d time.Duration) {
	switch q := s.conductor.events.(type) {
	case *eventStreamQueue:
		q.reclaimIdle = d
	case *eventRecordQueue:
		q.mu.Lock()
		q.redeliver = d
		q.mu.Unlock()
	}
}

// OnRerunChildWait makes s call f each time a rerun's answer waits for its
// SUB_WORKFLOW task to name the new child.
func OnRerunChildWait(s *Server, f func()) { s.conductor.rerunChildWait.Store(&f) }

// OnPollWriteWait makes s call f each time a poll's answer waits for the
// write of the tasks it hands out.
func OnPollWriteWait(s *Server, f func()) { s.conductor.queue.pollWriteWait.Store(&f) }

// OnDecideWait makes s call f each time a call waits for the write of a
// decision its run's executor has made.
func OnDecideWait(s *Server, f func()) { s.conductor.decideWait.Store(&f) }

// WakeDeciding wakes the calls waiting for run id's decision, as a change
// of the run does, so they look at the run again.
func WakeDeciding(s *Server, id string) { s.conductor.pokeDeciding(id) }

// OnTaskEndWait makes s call f each time an update's answer waits for the
// write of its task's end.
func OnTaskEndWait(s *Server, f func()) { s.conductor.endWait.Store(&f) }
