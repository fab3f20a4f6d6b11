package bench

import (
	"context"
	"strings"
	"testing"
)

// shChild starts a shell script as a bench target child: it speaks the
// stdin/stdout protocol of "signet bench target" without a broker.
func shChild(t *testing.T, script string) *Process {
	t.Helper()
	p, err := StartChild(context.Background(), "sh-target", []string{"/bin/sh", "-c", script}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestEndWindowReadsTheStagesAnswer(t *testing.T) {
	p := shChild(t, `echo "ready 127.0.0.1:1"
while read line; do
  if [ "$line" = "profile stop" ]; then
    echo 'window {"stages":{"verify":{"count":3,"p50_ms":1.5,"p99_ms":4},"signature_wait":{"count":3,"p50_ms":0.5,"p99_ms":1},"commit_wait":{"count":3,"p50_ms":0.75,"p99_ms":2}},"runtime":{"gc_cycles":2,"sched_latency_p99_ms":0.5}}'
  fi
done`)
	if err := p.Tell("profile start"); err != nil {
		t.Fatal(err)
	}
	w, err := p.EndWindow()
	if err != nil {
		t.Fatal(err)
	}
	want := Stages{Verify: StageLatency{3, 1.5, 4}, Signature: StageLatency{3, 0.5, 1}, Commit: StageLatency{3, 0.75, 2}}
	if w.Stages == nil || *w.Stages != want {
		t.Errorf("stages %+v, want %+v", w.Stages, want)
	}
	if wantRT := (RuntimeStats{GCCycles: 2, SchedP99Ms: 0.5}); w.Runtime == nil || *w.Runtime != wantRT {
		t.Errorf("runtime %+v, want %+v", w.Runtime, wantRT)
	}
	if err := p.Stop(); err != nil {
		t.Errorf("stop: %v", err)
	}
}

func TestEndWindowWithoutStages(t *testing.T) {
	p := shChild(t, `echo "ready 127.0.0.1:1"
while read line; do [ "$line" = "profile stop" ] && echo 'window {"stages":null,"runtime":null}'; done`)
	w, err := p.EndWindow()
	if err != nil || w.Stages != nil || w.Runtime != nil {
		t.Errorf("a broker without stages or runtime: %+v, %v; want none and no error", w, err)
	}
	p.Stop()
}

func TestEndWindowWhenTheBrokerExits(t *testing.T) {
	p := shChild(t, `echo "ready 127.0.0.1:1"; read line; exit 3`)
	_, err := p.EndWindow()
	if err == nil || !strings.Contains(err.Error(), `exited before answering "profile stop"`) {
		t.Errorf("err = %v, want the broker's exit named", err)
	}
	if err := p.Stop(); err == nil {
		t.Error("stop of a child that exited with 3: no error")
	}
}
