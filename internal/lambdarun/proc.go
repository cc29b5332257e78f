package lambdarun

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// BootstrapPID returns the process id of the bootstrap the emulator runs now. There is none
// before the first invoke, and the emulator starts a new one after a timeout or a crash.
func (r *Runtime) BootstrapPID() (int, error) {
	if r.cmd == nil || r.cmd.Process == nil {
		return 0, fmt.Errorf("lambdarun: bootstrap pid: not started")
	}
	want := filepath.Base(r.cfg.Bootstrap)
	for _, pid := range children(r.cmd.Process.Pid) {
		if comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid)); err == nil && strings.TrimSpace(string(comm)) == truncComm(want) {
			return pid, nil
		}
	}
	return 0, fmt.Errorf("lambdarun: bootstrap pid: no %s process under aws-lambda-rie (pid %d); is it initialised?", want, r.cmd.Process.Pid)
}

// PeakRSS returns the bootstrap's peak resident set size (VmHWM in /proc/<pid>/status), in
// bytes. The emulator's REPORT line always claims the configured memory size, so this is the
// real figure.
func (r *Runtime) PeakRSS() (int64, error) {
	pid, err := r.BootstrapPID()
	if err != nil {
		return 0, err
	}
	return vmHWM(pid)
}

// vmHWM reads VmHWM (kB) of a process and returns it in bytes.
func vmHWM(pid int) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("lambdarun: peak rss: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:")
		if !ok {
			continue
		}
		fields := strings.Fields(rest)
		if len(fields) != 2 || fields[1] != "kB" {
			return 0, fmt.Errorf("lambdarun: peak rss: unexpected VmHWM line %q", sc.Text())
		}
		kb, err := strconv.ParseInt(fields[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("lambdarun: peak rss: %w", err)
		}
		return kb * 1024, nil
	}
	return 0, fmt.Errorf("lambdarun: peak rss: no VmHWM in /proc/%d/status", pid)
}

// children lists the direct children of pid, from /proc/<pid>/task/*/children (every thread
// of a Go program may have forked one), or by scanning /proc/*/stat on kernels built without
// CONFIG_PROC_CHILDREN.
func children(pid int) []int {
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
	if len(tasks) == 0 {
		return childrenByStat(pid)
	}
	var out []int
	for _, t := range tasks {
		b, err := os.ReadFile(t)
		if err != nil {
			continue
		}
		for _, f := range strings.Fields(string(b)) {
			if c, err := strconv.Atoi(f); err == nil {
				out = append(out, c)
			}
		}
	}
	return out
}

// childrenByStat finds the processes whose parent (field 4 of /proc/<pid>/stat) is pid.
func childrenByStat(pid int) []int {
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	var out []int
	for _, st := range stats {
		b, err := os.ReadFile(st)
		if err != nil {
			continue
		}
		if ppid, ok := parentFromStat(string(b)); ok && ppid == pid {
			if c, err := strconv.Atoi(filepath.Base(filepath.Dir(st))); err == nil {
				out = append(out, c)
			}
		}
	}
	return out
}

// parentFromStat reads the ppid from a /proc/<pid>/stat line. The command name (field 2) is in
// parentheses and may hold spaces or parentheses itself, so parsing starts after the last ')'.
func parentFromStat(stat string) (int, bool) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, false
	}
	fields := strings.Fields(stat[i+1:])
	if len(fields) < 2 {
		return 0, false
	}
	ppid, err := strconv.Atoi(fields[1])
	return ppid, err == nil
}

// descendants lists every process below pid.
func descendants(pid int) []int {
	var out []int
	queue := []int{pid}
	for len(queue) > 0 && len(out) < 1000 {
		p := queue[0]
		queue = queue[1:]
		for _, c := range children(p) {
			out = append(out, c)
			queue = append(queue, c)
		}
	}
	return out
}

// truncComm mirrors the kernel's 15-byte limit on /proc/<pid>/comm.
func truncComm(name string) string {
	if len(name) > 15 {
		return name[:15]
	}
	return name
}

// CPUTime returns the processor time (user + system) the bootstrap and the emulator itself
// have used so far, from field 14 and 15 of /proc/<pid>/stat. Differences of two readings say
// where the time of a measurement went; the clock tick is 10 ms.
func (r *Runtime) CPUTime() (bootstrap, emulator time.Duration, err error) {
	if r.cmd == nil || r.cmd.Process == nil {
		return 0, 0, fmt.Errorf("lambdarun: cpu time: not started")
	}
	pid, err := r.BootstrapPID()
	if err != nil {
		return 0, 0, err
	}
	if bootstrap, err = processCPU(pid); err != nil {
		return 0, 0, err
	}
	emulator, err = processCPU(r.cmd.Process.Pid)
	return bootstrap, emulator, err
}

// clockTick is USER_HZ, the unit of /proc/<pid>/stat times: 100 on every Linux Go supports.
const clockTick = 10 * time.Millisecond

// processCPU reads utime + stime of a process.
func processCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("lambdarun: cpu time: %w", err)
	}
	d, ok := cpuFromStat(string(b))
	if !ok {
		return 0, fmt.Errorf("lambdarun: cpu time: unexpected /proc/%d/stat", pid)
	}
	return d, nil
}

// cpuFromStat reads fields 14 (utime) and 15 (stime) of a /proc/<pid>/stat line, counting
// after the command name, which is in parentheses and may hold spaces or parentheses itself.
func cpuFromStat(stat string) (time.Duration, bool) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, false
	}
	fields := strings.Fields(stat[i+1:]) // fields[0] is field 3, the state
	if len(fields) < 13 {
		return 0, false
	}
	utime, err1 := strconv.ParseInt(fields[11], 10, 64)
	stime, err2 := strconv.ParseInt(fields[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	return time.Duration(utime+stime) * clockTick, true
}
