package ingest

import (
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/dcbridge/datacloud-lambda/internal/obs"
	"github.com/dcbridge/datacloud-lambda/pkg/datacloud"
)

// Bulk uploads are streamed: a CSV file is split into chunks of Config.ChunkBytes (whole
// records, each chunk starting with the header), and an upload is the header followed by as
// many chunks as fit in BulkPartBytes, read from S3 and checked while the upload is sent. A
// part is thus never held in memory: touching 2 × 64 MB of fresh memory per file cost more
// than reading and sending the file (docs/performance.md). An upload that must be sent again
// (429, 503, a 401 before a new token) reads its part again from S3: the splitter is
// deterministic, so the file opened anew and advanced to the part's first chunk yields the
// same bytes.

// errWiden means a record does not fit in a chunk although it fits in a part: the file is read
// again with chunks as large as parts.
var errWiden = errors.New("a record is larger than a chunk")

// csvSource is an open CSV file read chunk by chunk. A goroutine reads and checks the chunks
// ahead of the upload, into readAhead+1 buffers of a chunk each, so that reading S3 and
// scanning overlap sending; next takes them in order.
type csvSource struct {
	body  *body
	sp    *datacloud.CSVSplitter // used by the goroutine only, until it has ended
	hlen  int                    // length of the header row that starts every chunk
	chunk []byte                 // the current chunk, nil at the end of the file
	index int                    // the current chunk's number, from 0

	ready chan chunkRead // chunks read ahead, in order
	free  chan []byte    // buffers for the goroutine to fill
	stop  chan struct{}  // closed by close: the goroutine ends
	done  chan struct{}  // closed when the goroutine has ended
	ended bool           // the goroutine sent its last message (end of file or error)
}

// readAhead is how many chunks the goroutine reads before the upload takes them.
const readAhead = 2

// chunkRead is one chunk read ahead, or the reason there is none (io.EOF at the end).
type chunkRead struct {
	buf []byte
	err error
}

// start runs the goroutine that reads the chunks.
func (s *csvSource) start(chunkBytes int) {
	s.ready = make(chan chunkRead, readAhead)
	s.free = make(chan []byte, readAhead+1)
	s.stop, s.done = make(chan struct{}), make(chan struct{})
	for range readAhead + 1 {
		s.free <- nil // allocated on first use, at the size of the chunk
	}
	go func() {
		defer close(s.done)
		for {
			var buf []byte
			select {
			case buf = <-s.free:
			case <-s.stop:
				return
			}
			c, err := s.sp.Next()
			if err == nil {
				if cap(buf) < len(c) {
					buf = make([]byte, 0, max(len(c), chunkBytes))
				}
				buf = append(buf[:0], c...)
			}
			select {
			case s.ready <- chunkRead{buf: buf, err: err}:
			case <-s.stop:
				return
			}
			if err != nil {
				return
			}
		}
	}()
}

// next moves to the next chunk; at the end of the file chunk becomes nil.
func (s *csvSource) next() error {
	if s.chunk != nil {
		s.free <- s.chunk // never blocks: the buffers number the channel's capacity
		s.chunk = nil
	}
	if s.ended {
		return nil
	}
	r := <-s.ready
	switch {
	case r.err == io.EOF:
		s.ended = true
		return nil
	case r.err != nil:
		s.ended = true
		return r.err
	}
	s.chunk = r.buf
	s.index++
	return nil
}

// records is the number of records in the file; valid once next reached the end.
func (s *csvSource) records() int64 {
	<-s.done
	return s.sp.Records()
}

// close stops the goroutine, waiting for a read in progress, and closes the file.
func (s *csvSource) close() {
	if s.stop != nil {
		select {
		case <-s.stop:
		default:
			close(s.stop)
		}
		<-s.done
	}
	s.body.Close()
}

// chunkBytes is the splitter's part size for the item: Config.ChunkBytes, or a whole part once
// a record was found larger than a chunk.
func (r *csvRun) chunkBytes(it *item) int {
	if it.wideChunks {
		return r.in.cfg.BulkPartBytes
	}
	return r.in.cfg.ChunkBytes
}

// openSource opens the item's file and reads its first chunk.
func (r *csvRun) openSource(it *item) (*csvSource, error) {
	b, err := r.in.open(r.work, it)
	if err != nil {
		return nil, err
	}
	// A ragged row makes Data Cloud fail the whole job, with every file sharing it: refuse the
	// file as bad input before its part is uploaded.
	size := r.chunkBytes(it)
	opts := []datacloud.SplitOption{datacloud.CheckFieldCounts(), datacloud.SizeHint(min(dataSizeHint(b, it), int64(size)))}
	if r.noHeader {
		opts = append(opts, datacloud.NoHeader())
	}
	sp, err := datacloud.NewCSVSplitter(b, size, opts...)
	if err != nil {
		b.Close()
		return nil, r.widen(it, err)
	}
	s := &csvSource{body: b, sp: sp, hlen: len(sp.Header()), index: -1}
	s.start(size)
	if err := s.next(); err != nil {
		s.close()
		return nil, r.widen(it, err)
	}
	return s, nil
}

// widen tells a record too large for a chunk from bad input: when the chunked read of the file
// failed on its CSV, the file is read once more, split into whole parts and not sent. If that
// fails too, its error (the one the file would have had with whole parts) is the file's;
// otherwise the file is marked for chunks as large as parts and errWiden returned.
func (r *csvRun) widen(it *item, err error) error {
	var ce *datacloud.CSVError
	if it.wideChunks || r.in.cfg.ChunkBytes >= r.in.cfg.BulkPartBytes || !errors.As(err, &ce) {
		return err
	}
	it.wideChunks = true
	s, werr := r.openSource(it)
	for werr == nil && s.chunk != nil {
		werr = s.next()
	}
	if s != nil {
		s.close()
	}
	if werr != nil {
		return werr
	}
	return fmt.Errorf("datacloud: ingest: %w (%w)", errWiden, err)
}

// replay opens the item's file anew positioned at chunk index, to send a part again.
func (r *csvRun) replay(it *item, index int) (*csvSource, error) {
	s, err := r.openSource(it)
	for err == nil && s.chunk != nil && s.index < index {
		err = s.next()
	}
	switch {
	case err != nil:
		if s != nil {
			s.close()
		}
		return nil, err
	case s.chunk == nil:
		s.close()
		return nil, fmt.Errorf("datacloud: ingest: read the part again: the file ended before chunk %d", index)
	}
	return s, nil
}

// uploadStream sends one part, starting at the source's current chunk, and leaves f.src at the
// first chunk of the next part.
func (r *csvRun) uploadStream(job *csvJob, it *item, f *csvFile) error {
	start := f.src.index
	var (
		mu      sync.Mutex
		readers []*partReader
	)
	open := func() (io.ReadCloser, error) {
		mu.Lock()
		defer mu.Unlock()
		src := f.src
		if len(readers) > 0 { // a retry: read the part again
			var err error
			if src, err = r.replay(it, start); err != nil {
				return nil, err
			}
		}
		p := &partReader{src: src, limit: r.in.cfg.BulkPartBytes, closed: make(chan struct{})}
		readers = append(readers, p)
		return p, nil
	}
	job.uploads++
	err := job.loader.UploadFrom(r.work, open, int64(r.in.cfg.BulkPartBytes))
	mu.Lock()
	defer mu.Unlock()
	// net/http may close a body after the call returned: no source is touched before.
	for _, p := range readers {
		<-p.closed
	}
	if len(readers) == 0 {
		return &uploadError{err}
	}
	last := readers[len(readers)-1]
	for _, p := range readers {
		if p.src != last.src && p.src != f.src {
			p.src.close()
		}
	}
	if f.src != last.src {
		f.src.close()
		f.src = last.src
	}
	switch {
	case last.err != nil:
		return r.widen(it, last.err) // the file, not the upload, failed
	case err != nil:
		return &uploadError{err}
	case !last.eof:
		// Data Cloud answered before the part was read to its end: what it got is unknown.
		return &uploadError{fmt.Errorf("datacloud: ingest: the upload was answered before its end was sent: %w", datacloud.ErrOutcomeUnknown)}
	}
	r.in.metrics.Count(obs.BytesSent, int64(last.size))
	return nil
}

// partReader is the body of one streamed upload: the source's chunks, the header only once, up
// to the chunk that would make the part larger than limit. Read runs on net/http's goroutine;
// Close waits for a Read in progress, so that the source is free once closed is.
type partReader struct {
	mu       sync.Mutex
	src      *csvSource
	limit    int
	size     int  // bytes of the part so far
	off      int  // bytes of the current chunk sent
	started  bool // the current chunk was counted in size
	eof      bool
	err      error // the source's failure
	isClosed bool
	closed   chan struct{}
}

func (p *partReader) Read(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for {
		switch {
		case p.isClosed:
			return 0, errors.New("datacloud: ingest: read after close")
		case p.err != nil:
			return 0, p.err
		case p.src.chunk == nil:
			p.eof = true
			return 0, io.EOF
		}
		c := p.src.chunk
		if !p.started {
			if p.size > 0 {
				if p.size+len(c)-p.src.hlen > p.limit {
					p.eof = true // the chunk starts the next part
					return 0, io.EOF
				}
				p.off = p.src.hlen // the header went with the first chunk
			}
			p.started = true
			p.size += len(c) - p.off
		}
		if p.off < len(c) {
			n := copy(b, c[p.off:])
			p.off += n
			return n, nil
		}
		if p.err = p.src.next(); p.err != nil {
			return 0, p.err
		}
		p.off, p.started = 0, false
	}
}

// Close implements io.Closer.
func (p *partReader) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.isClosed {
		p.isClosed = true
		close(p.closed)
	}
	return nil
}
