package lambdarun

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// barrierPrefix marks a line this package writes into the emulator's own output pipes. Pipes
// keep write order, so once the reader sees the barrier it has read everything the emulator
// and the bootstrap wrote before it: an invoke's logs are then complete without sleeping.
const barrierPrefix = "\x00lambdarun-barrier:"

// maxKeptLines bounds the lines kept for Logs and Result.Logs, so a long-running runtime
// (sam-local start-api, benchmarks) does not grow without end; the oldest half is dropped.
const maxKeptLines = 100_000

var initReportRE = regexp.MustCompile(`INIT REPORT\(.*?durationMs: ([0-9.]+)`)

// logCollector gathers the lines of the emulator's stdout and stderr (in arrival order) and
// copies them to the caller's writers.
type logCollector struct {
	mu       sync.Mutex
	cond     *sync.Cond
	lines    []string // lines[i] has absolute index base+i
	base     int
	barriers map[string]bool
	inits    []initMark // every INIT REPORT, with the index of its line
	done     sync.WaitGroup
}

type initMark struct {
	line     int
	duration time.Duration
}

func newLogCollector() *logCollector {
	c := &logCollector{barriers: map[string]bool{}}
	c.cond = sync.NewCond(&c.mu)
	return c
}

// follow reads r line by line until EOF, copying each line to copyTo (when not nil).
func (c *logCollector) follow(r io.Reader, copyTo io.Writer) {
	c.done.Add(1)
	go func() {
		defer c.done.Done()
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 64*1024), 4*1024*1024)
		for sc.Scan() {
			c.add(sc.Text(), copyTo)
		}
		// A line longer than the buffer ends the scan: keep draining so the writer never blocks.
		_, _ = io.Copy(io.Discard, r)
		if cl, ok := r.(io.Closer); ok {
			_ = cl.Close()
		}
	}()
}

func (c *logCollector) add(line string, copyTo io.Writer) {
	var barrier string
	if i := strings.Index(line, barrierPrefix); i >= 0 {
		barrier = line[i+len(barrierPrefix):]
		line = line[:i]
		if line == "" {
			c.mu.Lock()
			c.barriers[barrier] = true
			c.cond.Broadcast()
			c.mu.Unlock()
			return
		}
	}
	if copyTo != nil {
		_, _ = io.WriteString(copyTo, line+"\n")
	}
	c.mu.Lock()
	if m := initReportRE.FindStringSubmatch(line); m != nil {
		if ms, err := strconv.ParseFloat(m[1], 64); err == nil {
			c.inits = append(c.inits, initMark{line: c.base + len(c.lines), duration: time.Duration(ms * float64(time.Millisecond))})
		}
	}
	c.lines = append(c.lines, line)
	if len(c.lines) > maxKeptLines {
		drop := len(c.lines) / 2
		c.lines = append([]string(nil), c.lines[drop:]...)
		c.base += drop
	}
	if barrier != "" {
		c.barriers[barrier] = true
	}
	c.cond.Broadcast()
	c.mu.Unlock()
}

// mark returns the absolute index the next line will have.
func (c *logCollector) mark() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.base + len(c.lines)
}

// since returns the kept lines from absolute index from on.
func (c *logCollector) since(from int) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	i := max(from-c.base, 0)
	return append([]string(nil), c.lines[i:]...)
}

// initSince returns the first INIT REPORT duration logged at or after index from.
func (c *logCollector) initSince(from int) (time.Duration, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, m := range c.inits {
		if m.line >= from {
			return m.duration, true
		}
	}
	return 0, false
}

// firstInit returns the first INIT REPORT duration of the emulator's life.
func (c *logCollector) firstInit() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.inits) == 0 {
		return 0
	}
	return c.inits[0].duration
}

// sync writes a barrier into each pipe and waits (at most timeout) until the readers saw
// them all.
func (c *logCollector) sync(pipes []*os.File, id string, timeout time.Duration) error {
	names := make([]string, len(pipes))
	for i, p := range pipes {
		names[i] = fmt.Sprintf("%s/%d", id, i)
		if _, err := io.WriteString(p, barrierPrefix+names[i]+"\n"); err != nil {
			return fmt.Errorf("lambdarun: log barrier: %w", err)
		}
	}
	deadline := time.Now().Add(timeout)
	timer := time.AfterFunc(timeout, func() {
		c.mu.Lock()
		c.cond.Broadcast()
		c.mu.Unlock()
	})
	defer timer.Stop()
	c.mu.Lock()
	defer c.mu.Unlock()
	for {
		all := true
		for _, n := range names {
			if !c.barriers[n] {
				all = false
				break
			}
		}
		if all {
			for _, n := range names {
				delete(c.barriers, n)
			}
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("lambdarun: log barrier: not seen within %s", timeout)
		}
		c.cond.Wait()
	}
}
