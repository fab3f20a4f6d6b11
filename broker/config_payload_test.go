package broker

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/signet-city/signet/devices/twin"
)

func TestPayloadConfig(t *testing.T) {
	c, err := LoadConfig("testdata/signet.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if c.Payload.topicLimit() != DefaultMaxTopicBytes || c.Payload.Twin.MaxDocumentBytes != twin.DefaultMaxBytes || c.Payload.Twin.MaxPatchDepth != 32 {
		t.Fatalf("example payload limits = %+v", c.Payload)
	}
	if d := DefaultConfig().Payload; d.topicLimit() != DefaultMaxTopicBytes || d.validate() != nil {
		t.Fatalf("default payload limits = %+v", d)
	}
	for body, want := range map[string]string{
		"max_topic_bytes: -1\n":             "max_topic_bytes: -1 must not be negative",
		"max_topic_bytes: 8\n":              "max_topic_bytes: 8 is too small",
		"max_topic_bytes: 70000\n":          "max_topic_bytes: 70000 is more than",
		"twin: {max_document_bytes: -1}\n":  "twin.max_document_bytes: -1",
		"twin: {max_document_bytes: 100}\n": "twin.max_document_bytes: 100 cannot hold",
		"twin: {max_patch_depth: -3}\n":     "twin.max_patch_depth: -3",
		"twin: {max_document_bytes_x: 1}\n": "field max_document_bytes_x not found",
	} {
		path := filepath.Join(t.TempDir(), "c.yaml")
		os.WriteFile(path, []byte(body), 0o600)
		if _, err := LoadConfig(path); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: got %v, want %q", body, err, want)
		}
	}
}
