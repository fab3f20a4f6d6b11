package bench

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"
)

// MosquittoPath returns the mosquitto binary on PATH, or "" when it is not
// installed (the mosquitto row is then skipped).
func MosquittoPath() string {
	p, err := exec.LookPath("mosquitto")
	if err != nil {
		return ""
	}
	return p
}

// StartMosquitto runs mosquitto on a free loopback port with a generated
// configuration: anonymous clients, no persistence, no inflight or queue
// limits that would throttle the driver. dir holds the configuration.
func StartMosquitto(ctx context.Context, bin, dir string) (*Process, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	conf := filepath.Join(dir, "mosquitto.conf")
	text := fmt.Sprintf("listener %d 127.0.0.1\nallow_anonymous true\npersistence false\nmax_inflight_messages 0\nmax_queued_messages 0\nlog_dest none\n", port)
	if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
		return nil, fmt.Errorf("mosquitto config %s: %w", conf, err)
	}
	cmd := exec.Command(bin, "-c", conf)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("mosquitto: %w", err)
	}
	p := &Process{Name: ModeMosquitto, cmd: cmd, done: make(chan error, 1), addr: "127.0.0.1:" + strconv.Itoa(port)}
	go func() { p.done <- cmd.Wait() }()
	p.bySignal = true
	// mosquitto has no readiness signal: poll its port until it accepts.
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", p.addr, time.Second)
		if err == nil {
			c.Close()
			return p, nil
		}
		select {
		case err := <-p.done:
			return nil, fmt.Errorf("mosquitto exited before listening on %s: %v", p.addr, err)
		case <-ctx.Done():
			p.terminate()
			return nil, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			p.terminate()
			return nil, fmt.Errorf("mosquitto: not listening on %s after 10 s", p.addr)
		}
	}
}

// terminate stops a process that has no stdin protocol (mosquitto).
func (p *Process) terminate() error {
	p.cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.done:
		return nil
	case <-time.After(10 * time.Second):
		p.kill()
		return fmt.Errorf("%s: did not stop on SIGINT; killed", p.Name)
	}
}
