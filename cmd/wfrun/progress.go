package main

import (
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/wfrun/wfrun/engine"
)

// progressView shows engine events on stderr. Piped (or with --quiet), it
// prints plain lines: one per task that ends (not one per transition), the
// first iteration of a loop in full and later iterations as a compact
// summary. At a terminal it keeps one live line per active run, redrawn in
// place, and prints only what must stay on screen (failures, waits, the
// end of each run). Event text is already masked by the engine.
type progressView struct {
	mu    sync.Mutex
	w     io.Writer
	quiet bool
	color bool
	live  bool
	width int
	now   func() time.Time

	firstRun string // the top-level run, for "can be resumed" messages

	// failures printed: a run's reason that repeats a task failure shown
	// just above says so instead of repeating it.
	lastFailure string
	endShown    map[string]bool // runs whose end line was printed

	// plain mode: loop iterations not printed yet, by task ref without __N.
	loops     map[string]*loopTally
	lastFlush time.Time

	// live mode
	runs      []*liveRun // active runs, in start order
	drawn     int        // lines of the live block on screen
	lastDraw  time.Time
	drawEvery time.Duration
	stopTick  chan struct{} // ends the ticker that keeps elapsed times moving
}

type loopTally struct {
	ref, typ  string
	first     int // first suppressed iteration
	last      int
	completed int
}

type liveRun struct {
	id, typ      string
	task, status string
	done, failed int
	started      time.Time
}

// iterationRef matches a DO_WHILE iteration's task reference: ref__N.
var iterationRef = regexp.MustCompile(`^(.*)__([0-9]+)$`)

// summaryEvery is how often a long loop's running count is printed in plain mode.
const summaryEvery = 10 * time.Second

func newProgress(w io.Writer, quiet bool) *progressView {
	p := &progressView{w: w, quiet: quiet, now: time.Now, loops: map[string]*loopTally{}, drawEvery: 100 * time.Millisecond,
		endShown: map[string]bool{}}
	if !quiet && isTerminal(w) {
		p.live = true
		p.color = colorEnabled(w)
		p.width = terminalWidth(w)
		p.stopTick = make(chan struct{})
		go p.tick(p.stopTick)
	}
	return p
}

// tick redraws the live block every second, so a run waiting on a long
// task still shows its clock moving.
func (p *progressView) tick(stop chan struct{}) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			p.mu.Lock()
			if len(p.runs) > 0 {
				p.redraw()
			}
			p.mu.Unlock()
		}
	}
}

// event is the engine's event callback.
func (p *progressView) event(ev engine.Event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.firstRun == "" && ev.RunID != "" {
		p.firstRun = ev.RunID
	}
	if p.live {
		p.liveEvent(ev)
		return
	}
	p.plainEvent(ev)
}

// runID is the first run the view saw ("" before any event).
func (p *progressView) runID() string {
	if p == nil {
		return ""
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.firstRun
}

// resetRun forgets the run seen so far (--every starts another).
func (p *progressView) resetRun() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.firstRun = ""
}

// close ends the live block so later output starts on a fresh line.
func (p *progressView) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.live {
		if p.stopTick != nil {
			close(p.stopTick)
			p.stopTick = nil
		}
		p.clearBlock()
		p.runs = nil
		return
	}
	p.flushLoops(false)
}

func (p *progressView) stamp(t time.Time) string {
	if t.IsZero() {
		t = p.now()
	}
	return t.Format("15:04:05")
}

// terminalTask: a task status after which the task does nothing more.
func terminalTask(status string) bool {
	switch status {
	case "SCHEDULED", "IN_PROGRESS":
		return false
	}
	return true
}

func failedStatus(status string) bool {
	switch status {
	case "FAILED", "FAILED_WITH_TERMINAL_ERROR", "TIMED_OUT", "TERMINATED", "CANCELED":
		return true
	}
	return false
}

func waitingLines(ev engine.Event, ts string) string {
	if ev.Reason == "external completion" {
		return fmt.Sprintf("%s task %s (%s) waits for an external completion; complete it with:\n  wfrun task complete %s %s --data '{...}'",
			ts, ev.TaskRef, ev.TaskType, ev.RunID, ev.TaskRef)
	}
	return fmt.Sprintf("%s task %s (%s) waits %s (or: wfrun task complete %s %s)", ts, ev.TaskRef, ev.TaskType, ev.Reason, ev.RunID, ev.TaskRef)
}

// retryLine says a failed task is retried, and when: "task w (w)
// retrying in 60s (retry 1 of 3)".
func retryLine(ev engine.Event, ts string) string {
	return fmt.Sprintf("%s task %s (%s) %s", ts, ev.TaskRef, ev.TaskType, ev.Reason)
}

func (p *progressView) workflowLine(ev engine.Event, ts string) string {
	line := fmt.Sprintf("%s run %s (%s) %s", ts, ev.RunID, ev.WorkflowType, ev.Status)
	reason := ev.Reason
	if p.lastFailure != "" && strings.HasSuffix(reason, ": "+p.lastFailure) {
		reason = strings.TrimSuffix(reason, ": "+p.lastFailure) + " (reason above)"
	} else if q := " and reason: '" + p.lastFailure + "'"; p.lastFailure != "" && strings.HasSuffix(reason, q) {
		// Conductor's wording: "Task <id> failed with status: S and reason: '<r>'".
		reason = strings.TrimSuffix(reason, q) + " (reason above)"
	}
	if reason != "" {
		line += ": " + reason
	}
	if ev.Status != engine.StatusRunning {
		p.endShown[ev.RunID] = true
	}
	return line
}

func (p *progressView) taskLine(ev engine.Event, ts string) string {
	line := fmt.Sprintf("%s task %s (%s) %s", ts, ev.TaskRef, ev.TaskType, ev.Status)
	if ev.Reason != "" {
		line += ": " + ev.Reason
		if failedStatus(ev.Status) {
			p.lastFailure = ev.Reason
		}
	}
	return line
}

// endShown reports whether the end of run id (with its reason) is on
// screen already.
func (p *progressView) shownEnd(id string) bool {
	if p == nil {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.endShown[id]
}

func (p *progressView) plainEvent(ev engine.Event) {
	ts := p.stamp(ev.Time)
	switch ev.Kind {
	case engine.EventWorkflow:
		if p.quiet {
			// The end of the run is the exit status and, for a run that
			// did not complete, the error line.
			return
		}
		p.flushLoops(false)
		fmt.Fprintln(p.w, p.workflowLine(ev, ts))
	case engine.EventWaiting:
		p.flushLoops(false)
		fmt.Fprintln(p.w, waitingLines(ev, ts))
	case engine.EventRetry:
		if p.quiet {
			return
		}
		p.flushLoops(false)
		fmt.Fprintln(p.w, retryLine(ev, ts))
	default:
		if p.quiet || !terminalTask(ev.Status) {
			// Scheduled and started are implied by the line that ends a task;
			// a retry says so in its reason.
			if p.quiet || ev.Reason == "" {
				return
			}
		}
		if m := iterationRef.FindStringSubmatch(ev.TaskRef); m != nil && m[2] != "1" && !failedStatus(ev.Status) && terminalTask(ev.Status) {
			p.tally(m[1], ev.TaskType, atoi(m[2]), ev.Status)
			if p.now().Sub(p.lastFlush) >= summaryEvery {
				p.flushLoops(true)
			}
			return
		}
		p.flushLoops(false)
		fmt.Fprintln(p.w, p.taskLine(ev, ts))
	}
}

func atoi(s string) int {
	n := 0
	for _, c := range s {
		n = n*10 + int(c-'0')
		if n > 1<<30 {
			break
		}
	}
	return n
}

func (p *progressView) tally(ref, typ string, iter int, status string) {
	lt := p.loops[ref]
	if lt == nil {
		if len(p.loops) == 0 {
			p.lastFlush = p.now()
		}
		lt = &loopTally{ref: ref, typ: typ, first: iter}
		p.loops[ref] = lt
	}
	if iter > lt.last {
		lt.last = iter
	}
	if status == "COMPLETED" {
		lt.completed++
	}
}

// flushLoops prints one line per loop task with suppressed iterations:
// "task echo__2..echo__2000 (INLINE): 1999 iterations COMPLETED".
func (p *progressView) flushLoops(soFar bool) {
	if len(p.loops) == 0 {
		return
	}
	refs := make([]string, 0, len(p.loops))
	for r := range p.loops {
		refs = append(refs, r)
	}
	sort.Strings(refs)
	ts := p.stamp(time.Time{})
	for _, r := range refs {
		lt := p.loops[r]
		n := lt.last - lt.first + 1
		what := fmt.Sprintf("%d more iterations", n)
		if n == 1 {
			what = "1 more iteration"
		}
		suffix := ""
		if soFar {
			suffix = " so far"
		}
		span := fmt.Sprintf("%s__%d", lt.ref, lt.first)
		if lt.last != lt.first {
			span += fmt.Sprintf("..%s__%d", lt.ref, lt.last)
		}
		counts := fmt.Sprintf(", %d COMPLETED", lt.completed)
		if lt.completed == n {
			counts = " COMPLETED"
		}
		fmt.Fprintf(p.w, "%s task %s (%s): %s%s%s\n", ts, span, lt.typ, what, counts, suffix)
	}
	clear(p.loops)
	p.lastFlush = p.now()
}

// --- live mode ---

const (
	ansiClearLine = "\x1b[2K"
	ansiClearDown = "\x1b[J"
)

func (p *progressView) paint(status string) string {
	if !p.color {
		return status
	}
	switch {
	case status == "COMPLETED":
		return "\x1b[32m" + status + "\x1b[0m"
	case failedStatus(status):
		return "\x1b[31m" + status + "\x1b[0m"
	case status == "RUNNING" || status == "IN_PROGRESS" || status == "SCHEDULED":
		return "\x1b[36m" + status + "\x1b[0m"
	}
	return "\x1b[33m" + status + "\x1b[0m"
}

func (p *progressView) findRun(id string) (int, *liveRun) {
	for i, r := range p.runs {
		if r.id == id {
			return i, r
		}
	}
	return -1, nil
}

func (p *progressView) liveEvent(ev engine.Event) {
	ts := p.stamp(ev.Time)
	i, r := p.findRun(ev.RunID)
	if r == nil && ev.Kind == engine.EventWorkflow && ev.Status != engine.StatusRunning {
		// A run that ends without having been seen running (restart of an
		// ended run): print its end.
		p.permanent(p.paintWorkflow(ev, ts))
		return
	}
	if r == nil {
		r = &liveRun{id: ev.RunID, typ: ev.WorkflowType, status: engine.StatusRunning, started: p.now()}
		p.runs = append(p.runs, r)
	}
	switch ev.Kind {
	case engine.EventWorkflow:
		if ev.Status == engine.StatusRunning {
			if ev.Reason != "" {
				p.permanent(p.workflowLine(ev, ts))
			}
			break
		}
		p.runs = append(p.runs[:i], p.runs[i+1:]...)
		line := p.paintWorkflow(ev, ts)
		line += fmt.Sprintf(" (%d tasks, %s)", r.done+r.failed, p.now().Sub(r.started).Round(time.Millisecond))
		p.permanent(line)
		return
	case engine.EventWaiting:
		r.task, r.status = ev.TaskRef+" ("+ev.TaskType+")", "waiting"
		p.permanent(waitingLines(ev, ts))
		return
	case engine.EventRetry:
		r.task, r.status = ev.TaskRef+" ("+ev.TaskType+")", "waiting to retry"
		p.permanent(retryLine(ev, ts))
		return
	default:
		r.task, r.status = ev.TaskRef+" ("+ev.TaskType+")", ev.Status
		if terminalTask(ev.Status) {
			if failedStatus(ev.Status) {
				r.failed++
				p.permanent(strings.Replace(p.taskLine(ev, ts), ev.Status, p.paint(ev.Status), 1))
				return
			}
			r.done++
		}
	}
	if p.now().Sub(p.lastDraw) >= p.drawEvery {
		p.redraw()
	}
}

func (p *progressView) paintWorkflow(ev engine.Event, ts string) string {
	return strings.Replace(p.workflowLine(ev, ts), " "+ev.Status, " "+p.paint(ev.Status), 1)
}

// clearBlock erases the live block and leaves the cursor where it began.
func (p *progressView) clearBlock() {
	if p.drawn == 0 {
		return
	}
	s := "\r"
	if p.drawn > 1 {
		s += fmt.Sprintf("\x1b[%dA", p.drawn-1)
	}
	fmt.Fprint(p.w, s+ansiClearDown)
	p.drawn = 0
}

// note prints a line of the command's own among the event lines (runs
// started in the background emit events while it is written).
func (p *progressView) note(line string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.live {
		p.permanent(line)
		return
	}
	fmt.Fprintln(p.w, line)
}

// permanent prints line above the live block.
func (p *progressView) permanent(line string) {
	p.clearBlock()
	fmt.Fprintln(p.w, line)
	p.redraw()
}

// redraw paints one line per active run, cut to the terminal width so no
// line wraps (a wrapped line would break the in-place redraw).
func (p *progressView) redraw() {
	p.clearBlock()
	var b strings.Builder
	now := p.now()
	for i, r := range p.runs {
		text := fmt.Sprintf("run %s (%s) RUNNING %s: %d done", r.id, r.typ, now.Sub(r.started).Round(time.Second), r.done)
		if r.failed > 0 {
			text += fmt.Sprintf(", %d failed", r.failed)
		}
		if r.task != "" {
			text += " · " + r.task + " " + r.status
		}
		if w := p.width - 1; w > 10 && len([]rune(text)) > w {
			text = string([]rune(text)[:w-1]) + "…"
		}
		text = strings.Replace(text, " RUNNING ", " "+p.paint("RUNNING")+" ", 1)
		b.WriteString(ansiClearLine + text)
		if i < len(p.runs)-1 {
			b.WriteString("\n")
		}
	}
	fmt.Fprint(p.w, b.String())
	p.drawn = len(p.runs)
	p.lastDraw = now
}
