package bench

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// serveChild is a real "signet serve" process on the fault harness's store:
// the fault and soak harnesses kill it, restart it and read its /proc entry.
type serveChild struct {
	cmd     *exec.Cmd
	mqtt    string // host:port of its MQTT listener
	http    string // host:port of its HTTP API
	done    chan struct{}
	exitErr error
	mu      sync.Mutex
	stderr  bytes.Buffer // kept for the error of a start that failed
}

// childSpec says how to start one serve child.
type childSpec struct {
	Binary string // the signet binary
	Config string // its --config file
	// FileSizeLimit, if > 0, starts the child through prlimit(1) with
	// RLIMIT_FSIZE set to this many bytes (setrlimit(2)): a write past it
	// fails with EFBIG, which is how a full disk looks to the broker.
	FileSizeLimit int64
}

// startServe starts the child and waits for its "listening on" line.
// A child that exits first is an error carrying the last of its stderr.
func startServe(ctx context.Context, s childSpec) (*serveChild, error) {
	argv := []string{s.Binary, "serve", "--config", s.Config}
	if s.FileSizeLimit > 0 {
		prlimit, err := exec.LookPath("prlimit")
		if err != nil {
			return nil, fmt.Errorf("full-disk fault: prlimit(1) (util-linux) not found: %w", err)
		}
		argv = append([]string{prlimit, "--fsize=" + strconv.FormatInt(s.FileSizeLimit, 10), "--"}, argv...)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	// Its own process group: a SIGKILL of the group also reaches the broker
	// when prlimit execs it (it does: prlimit(1) execve's the command).
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	c := &serveChild{cmd: cmd, done: make(chan struct{})}
	cmd.Stderr = &lockedWriter{mu: &c.mu, w: &c.stderr}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", s.Binary, err)
	}
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if rest, ok := strings.CutPrefix(sc.Text(), "signet: listening on "); ok {
				select {
				case ready <- rest:
				default:
				}
			}
		}
		c.exitErr = cmd.Wait()
		close(c.done)
	}()
	timer := time.NewTimer(2 * time.Minute)
	defer timer.Stop()
	select {
	case line := <-ready:
		for _, l := range strings.Split(line, ", ") {
			if a, ok := strings.CutPrefix(l, "mqtt "); ok {
				c.mqtt = a
			}
			if a, ok := strings.CutPrefix(l, "http "); ok {
				c.http = a
			}
		}
		if c.mqtt == "" || c.http == "" {
			c.kill()
			return nil, fmt.Errorf("signet serve: startup line %q names no mqtt and http listener", line)
		}
		return c, nil
	case <-c.done:
		return nil, fmt.Errorf("signet serve exited before it listened (%v): %s", c.exitErr, c.lastStderr())
	case <-ctx.Done():
		c.kill()
		return nil, ctx.Err()
	case <-timer.C:
		c.kill()
		return nil, fmt.Errorf("signet serve: not listening within 2 minutes: %s", c.lastStderr())
	}
}

// pid is the broker's process id (prlimit execs it, so it is the same).
func (c *serveChild) pid() int { return c.cmd.Process.Pid }

// kill sends SIGKILL to the child's process group and waits for it.
func (c *serveChild) kill() {
	syscall.Kill(-c.cmd.Process.Pid, syscall.SIGKILL)
	<-c.done
}

// stop asks the broker to shut down cleanly (SIGINT, as Ctrl-C) and waits
// up to 30 s before killing it. Its exit status is returned.
func (c *serveChild) stop() error {
	c.cmd.Process.Signal(os.Interrupt)
	select {
	case <-c.done:
		return c.exitErr
	case <-time.After(30 * time.Second):
		c.kill()
		return fmt.Errorf("signet serve did not stop within 30 s of SIGINT; killed")
	}
}

// lastStderr is the end of what the child wrote on stderr, on one line.
func (c *serveChild) lastStderr() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := strings.TrimSpace(c.stderr.String())
	if len(s) > 600 {
		s = "..." + s[len(s)-600:]
	}
	return strings.ReplaceAll(s, "\n", " | ")
}

// lockedWriter serialises the child's stderr against lastStderr.
type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.w.Len() > 1<<20 {
		l.w.Reset() // only the end is ever shown
	}
	return l.w.Write(p)
}
