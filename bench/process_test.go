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
    echo 'stages {"verify":{"count":3,"p50_ms":1.5,"p99_ms":4},"signature_wait":{"count":3,"p50_ms":0.5,"p99_ms":1},"commit_wait":{"count":3,"p50_ms":0.75,"p99_ms":2}}'
  fi
done`)
	if err := p.Tell("profile start"); err != nil {
		t.Fatal(err)
	}
	st, err := p.EndWindow()
	if err != nil {
		t.Fatal(err)
	}
	want := Stages{Verify: StageLatency{3, 1.5, 4}, Signature: StageLatency{3, 0.5, 1}, Commit: StageLatency{3, 0.75, 2}}
	if st == nil || *st != want {
		t.Errorf("stages %+v, want %+v", st, want)
	}
	if err := p.Stop(); err != nil {
		t.Errorf("stop: %v", err)
	}
}

func TestEndWindowWithoutStages(t *testing.T) {
	p := shChild(t, `echo "ready 127.0.0.1:1"
while read line; do [ "$line" = "profile stop" ] && echo "stages null"; done`)
	st, err := p.EndWindow()
	if err != nil || st != nil {
		t.Errorf("a broker without stages: %+v, %v; want none and no error", st, err)
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
