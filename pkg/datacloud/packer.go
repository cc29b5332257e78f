package datacloud

import (
	"encoding/json"
	"fmt"
)

// RecordTooLargeError reports a record that cannot be sent even alone: Size is the record's
// length in bytes, Limit the exclusive bound on a request body.
type RecordTooLargeError struct {
	Size, Limit int
}

// Error implements error.
func (e *RecordTooLargeError) Error() string {
	return fmt.Sprintf("datacloud: pack records: a record of %d bytes does not fit in a request body smaller than %d bytes (%d bytes with the {\"data\":[]} envelope)",
		e.Size, e.Limit, e.Size+packEnvelope)
}

const (
	packOpen  = `{"data":[`
	packClose = `]}`
	// packEnvelope is the size of a body holding one record, less the record.
	packEnvelope = len(packOpen) + len(packClose)
)

// Packer packs records into streaming upsert bodies {"data":[r1,r2,...]} that are each strictly
// smaller than the limit and as full as the record order allows (a body is closed only when the
// next record does not fit).
//
// The Packer owns two buffers and alternates between them: a body returned by Add or Flush stays
// valid until the next body is returned, so a caller may post it before calling Add again
// without copying. Nothing is allocated per record once the buffers have grown.
//
// Records are copied verbatim; they must be valid JSON values (RecordReader yields compact,
// validated objects). A Packer is not safe for concurrent use.
type Packer struct {
	limit int
	cur   []byte // the body being filled; empty when no record is pending
	spare []byte // the buffer of the body returned last
	n     int    // records in cur
}

// NewPacker returns a Packer for bodies smaller than limit bytes.
func NewPacker(limit int) *Packer {
	return &Packer{limit: limit}
}

// Len returns the number of records in the pending (not yet returned) body.
func (p *Packer) Len() int { return p.n }

// Add appends rec to the pending body. When rec does not fit, Add returns the pending body
// (full) and starts a new one with rec. A record that cannot fit even alone is rejected with
// *RecordTooLargeError and the pending body is kept.
func (p *Packer) Add(rec json.RawMessage) (flushed []byte, err error) {
	if len(rec) == 0 {
		return nil, fmt.Errorf("datacloud: pack records: empty record")
	}
	if packEnvelope+len(rec) >= p.limit {
		return nil, &RecordTooLargeError{Size: len(rec), Limit: p.limit}
	}
	if p.n > 0 && len(p.cur)+1+len(rec)+len(packClose) < p.limit {
		p.cur = append(p.cur, ',')
		p.cur = append(p.cur, rec...)
		p.n++
		return nil, nil
	}
	if p.n > 0 {
		flushed = p.close()
	}
	p.cur = append(p.cur[:0], packOpen...)
	p.cur = append(p.cur, rec...)
	p.n = 1
	return flushed, nil
}

// Flush returns the pending body, or nil when no record is pending.
func (p *Packer) Flush() []byte {
	if p.n == 0 {
		return nil
	}
	return p.close()
}

// close finishes cur, hands it out and swaps in the spare buffer.
func (p *Packer) close() []byte {
	body := append(p.cur, packClose...)
	p.cur, p.spare = p.spare[:0], body
	p.n = 0
	return body
}
