package audit

import (
	"fmt"
	"os"

	"github.com/signet-city/signet/internal/atomicfile"
)

// cutTornTail moves the torn bytes at the end of f to a new side file next
// to the log (nothing is lost) and truncates f to its intact lines.
func (l *Log) cutTornTail(f *os.File, torn *TornTailError) error {
	tail := make([]byte, torn.Bytes)
	if _, err := f.ReadAt(tail, torn.Offset); err != nil {
		return fmt.Errorf("reading the torn tail: %w", err)
	}
	side := l.path + ".torn-" + l.opts.Now().UTC().Format("20060102T150405.000000000Z")
	if err := atomicfile.WriteNew(side, 0o600, atomicfile.Bytes(tail)); err != nil {
		return fmt.Errorf("saving the torn tail: %w", err)
	}
	if err := f.Truncate(torn.Offset); err != nil {
		return fmt.Errorf("cutting the torn tail (saved in %s): %w", side, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("cutting the torn tail (saved in %s): %w", side, err)
	}
	l.tornSide = side
	return nil
}
