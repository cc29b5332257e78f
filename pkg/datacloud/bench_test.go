package datacloud

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"
)

// onlyReader hides bytes.Reader's WriterTo, so io.Copy has to move the bytes through a buffer as
// it does for an S3 or gzip body (otherwise the baseline is one Write of the whole slice).
type onlyReader struct{ r io.Reader }

func (o onlyReader) Read(p []byte) (int, error) { return o.r.Read(p) }

var (
	benchCSVMu    sync.Mutex
	benchCSVCache = map[int][]byte{}
)

// benchCSV returns a deterministic CSV of about size bytes: a header and records of ~100 bytes,
// every fourth with a quoted field holding a comma, doubled quotes and a CRLF line break.
func benchCSV(size int) []byte {
	benchCSVMu.Lock()
	defer benchCSVMu.Unlock()
	if b, ok := benchCSVCache[size]; ok {
		return b
	}
	var buf bytes.Buffer
	buf.Grow(size + 256)
	buf.WriteString("id,name,email,notes,amount,created\r\n")
	for i := 0; buf.Len() < size; i++ {
		id := strconv.Itoa(i)
		buf.WriteString(id)
		buf.WriteString(",Customer ")
		buf.WriteString(id)
		buf.WriteString(",user")
		buf.WriteString(id)
		buf.WriteString("@example.com,")
		if i%4 == 0 {
			buf.WriteString("\"called back, said \"\"later\"\"\r\nsecond line of the note\",")
		} else {
			buf.WriteString("plain note without specials,")
		}
		buf.WriteString(strconv.Itoa(i * 37 % 10000))
		buf.WriteString(".50,2026-11-28T16:00:00.000Z\n")
	}
	benchCSVCache[size] = buf.Bytes()
	return buf.Bytes()
}

// splitBench splits data once, failing on any error.
func splitBench(b *testing.B, data []byte, maxPart int) (parts int) {
	s, err := NewCSVSplitter(onlyReader{bytes.NewReader(data)}, maxPart)
	if err != nil {
		b.Fatal(err)
	}
	for {
		_, err := s.Next()
		if err == io.EOF {
			return parts
		}
		if err != nil {
			b.Fatal(err)
		}
		parts++
	}
}

// BenchmarkCSVSplitter splits 64 MiB with the default part size (one part; the buffer grows to
// hold it) and with 8 MiB parts (the buffer stays at 8 MiB). Compare with BenchmarkIOCopyBaseline.
// The pool is warmed first: the one-time growth of a cold buffer (allocation, zeroing, page
// faults; see BenchmarkCSVSplitterCold) would otherwise dominate b.N=1.
func BenchmarkCSVSplitter(b *testing.B) {
	data := benchCSV(64 << 20)
	for _, maxPart := range []int{150_000_000, 8 << 20} {
		b.Run(fmt.Sprintf("64MiB/part=%d", maxPart), func(b *testing.B) {
			splitBench(b, data, maxPart) // warm the buffer pool, as for a container's second file
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				splitBench(b, data, maxPart)
			}
		})
	}
}

// BenchmarkCSVSplitterCold splits 64 MiB with the default part size and an empty buffer pool:
// the first file of a fresh container.
func BenchmarkCSVSplitterCold(b *testing.B) {
	data := benchCSV(64 << 20)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		csvGetBuffer(0) // empty the spare buffer
		splitBench(b, data, 150_000_000)
	}
}

// BenchmarkCSVSplitterInputSize shows that allocations do not grow with the input: with the part
// size fixed, 8 MiB and 64 MiB inputs allocate the same.
func BenchmarkCSVSplitterInputSize(b *testing.B) {
	for _, size := range []int{8 << 20, 64 << 20} {
		data := benchCSV(size)
		b.Run(fmt.Sprintf("input=%dMiB/part=4MiB", size>>20), func(b *testing.B) {
			splitBench(b, data, 4<<20)
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				splitBench(b, data, 4<<20)
			}
		})
	}
}

// BenchmarkIOCopyBaseline is a plain io.Copy of the same 64 MiB into io.Discard from a reader
// that, like an S3 body, is not a WriterTo: io.Discard's ReadFrom reads it through one pooled
// 8 KiB buffer, so it measures one memmove of the input into an L1-resident buffer. That is the
// floor for any splitter, which must also land the bytes in a part buffer and look at them.
func BenchmarkIOCopyBaseline(b *testing.B) {
	data := benchCSV(64 << 20)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := io.Copy(io.Discard, onlyReader{bytes.NewReader(data)}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkIOCopyIntoParts is a plain io.Copy of the same 64 MiB into a part-sized buffer, part
// after part (io.CopyN into a reused bytes.Buffer): the bytes land where a splitter's parts do,
// and nothing looks at them. Sub-benchmarks match BenchmarkCSVSplitter's.
func BenchmarkIOCopyIntoParts(b *testing.B) {
	data := benchCSV(64 << 20)
	for _, maxPart := range []int{150_000_000, 8 << 20} {
		b.Run(fmt.Sprintf("64MiB/part=%d", maxPart), func(b *testing.B) {
			buf := bytes.NewBuffer(make([]byte, 0, min(maxPart, len(data))+bytes.MinRead))
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				r := onlyReader{bytes.NewReader(data)}
				for {
					buf.Reset()
					n, err := io.CopyN(buf, r, int64(maxPart))
					if err != nil && err != io.EOF {
						b.Fatal(err)
					}
					if n < int64(maxPart) {
						break
					}
				}
			}
		})
	}
}

// serveBytes serves data to every connection on a loopback listener: a source that, like an S3
// body, arrives through the kernel's socket buffers in chunks.
func serveBytes(b *testing.B, data []byte) string {
	b.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.Write(data)
			}()
		}
	}()
	return ln.Addr().String()
}

func dialBench(b *testing.B, addr string) net.Conn {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		b.Fatal(err)
	}
	return c
}

// BenchmarkSocketCSVSplitter and BenchmarkSocketIOCopyIntoParts read the same 64 MiB from a
// loopback TCP connection: the splitter with 8 MiB parts, and a plain io.Copy into an 8 MiB
// part buffer, part after part.
func BenchmarkSocketCSVSplitter(b *testing.B) {
	data := benchCSV(64 << 20)
	addr := serveBytes(b, data)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		c := dialBench(b, addr)
		s, err := NewCSVSplitter(c, 8<<20)
		for err == nil {
			_, err = s.Next()
		}
		c.Close()
		if err != io.EOF {
			b.Fatal(err)
		}
	}
}

func BenchmarkSocketIOCopyIntoParts(b *testing.B) {
	data := benchCSV(64 << 20)
	addr := serveBytes(b, data)
	buf := bytes.NewBuffer(make([]byte, 0, 8<<20+bytes.MinRead))
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		c := dialBench(b, addr)
		var total int64
		for {
			buf.Reset()
			n, err := io.CopyN(buf, c, 8<<20)
			total += n
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
		}
		c.Close()
		if total != int64(len(data)) {
			b.Fatalf("read %d bytes, want %d", total, len(data))
		}
	}
}

// BenchmarkEncodingCSVReference parses the same 64 MiB with encoding/csv (ReuseRecord): what a
// splitter built on the standard reader would cost at the least.
func BenchmarkEncodingCSVReference(b *testing.B) {
	data := benchCSV(64 << 20)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		r := csv.NewReader(onlyReader{bytes.NewReader(data)})
		r.ReuseRecord = true
		for {
			if _, err := r.Read(); err == io.EOF {
				break
			} else if err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkPacker packs 300-byte records into 200,000-byte bodies and reports the average fill.
func BenchmarkPacker(b *testing.B) {
	p := NewPacker(200_000)
	b.SetBytes(int64(len(record300)))
	b.ReportAllocs()
	total, bodies := 0, 0
	for b.Loop() {
		body, err := p.Add(record300)
		if err != nil {
			b.Fatal(err)
		}
		if body != nil {
			total += len(body)
			bodies++
		}
	}
	if bodies > 0 {
		b.ReportMetric(float64(total)/float64(bodies)/200_000*100, "fill%")
	}
}

// BenchmarkRecordReader reads JSONL records of ~300 bytes.
func BenchmarkRecordReader(b *testing.B) {
	var in bytes.Buffer
	for i := 0; in.Len() < 8<<20; i++ {
		rec, _ := json.Marshal(map[string]any{"id": i, "name": fmt.Sprintf("Customer %d", i), "note": string(bytes.Repeat([]byte("x"), 240))})
		in.Write(rec)
		in.WriteByte('\n')
	}
	data := in.Bytes()
	for _, format := range []RecordFormat{FormatJSONLines} {
		b.Run("jsonl", func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				rr := NewRecordReader(onlyReader{bytes.NewReader(data)}, format)
				for {
					if _, err := rr.Next(); err == io.EOF {
						break
					} else if err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}
