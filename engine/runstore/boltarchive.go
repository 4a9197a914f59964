package runstore

import (
	"bytes"
	"compress/flate"
	"errors"
	"fmt"
	"io"
	"sync"

	bolt "go.etcd.io/bbolt"
)

// An archived document is kept in a bucket of its own inside bucketArchive
// (key the run id), rather than as the value of the run id itself. bbolt
// never splits a leaf of four keys or fewer, so archived documents larger
// than a page shared leaves of two to four of them, and archiving one run
// rewrote all of them (a node of up to four documents) in the commit it
// shared with the writes of the other runs. In a bucket of its own a
// document is written alone (its own pages, the parent leaf holding small
// bucket headers); a small one is kept inline in the parent.
//
// The document is stored deflated (key archiveFlateKey) when that makes it
// smaller, as it does for JSON: an archive is written once and read
// rarely, and every page it takes is written in a commit other runs wait
// for. Otherwise it is stored as it is (key archiveDocKey). Files written
// before hold the document as the value of the run id: read and deleted
// as they are.
var (
	archiveDocKey   = []byte("doc")
	archiveFlateKey = []byte("flate")
)

// getArchived returns a copy of run id's archived document (nil: none).
func getArchived(tx *bolt.Tx, id string) ([]byte, error) {
	ab := tx.Bucket(bucketArchive)
	rb := ab.Bucket([]byte(id))
	if rb == nil {
		return clone(ab.Get([]byte(id))), nil
	}
	if z := rb.Get(archiveFlateKey); z != nil {
		// Bounded: a damaged or hostile value (a deflate stream inflates
		// up to a thousand times its size) must not exhaust memory.
		doc, err := io.ReadAll(io.LimitReader(flate.NewReader(bytes.NewReader(z)), int64(maxArchivedDoc)+1))
		if err != nil {
			return nil, fmt.Errorf("run %s: archived document: %w: %v", id, ErrDamagedArchive, err)
		}
		if len(doc) > maxArchivedDoc {
			return nil, fmt.Errorf("run %s: archived document inflates past %d bytes: %w", id, maxArchivedDoc, ErrDamagedArchive)
		}
		return doc, nil
	}
	return clone(rb.Get(archiveDocKey)), nil
}

// maxArchivedDoc bounds an archived document as it inflates (a variable
// for tests).
var maxArchivedDoc = 256 << 20

// ErrDamagedArchive is returned by Load of a bolt store's archived run
// whose stored document does not inflate.
var ErrDamagedArchive = errors.New("damaged archived document")

// hasArchived reports whether run id has an archived document.
// One seek: the document's bucket and a document kept as the value of
// the run id (files written before) are both keys of bucketArchive.
func hasArchived(tx *bolt.Tx, id string) bool {
	k, _ := tx.Bucket(bucketArchive).Cursor().Seek([]byte(id))
	return string(k) == id
}

// storedArchive is an archived document as putArchived stores it,
// prepared outside the transaction (deflating takes time the writers
// sharing the commit would wait).
type storedArchive struct {
	key, value []byte
}

func prepareArchive(doc []byte) storedArchive {
	if z := deflate(doc); z != nil {
		return storedArchive{archiveFlateKey, z}
	}
	return storedArchive{archiveDocKey, doc}
}

// putArchived stores a as run id's archived document, replacing any.
func putArchived(tx *bolt.Tx, id string, a storedArchive) error {
	if err := deleteArchived(tx, id); err != nil {
		return err
	}
	rb, err := tx.Bucket(bucketArchive).CreateBucket([]byte(id))
	if err != nil {
		return err
	}
	return rb.Put(a.key, a.value)
}

// deflate returns doc deflated, or nil when that does not make it
// smaller by a tenth.
func deflate(doc []byte) []byte {
	if len(doc) < 256 {
		return nil
	}
	var buf bytes.Buffer
	buf.Grow(len(doc) / 3)
	w, _ := deflaters.Get().(*flate.Writer)
	if w == nil {
		var err error
		if w, err = flate.NewWriter(&buf, flate.BestSpeed); err != nil {
			return nil
		}
	} else {
		w.Reset(&buf)
	}
	defer deflaters.Put(w)
	if _, err := w.Write(doc); err != nil {
		return nil
	}
	if err := w.Close(); err != nil || buf.Len() > len(doc)-len(doc)/10 {
		return nil
	}
	return buf.Bytes()
}

// deflaters keeps flate writers for reuse: a new one allocates and
// initialises several hundred KiB of tables, which cost more than
// deflating an archive.
var deflaters sync.Pool

// deleteArchived removes run id's archived document, whichever way it is
// kept.
func deleteArchived(tx *bolt.Tx, id string) error {
	ab := tx.Bucket(bucketArchive)
	if ab.Bucket([]byte(id)) != nil {
		return ab.DeleteBucket([]byte(id))
	}
	return ab.Delete([]byte(id))
}
