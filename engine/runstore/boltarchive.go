package runstore

import (
	bolt "go.etcd.io/bbolt"
)

// An archived document is kept in a bucket of its own inside bucketArchive
// (key the run id), under key archiveDocKey, rather than as the value of
// the run id itself. bbolt never splits a leaf of four keys or fewer, so
// archived documents larger than a page shared leaves of two to four of
// them, and archiving one run rewrote all of them (a node of up to four
// documents) in the commit it shared with the writes of the other runs. In
// a bucket of its own a document is written alone (its own pages, the
// parent leaf holding small bucket headers); a small one is kept inline in
// the parent. Files written before hold the document as the value of the
// run id: read and deleted as they are.
var archiveDocKey = []byte("doc")

// getArchived returns run id's archived document (nil: none). The bytes
// point into the transaction's pages.
func getArchived(tx *bolt.Tx, id string) []byte {
	ab := tx.Bucket(bucketArchive)
	if rb := ab.Bucket([]byte(id)); rb != nil {
		return rb.Get(archiveDocKey)
	}
	return ab.Get([]byte(id))
}

// putArchived stores doc as run id's archived document, replacing any.
func putArchived(tx *bolt.Tx, id string, doc []byte) error {
	if err := deleteArchived(tx, id); err != nil {
		return err
	}
	rb, err := tx.Bucket(bucketArchive).CreateBucket([]byte(id))
	if err != nil {
		return err
	}
	return rb.Put(archiveDocKey, doc)
}

// deleteArchived removes run id's archived document, whichever way it is
// kept.
func deleteArchived(tx *bolt.Tx, id string) error {
	ab := tx.Bucket(bucketArchive)
	if ab.Bucket([]byte(id)) != nil {
		return ab.DeleteBucket([]byte(id))
	}
	return ab.Delete([]byte(id))
}
