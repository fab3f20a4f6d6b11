package listeners

import (
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
)

// Signet patch 4 (PATCHES.md): clients added while CloseAll runs are either
// turned away or waited for, never counted during its wait (which -race
// reports as a misuse of sync.WaitGroup).
func TestSignetCloseAllWaitsForEveryAddedClient(t *testing.T) {
	l := New()
	var added, finished atomic.Int32
	release := make(chan struct{})
	var clients sync.WaitGroup
	for i := 0; i < 50; i++ {
		clients.Add(1)
		go func() {
			defer clients.Done()
			if l.AddClient() {
				added.Add(1)
				<-release
				finished.Add(1)
				l.ClientsWg.Done()
			}
		}()
	}
	closed := make(chan int32)
	go func() {
		l.CloseAll(MockCloser)
		closed <- finished.Load() - added.Load()
	}()
	close(release)
	require.Equal(t, int32(0), <-closed, "CloseAll returned before a client it had let in finished")
	clients.Wait()
	require.False(t, l.AddClient(), "a client added after CloseAll")
}
