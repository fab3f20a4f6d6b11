package bench

import (
	"encoding/json"
	"io"
	"os"
)

// WriteJSON writes v, indented, to the file path, or to w when path is "-"
// (the --json flag of the bench commands).
func WriteJSON(w io.Writer, path string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	data = append(data, '\n')
	if path == "-" {
		_, err = w.Write(data)
		return err
	}
	return os.WriteFile(path, data, 0o644)
}
