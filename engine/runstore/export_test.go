package runstore

import "time"

// WithJournalLimit makes the bolt store journal every write (not only
// those of concurrent writers) and fold the journal into the parts at n
// entries (at every write with 1).
func WithJournalLimit(n int) BoltOption {
	return func(b *Bolt) { b.journalLimit, b.forceJournal = n, true }
}

// SetMaxArchivedDoc bounds an archived document as it inflates, until the
// returned function puts the bound back.
func SetMaxArchivedDoc(n int) func() {
	old := maxArchivedDoc
	maxArchivedDoc = n
	return func() { maxArchivedDoc = old }
}

// SetPresence shortens the presence TTL and renewal of Redis stores until
// the returned function puts them back.
func SetPresence(ttl, every time.Duration) func() {
	oldTTL, oldEvery := presenceTTL, presenceEvery
	presenceTTL, presenceEvery = ttl, every
	return func() { presenceTTL, presenceEvery = oldTTL, oldEvery }
}

// TagBuilds is how many times b made its runs' tags from the file.
func (b *Bolt) TagBuilds() int {
	b.tags.mu.Lock()
	defer b.tags.mu.Unlock()
	return b.tags.builds
}
