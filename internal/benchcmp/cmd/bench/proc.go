package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// clkTck is USER_HZ, the unit of utime and stime in /proc/<pid>/stat. It is
// 100 on every Linux architecture Go supports.
const clkTck = 100

// cpuSample is a server process's CPU time at one instant, taken two ways:
// the sum of its threads' /proc/<pid>/task/<tid>/schedstat run times (ns,
// exact but missing threads that have exited) and utime+stime from
// /proc/<pid>/stat (whole process, 10 ms ticks).
type cpuSample struct {
	schedNS int64 // -1 if schedstat is unavailable
	ticks   int64
	minflt  int64 // minor page faults so far (a fresh page touched)
}

func readCPU(pid int) (cpuSample, error) {
	s := cpuSample{schedNS: -1}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return s, err
	}
	// The comm field may hold spaces: fields start after the last ')'.
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return s, fmt.Errorf("bad /proc/%d/stat", pid)
	}
	f := strings.Fields(string(stat[i+1:]))
	// f[0] is field 3 (state); utime and stime are fields 14 and 15.
	if len(f) < 13 {
		return s, fmt.Errorf("short /proc/%d/stat", pid)
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return s, err
	}
	s.ticks = ut + st
	s.minflt, _ = strconv.ParseInt(f[7], 10, 64) // field 10

	tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/schedstat", pid))
	if err != nil || len(tasks) == 0 {
		return s, nil
	}
	var sum int64
	for _, t := range tasks {
		b, err := os.ReadFile(t)
		if err != nil {
			continue // the thread exited meanwhile
		}
		run, _, ok := strings.Cut(string(b), " ")
		if !ok {
			return s, nil
		}
		ns, err := strconv.ParseInt(run, 10, 64)
		if err != nil {
			return s, nil
		}
		sum += ns
	}
	s.schedNS = sum
	return s, nil
}

// cpuDelta returns the CPU time between two samples. It uses the schedstat
// sum unless that is unavailable or falls clearly short of the tick count
// (a thread exited and took its time with it); then it uses ticks.
func cpuDelta(a, b cpuSample) time.Duration {
	tick := time.Duration(b.ticks-a.ticks) * (time.Second / clkTck)
	if a.schedNS < 0 || b.schedNS < 0 {
		return tick
	}
	sched := time.Duration(b.schedNS - a.schedNS)
	if sched < 0 || sched < tick-2*(time.Second/clkTck)-tick/10 {
		return tick
	}
	return sched
}

// procStatus returns VmRSS and VmHWM (peak RSS) of pid in bytes.
func procStatus(pid int) (rss, hwm int64, err error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, val, ok := strings.Cut(sc.Text(), ":")
		if !ok || (name != "VmRSS" && name != "VmHWM") {
			continue
		}
		fs := strings.Fields(val) // "1234 kB"
		if len(fs) == 0 {
			continue
		}
		kb, err := strconv.ParseInt(fs[0], 10, 64)
		if err != nil {
			return 0, 0, err
		}
		if name == "VmRSS" {
			rss = kb << 10
		} else {
			hwm = kb << 10
		}
	}
	return rss, hwm, sc.Err()
}

// serverProc is a running server binary.
type serverProc struct {
	cmd    *exec.Cmd
	addr   string
	stderr *limitedWriter
	done   chan struct{}
}

func (p *serverProc) pid() int { return p.cmd.Process.Pid }

// startServer runs bin with the given library and mode and waits for the
// address on its first stdout line.
func startServer(bin, lib, mode, profile string) (*serverProc, error) {
	args := []string{"-lib", lib, "-mode", mode, "-addr", "127.0.0.1:0"}
	if profile != "" {
		args = append(args, "-cpuprofile", profile)
	}
	cmd := exec.Command(bin, args...)
	p := &serverProc{cmd: cmd, stderr: &limitedWriter{n: 8 << 10}, done: make(chan struct{})}
	cmd.Stderr = p.stderr
	cmd.WaitDelay = time.Second // do not wait on a pipe a grandchild holds
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		cmd.Wait()
		close(p.done)
	}()
	line := make(chan string, 1)
	go func() {
		s, _ := bufio.NewReader(out).ReadString('\n')
		line <- strings.TrimSpace(s)
	}()
	select {
	case p.addr = <-line:
	case <-time.After(10 * time.Second):
	}
	if p.addr == "" {
		p.stop()
		return nil, fmt.Errorf("server %s did not start: %s", lib, strings.TrimSpace(p.stderr.String()))
	}
	return p, nil
}

// stop ends the server with SIGTERM (so that a CPU profile is written),
// then SIGKILL after a grace period.
func (p *serverProc) stop() {
	p.cmd.Process.Signal(syscall.SIGTERM)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	select {
	case <-p.done:
	case <-ctx.Done():
		p.cmd.Process.Kill()
		<-p.done
	}
}

// alive reports an error if the server has exited.
func (p *serverProc) alive() error {
	select {
	case <-p.done:
		return fmt.Errorf("server exited: %s", strings.TrimSpace(p.stderr.String()))
	default:
		return nil
	}
}

// limitedWriter keeps the first n bytes written to it.
type limitedWriter struct {
	mu  sync.Mutex
	buf bytes.Buffer
	n   int
}

func (w *limitedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	if room := w.n - w.buf.Len(); room > 0 {
		w.buf.Write(p[:min(len(p), room)])
	}
	w.mu.Unlock()
	return len(p), nil
}

func (w *limitedWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// raiseNoFile raises RLIMIT_NOFILE to its hard limit. Set explicitly, the
// new limit is also what the server subprocesses inherit.
func raiseNoFile() (uint64, error) {
	var r syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r); err != nil {
		return 0, err
	}
	r.Cur = r.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &r); err != nil {
		return 0, err
	}
	return r.Cur, nil
}
