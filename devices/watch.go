package devices

import (
	"context"
	"sync"

	"github.com/signet-city/signet/devices/twin"
)

// TwinChange tells a watcher that a device's twin changed and is durable.
type TwinChange struct {
	Device string
	Zone   string
	Doc    *twin.Document // the twin after the change; never modified
	// Missed counts changes this watcher lost, since the previous one it
	// received, because it did not keep up.
	Missed uint64
}

// Watch returns a channel of twin changes, in commit order, each sent after
// its transaction is durable (in Relaxed mode too). A change to a twin's
// security counters alone (accepted telemetry and events, rejections) is
// written, and so reported, within Options.FlushInterval. The channel is bounded: a
// watcher that falls behind loses changes rather than slowing commits, and
// the next change it receives says how many it missed. The channel closes
// when ctx ends or the Edge closes.
func (e *Edge) Watch(ctx context.Context) <-chan TwinChange {
	return e.watch.add(ctx)
}

// watchers fans durable twin changes out to subscribers without blocking.
type watchers struct {
	mu     sync.Mutex
	size   int
	subs   map[*watcher]struct{}
	closed bool
}

type watcher struct {
	ch     chan TwinChange
	missed uint64
}

func newWatchers(size int) *watchers {
	return &watchers{size: size, subs: map[*watcher]struct{}{}}
}

func (ws *watchers) add(ctx context.Context) <-chan TwinChange {
	w := &watcher{ch: make(chan TwinChange, ws.size)}
	ws.mu.Lock()
	defer ws.mu.Unlock()
	if ws.closed {
		close(w.ch)
		return w.ch
	}
	ws.subs[w] = struct{}{}
	context.AfterFunc(ctx, func() { ws.remove(w) })
	return w.ch
}

func (ws *watchers) remove(w *watcher) {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	if _, ok := ws.subs[w]; ok {
		delete(ws.subs, w)
		close(w.ch)
	}
}

// publish offers c to every watcher; a full channel counts a miss instead.
func (ws *watchers) publish(c TwinChange) {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	for w := range ws.subs {
		c.Missed = w.missed
		select {
		case w.ch <- c:
			w.missed = 0
		default:
			w.missed++
		}
	}
}

func (ws *watchers) closeAll() {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	ws.closed = true
	for w := range ws.subs {
		delete(ws.subs, w)
		close(w.ch)
	}
}
