package runstore

import (
	"encoding/binary"

	bolt "go.etcd.io/bbolt"
)

// The previous bolt layout kept a primary record as a nested bucket per run
// (keys "head", "input", "output", "variables", "def" and 't'+seq) with its
// summary in the index. Such records are read as they are and moved to the
// parts layout by the run's next write.

// loadNested reads run id's record of the previous layout (ok false: none).
func loadNested(tx *bolt.Tx, id string) (p parts, ok bool) {
	nb := tx.Bucket(bucketNested).Bucket([]byte(id))
	if nb == nil {
		return parts{}, false
	}
	p.tasks = map[int][]byte{}
	_ = nb.ForEach(func(k, v []byte) error {
		switch {
		case len(k) == 9 && k[0] == 't':
			p.tasks[int(binary.BigEndian.Uint64(k[1:]))] = v
		case string(k) == "head":
			p.head = v
		case string(k) == "input":
			p.input = v
		case string(k) == "output":
			p.output = v
		case string(k) == "variables":
			p.variables = v
		case string(k) == "def":
			p.defHash = string(v)
		}
		return nil
	})
	return p, true
}

// moveNested moves run id's record of the previous layout, if any, to the
// parts layout (its summary is written by the change that follows).
func moveNested(tx *bolt.Tx, id string) error {
	p, ok := loadNested(tx, id)
	if !ok {
		return nil
	}
	pb := tx.Bucket(bucketParts)
	for _, kv := range []struct {
		tag byte
		v   []byte
	}{{tagHead, p.head}, {tagInput, p.input}, {tagOutput, p.output}, {tagVariables, p.variables}} {
		if kv.v != nil {
			if err := pb.Put(partKey(id, kv.tag), clone(kv.v)); err != nil {
				return err
			}
		}
	}
	if p.defHash != "" {
		if err := pb.Put(partKey(id, tagDef), []byte(p.defHash)); err != nil {
			return err
		}
	}
	for seq, doc := range p.tasks {
		if err := pb.Put(taskKey(id, seq), clone(doc)); err != nil {
			return err
		}
	}
	if err := tx.Bucket(bucketNested).DeleteBucket([]byte(id)); err != nil {
		return err
	}
	return tx.Bucket(bucketIndex).Delete([]byte(id))
}
