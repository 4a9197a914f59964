package runsecrets

// RemaskSince is Remask that also masks, before each cut mark ("…") in
// the form's strings, the head of a value registered after Generation
// returned since (masking.Masker.MaskCutJSON): an excerpt stored before
// the value was registered may end with its head, which no whole match
// finds. ptr is the form's pointer in the run, as for Remask; sealed
// members stay as they are. Invalid JSON is returned unchanged.
func (r *Run) RemaskSince(stored []byte, ptr string, since int) []byte {
	return r.remaskStored(stored, ptr, func(b []byte) ([]byte, error) {
		return r.reg.masker.MaskCutJSON(b, since)
	})
}

// RemaskText masks a stored text (a reason, a log line, possibly an
// excerpt cut short) again: whole with every value, and before each cut
// mark with the heads of the values registered after Generation returned
// since (masking.Masker.MaskCutString; 0: every value).
func (r *Run) RemaskText(s string, since int) string {
	return r.reg.masker.MaskCutString(s, since)
}
