package audit

import (
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// FileSummary is the verified summary of one file of a series.
type FileSummary struct {
	Path string
	Summary
}

// FileError says which file of a series a *ChainError or *TornTailError is in.
type FileError struct {
	Path string
	Err  error
}

func (e *FileError) Error() string { return e.Path + ": " + e.Err.Error() }
func (e *FileError) Unwrap() error { return e.Err }

// VerifyFiles verifies each file and then the chain across them: the files
// are put in chain order by their first sequence number, whatever order they
// are named in, and each one's first line must continue the last line of the
// one before. The first file may itself continue files that were rotated
// away (its Summary says from where). Empty files are allowed (a log just
// created). The Summary returned covers the whole series; the files' own
// come in chain order, oldest first (empty files last).
func VerifyFiles(paths []string) (Summary, []FileSummary, error) {
	var files []FileSummary
	seen := map[string]bool{}
	for _, p := range paths {
		if seen[p] {
			return Summary{}, nil, &FileError{p, errors.New("named twice")}
		}
		seen[p] = true
		f, err := os.Open(p)
		if err != nil {
			return Summary{}, nil, &FileError{p, err}
		}
		sum, err := Verify(f)
		f.Close()
		if err != nil {
			return Summary{}, nil, &FileError{p, err}
		}
		files = append(files, FileSummary{p, sum})
	}
	var chain, empty []FileSummary
	for _, f := range files {
		if f.Lines > 0 {
			chain = append(chain, f)
		} else {
			empty = append(empty, f)
		}
	}
	slices.SortStableFunc(chain, func(a, b FileSummary) int { return int64Cmp(a.FirstSeq, b.FirstSeq) })
	total := Summary{Start: genesis, Head: genesis}
	for i, f := range chain {
		if i == 0 {
			total.FirstSeq, total.Start, total.Head = f.FirstSeq, f.Start, f.Start
		} else {
			prev := chain[i-1]
			if f.FirstSeq != prev.LastSeq+1 {
				return total, nil, &FileError{f.Path, &ChainError{1, fmt.Sprintf("starts at sequence number %d but %s ends at %d (a file of the series is missing or repeated)", f.FirstSeq, prev.Path, prev.LastSeq)}}
			}
			if f.Start != prev.Head {
				return total, nil, &FileError{f.Path, &ChainError{1, fmt.Sprintf("prev does not match the last hash of %s (head %s)", prev.Path, hex.EncodeToString(prev.Head[:]))}}
			}
		}
		total.Lines += f.Lines
		total.LastSeq, total.Head = f.LastSeq, f.Head
	}
	return total, append(chain, empty...), nil
}

// SeriesFiles returns path and its rotated files (path.1, path.2, ...) that
// exist, newest first.
func SeriesFiles(path string) ([]string, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, err
	}
	out := []string{path}
	rotated, err := rotatedIndices(path)
	if err != nil {
		return nil, err
	}
	for _, n := range rotated {
		out = append(out, rotatedName(path, n))
	}
	return out, nil
}

// rotatedIndices returns the n of every path.n that exists, ascending.
func rotatedIndices(path string) ([]int, error) {
	matches, err := filepath.Glob(globEscape(path) + ".*")
	if err != nil {
		return nil, err
	}
	var rotated []int
	for _, m := range matches {
		n, err := strconv.Atoi(strings.TrimPrefix(m, path+"."))
		if err == nil && n > 0 && m == rotatedName(path, n) {
			rotated = append(rotated, n)
		}
	}
	slices.Sort(rotated)
	return rotated, nil
}

// rotatedName is the name of the n-th newest rotated file of path.
func rotatedName(path string, n int) string { return path + "." + strconv.Itoa(n) }

// globEscape quotes the characters filepath.Match treats specially.
func globEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`*?[\`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

func int64Cmp(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
