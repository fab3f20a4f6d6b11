package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
)

// DiskFault is one disk fault: the broker under it, then the broker after
// it was lifted (a restart without the fault).
type DiskFault struct {
	Name string `json:"name"`
	How  string `json:"how"` // how the fault was made on this machine
	// StartedUnderFault: the broker started with the fault in place;
	// StartError is its one line when it did not.
	StartedUnderFault bool   `json:"started_under_fault"`
	StartError        string `json:"start_error,omitempty"`
	// Under the fault: honest messages sent, acknowledged (0x00), refused
	// with a PUBACK failure code, and left without a PUBACK.
	Sent    uint64 `json:"sent"`
	Acked   uint64 `json:"acked"`
	Refused uint64 `json:"refused"`
	Unacked uint64 `json:"unacked"`
	// SessionsRefused: CONNECTs answered with a failure code under the
	// fault (a connect token spends a counter, which must be recorded).
	SessionsRefused uint64 `json:"sessions_refused"`
	// After the fault was lifted: the broker started (Recovered), every
	// update acknowledged under the fault is in the twins (LostAcked must
	// be 0), no acknowledged message was accepted a second time when
	// replayed (ReplaysAccepted must be 0), and honest devices are served
	// again. LateAccepted counts replayed messages that the fault had
	// refused and that were taken now, for the first time: a counter the
	// broker never accepted nor leased was never used, so the message is
	// late, not replayed (docs/faults.md).
	Recovered       bool   `json:"recovered"`
	LostAcked       uint64 `json:"lost_acked"`
	Replayed        uint64 `json:"replayed"`
	ReplaysAccepted uint64 `json:"replays_accepted"`
	LateAccepted    uint64 `json:"late_accepted"`
	HonestAfter     uint64 `json:"honest_after"`
	HonestRefused   uint64 `json:"honest_refused_after"`
	// Full disk only: devices enrolled over the HTTP API under the fault
	// (201), enrolments refused, and enrolled devices missing after the
	// recovery (LostEnrolled must be 0).
	Enrolled     int    `json:"enrolled,omitempty"`
	EnrolRefused int    `json:"enrol_refused,omitempty"`
	LostEnrolled uint64 `json:"lost_enrolled,omitempty"`
	enrolled     []*faultDevice
}

// faultBurst is how many messages each device sends under a disk fault.
const faultBurst = 30

// fullDisk runs the broker with RLIMIT_FSIZE at the store's current size
// (prlimit --fsize): the store may rewrite the pages it has but never grow,
// as on a full disk. Writes past the limit fail with EFBIG (Go ignores
// SIGXFSZ, so the broker sees the error rather than dying). The fault is
// lifted by restarting without the limit.
func fullDisk(ctx context.Context, site *faultSite, o FaultOptions) (DiskFault, error) {
	st, err := os.Stat(site.store)
	if err != nil {
		return DiskFault{Name: "full disk"}, err
	}
	d := DiskFault{Name: "full disk", How: fmt.Sprintf("RLIMIT_FSIZE = %d bytes (the store's size) via prlimit --fsize", st.Size())}
	var msgs []captured
	resetAcked(site)
	child, err := startServe(ctx, childSpec{Binary: o.Binary, Config: site.config, FileSizeLimit: st.Size()})
	if err != nil {
		d.StartError = err.Error()
	} else {
		d.StartedUnderFault = true
		// Steady traffic rewrites pages the store already has; new devices
		// make it grow, which is when a full disk is felt. A real device
		// that loses its enrolment keeps publishing and is refused.
		ids, refused, err := growStore(ctx, child.http, site, "new", 2000)
		if err != nil {
			child.kill()
			return d, fmt.Errorf("faults: full disk: %w", err)
		}
		d.Enrolled, d.EnrolRefused, d.enrolled = len(ids), refused, ids
		// The new devices publish too: their first state makes their twins
		// grow, which a full store cannot hold.
		site.devices = append(site.devices, ids...)
		c, err := loadBurst(ctx, child.mqtt, site, o.Skip, faultBurst, true)
		d.Sent, d.Acked, d.Refused, d.Unacked, d.SessionsRefused, msgs = c.sent, c.acked, c.refused, c.lost, c.sessionsRefused, c.capture
		// A clean stop may fail to write under the fault; that is the
		// broker's to report, and what follows checks it lost nothing.
		child.stop()
		if err != nil && !errors.Is(err, errConnectionLost) {
			return d, fmt.Errorf("faults: full disk: %w", err)
		}
	}
	return d, recoverFrom(ctx, site, o, &d, msgs)
}

// readOnlyStore makes the store's folder read-only while the broker runs,
// then restarts the broker on it, then makes it writable again and
// restarts. As root (where permissions do not bind) the folder gets a
// read-only bind mount over itself (mount -o remount,bind,ro); otherwise
// its mode and the store's become read-only.
func readOnlyStore(ctx context.Context, site *faultSite, o FaultOptions) (DiskFault, error) {
	d := DiskFault{Name: "read-only store folder"}
	child, err := startServe(ctx, childSpec{Binary: o.Binary, Config: site.config})
	if err != nil {
		return d, fmt.Errorf("faults: read-only store: start before the fault: %w", err)
	}
	lift, how, err := makeReadOnly(site.dir, site.store)
	d.How = how
	if err != nil {
		child.kill()
		return d, fmt.Errorf("faults: read-only store: %w", err)
	}
	resetAcked(site)
	// The running broker keeps its open store file: a folder that turns
	// read-only does not stop writes to it, so this burst is expected to be
	// acknowledged (and must then survive).
	c, err := loadBurst(ctx, child.mqtt, site, o.Skip, faultBurst, true)
	d.Sent, d.Acked, d.Refused, d.Unacked, d.SessionsRefused = c.sent, c.acked, c.refused, c.lost, c.sessionsRefused
	msgs := c.capture
	child.stop()
	if err != nil && !errors.Is(err, errConnectionLost) {
		lift()
		return d, fmt.Errorf("faults: read-only store: %w", err)
	}
	// A start on the read-only store must fail cleanly or run; it must not
	// damage the store.
	if again, err := startServe(ctx, childSpec{Binary: o.Binary, Config: site.config}); err != nil {
		d.StartError = err.Error()
	} else {
		d.StartedUnderFault = true
		c, err := loadBurst(ctx, again.mqtt, site, o.Skip, faultBurst, true)
		d.Sent += c.sent
		d.Acked += c.acked
		d.Refused += c.refused
		d.Unacked += c.lost
		d.SessionsRefused += c.sessionsRefused
		msgs = append(msgs, c.capture...)
		again.stop()
		if err != nil && !errors.Is(err, errConnectionLost) {
			lift()
			return d, fmt.Errorf("faults: read-only store: %w", err)
		}
	}
	if err := lift(); err != nil {
		return d, fmt.Errorf("faults: read-only store: making it writable again: %w", err)
	}
	return d, recoverFrom(ctx, site, o, &d, msgs)
}

// makeReadOnly makes dir (and the store in it) read-only and returns how
// to undo it.
func makeReadOnly(dir, store string) (lift func() error, how string, err error) {
	if os.Geteuid() == 0 {
		mount := func(args ...string) error {
			if out, err := exec.Command("mount", args...).CombinedOutput(); err != nil {
				return fmt.Errorf("mount %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
			}
			return nil
		}
		if err := mount("--bind", dir, dir); err != nil {
			return nil, "", err
		}
		if err := mount("-o", "remount,bind,ro", dir); err != nil {
			exec.Command("umount", dir).Run()
			return nil, "", err
		}
		return func() error {
			if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
				return fmt.Errorf("umount %s: %v: %s", dir, err, strings.TrimSpace(string(out)))
			}
			return nil
		}, "read-only bind mount of the store's folder (running as root)", nil
	}
	if err := errors.Join(os.Chmod(store, 0o400), os.Chmod(dir, 0o500)); err != nil {
		return nil, "", err
	}
	return func() error {
		return errors.Join(os.Chmod(dir, 0o700), os.Chmod(store, 0o600))
	}, "chmod 0500 on the store's folder, 0400 on the store", nil
}

// recoverFrom restarts the broker without the fault and checks it: the
// store opens, every update acknowledged under the fault is in the twins,
// no captured message is accepted again, honest devices are served.
func recoverFrom(ctx context.Context, site *faultSite, o FaultOptions, d *DiskFault, msgs []captured) error {
	child, err := startServe(ctx, childSpec{Binary: o.Binary, Config: site.config})
	if err != nil {
		return fmt.Errorf("faults: %s: restart after the fault was lifted: %w", d.Name, err)
	}
	defer child.stop()
	d.Recovered = true
	if d.LostAcked, err = lostAcked(ctx, child.http, site); err != nil {
		return fmt.Errorf("faults: %s: %w", d.Name, err)
	}
	if d.LostEnrolled, err = lostEnrolments(ctx, child.http, site, d.enrolled); err != nil {
		return fmt.Errorf("faults: %s: %w", d.Name, err)
	}
	var accepted uint64
	if d.Replayed, accepted, d.LateAccepted, err = replayAll(ctx, child.mqtt, site, msgs); err != nil {
		return fmt.Errorf("faults: %s: replaying: %w", d.Name, err)
	}
	d.ReplaysAccepted = accepted - d.LateAccepted
	if d.HonestAfter, d.HonestRefused, err = honestBurst(ctx, child.mqtt, site, o.Skip, 4); err != nil {
		return fmt.Errorf("faults: %s: honest devices after recovery: %w", d.Name, err)
	}
	return nil
}

// resetAcked forgets the acknowledged state counters of earlier phases
// (the newest one, lastAckedState, is kept and still checked).
func resetAcked(site *faultSite) {
	for _, d := range site.devices {
		d.mu.Lock()
		d.ackedStates = d.ackedStates[:0]
		d.mu.Unlock()
	}
}

// loadBurst has every device publish n messages (each device stops at
// its first lost PUBACK) and sums what they came to. Under a fault
// (underFault) a CONNECT the broker refuses is counted, not an error: the
// broker may refuse a session whose connect token it cannot record.
func loadBurst(ctx context.Context, addr string, site *faultSite, skip uint64, n int, underFault bool) (deviceCounts, error) {
	results := make([]deviceCounts, len(site.devices))
	errs := make([]error, len(site.devices))
	done := make(chan struct{})
	for i, d := range site.devices {
		go func() {
			defer func() { done <- struct{}{} }()
			results[i], errs[i] = d.runHonest(ctx, addr, skip, n, nil, nil)
			if underFault && errors.Is(errs[i], errConnRefused) {
				errs[i] = nil
			}
		}()
	}
	for range site.devices {
		<-done
	}
	var sum deviceCounts
	for _, c := range results {
		sum.sent += c.sent
		sum.acked += c.acked
		sum.refused += c.refused
		sum.lost += c.lost
		sum.sessionsRefused += c.sessionsRefused
		sum.capture = append(sum.capture, c.capture...)
	}
	return sum, firstOf(errs)
}

// firstOf is the first non-nil error, saying how many more there were, so
// that a fleet failing the same way is one line.
func firstOf(errs []error) error {
	var first error
	more := 0
	for _, err := range errs {
		switch {
		case err == nil:
		case first == nil:
			first = err
		default:
			more++
		}
	}
	if more > 0 {
		return fmt.Errorf("%w (and %d more devices)", first, more)
	}
	return first
}
