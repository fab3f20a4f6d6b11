package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// Process is a broker under test running as its own process, so that its
// CPU time is its own and not the driver's.
type Process struct {
	Name  string
	cmd   *exec.Cmd
	stdin io.WriteCloser
	addr  string
	done  chan error
	cpu0  time.Duration
	// windows receives the child's answers to "profile stop"; eof is
	// closed when its stdout ends (it exited).
	windows chan string
	eof     chan struct{}
	// bySignal: the process has no stdin protocol; Stop sends SIGINT.
	bySignal bool
}

// Addr is the address the broker listens on.
func (p *Process) Addr() string { return p.addr }

// StartChild starts argv (a "signet bench target" command line) and waits
// for its "ready ADDR" line on stdout. The child stops when its stdin is
// closed (Stop), so it also stops if this process dies.
func StartChild(ctx context.Context, name string, argv, env []string) (*Process, error) {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("%s: starting %s: %w", name, argv[0], err)
	}
	p := &Process{Name: name, cmd: cmd, stdin: stdin, done: make(chan error, 1), windows: make(chan string, 1), eof: make(chan struct{})}
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if addr, ok := strings.CutPrefix(sc.Text(), "ready "); ok {
				ready <- addr
			}
			if w, ok := strings.CutPrefix(sc.Text(), WindowPrefix); ok {
				select {
				case p.windows <- w:
				default: // nobody asked: the driver gave up on the window
				}
			}
		}
		close(ready)
		close(p.eof)
		p.done <- cmd.Wait()
	}()
	select {
	case addr, ok := <-ready:
		if !ok {
			return nil, fmt.Errorf("%s: the broker exited before it was ready: %v", name, <-p.done)
		}
		p.addr = addr
		return p, nil
	case <-ctx.Done():
		p.kill()
		return nil, ctx.Err()
	case <-time.After(2 * time.Minute):
		p.kill()
		return nil, fmt.Errorf("%s: no \"ready\" line from the broker within 2 minutes", name)
	}
}

// MarkCPU remembers the process's CPU time so far; CPUSince reports the
// time spent after it.
func (p *Process) MarkCPU() error {
	c, err := ProcessCPU(p.cmd.Process.Pid)
	p.cpu0 = c
	return err
}

// CPUSince is the CPU time (user + system, all threads) since MarkCPU.
func (p *Process) CPUSince() (time.Duration, error) {
	c, err := ProcessCPU(p.cmd.Process.Pid)
	return c - p.cpu0, err
}

// Tell sends the child one line on its stdin ("profile start", "profile
// stop"; see "signet bench target").
func (p *Process) Tell(line string) error {
	if p.bySignal {
		return nil
	}
	_, err := io.WriteString(p.stdin, line+"\n")
	return err
}

// EndWindow tells the child the measured window is over ("profile stop")
// and returns its answer: the broker's stages and runtime in the window
// (empty for a child without the stdin protocol).
func (p *Process) EndWindow() (Window, error) {
	if p.bySignal {
		return Window{}, nil
	}
	if err := p.Tell("profile stop"); err != nil {
		return Window{}, err
	}
	decode := func(line string) (Window, error) {
		var w Window
		if err := json.Unmarshal([]byte(line), &w); err != nil {
			return Window{}, fmt.Errorf("%s: window line %q: %w", p.Name, line, err)
		}
		return w, nil
	}
	select {
	case line := <-p.windows:
		return decode(line)
	case <-p.eof:
		select {
		case line := <-p.windows: // answered, then exited
			return decode(line)
		default:
			return Window{}, fmt.Errorf("%s: the broker exited before answering \"profile stop\"", p.Name)
		}
	case <-time.After(30 * time.Second):
		return Window{}, fmt.Errorf("%s: no answer to \"profile stop\" within 30 s", p.Name)
	}
}

// Stop closes the child's stdin, which asks it to shut down, and waits for
// it (killing it after 30 s).
func (p *Process) Stop() error {
	if p.bySignal {
		return p.terminate()
	}
	p.stdin.Close()
	select {
	case err := <-p.done:
		if err != nil {
			return fmt.Errorf("%s: %w", p.Name, err)
		}
		return nil
	case <-time.After(30 * time.Second):
		p.kill()
		return fmt.Errorf("%s: did not stop within 30 s; killed", p.Name)
	}
}

func (p *Process) kill() {
	p.cmd.Process.Kill()
	<-p.done
}

// userHZ is the unit of /proc/PID/stat times: USER_HZ, fixed at 100 by the
// Linux ABI on every architecture Go supports.
const userHZ = 100

// ProcessCPU reads a process's user + system CPU time from /proc/PID/stat
// (fields 14 and 15, proc(5)), in 10 ms ticks.
func ProcessCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("broker CPU time: %w", err)
	}
	// The command name (field 2) may hold spaces; fields resume after ")".
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0, errors.New("broker CPU time: /proc stat without a command name")
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, errors.New("broker CPU time: short /proc stat line")
	}
	// f[0] is field 3 (state), so utime (14) is f[11] and stime (15) f[12].
	ut, err1 := strconv.ParseUint(f[11], 10, 64)
	st, err2 := strconv.ParseUint(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, fmt.Errorf("broker CPU time: %w", err)
	}
	return time.Duration(ut+st) * time.Second / userHZ, nil
}
