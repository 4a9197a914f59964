package runstore

// WithJournalLimit makes the bolt store journal every write (not only
// those of concurrent writers) and fold the journal into the parts at n
// entries (at every write with 1).
func WithJournalLimit(n int) BoltOption {
	return func(b *Bolt) { b.journalLimit, b.forceJournal = n, true }
}
