package broker

import (
	"fmt"

	"github.com/signet-city/signet/devices/strictjson"
	"github.com/signet-city/signet/devices/twin"
)

// DefaultMaxTopicBytes bounds a topic under city/: the longest valid one,
// city/{zone}/{device}/{class}/{name} with 64-byte ids, is about 210 bytes.
const DefaultMaxTopicBytes = 256

// PayloadConfig bounds what a signed message may carry and become. It is
// inlined in Config: max_topic_bytes at the top level, the rest under twin.
type PayloadConfig struct {
	// MaxTopicBytes is the longest topic under city/ that is looked at at
	// all (0: DefaultMaxTopicBytes); a longer one is refused as bad_topic
	// before it is parsed or copied.
	MaxTopicBytes int `yaml:"max_topic_bytes"`
	// Twin bounds twin documents and the patches that change them.
	Twin TwinConfig `yaml:"twin"`
}

// TwinConfig is the twin: section.
type TwinConfig struct {
	// MaxDocumentBytes bounds an encoded twin document (0:
	// twin.DefaultMaxBytes); a state message or command that would pass it
	// is refused and the twin stays as it was.
	MaxDocumentBytes int `yaml:"max_document_bytes"`
	// MaxPatchDepth bounds the JSON nesting of a state or command payload
	// (0: strictjson.DefaultMaxDepth).
	MaxPatchDepth int `yaml:"max_patch_depth"`
	// Topics bounds the twin topics the broker publishes (config_twin.go).
	Topics TwinTopicsConfig `yaml:",inline"`
}

// topicLimit is MaxTopicBytes with its default.
func (p PayloadConfig) topicLimit() int {
	if p.MaxTopicBytes <= 0 {
		return DefaultMaxTopicBytes
	}
	return p.MaxTopicBytes
}

// validate names the first field that is wrong.
func (p PayloadConfig) validate() error {
	switch {
	case p.MaxTopicBytes < 0:
		return fmt.Errorf("max_topic_bytes: %d must not be negative (0: %d)", p.MaxTopicBytes, DefaultMaxTopicBytes)
	case p.MaxTopicBytes > 0 && p.MaxTopicBytes < 32:
		return fmt.Errorf("max_topic_bytes: %d is too small for any city/ topic; use at least 32 (0: %d)", p.MaxTopicBytes, DefaultMaxTopicBytes)
	case p.MaxTopicBytes > 65535:
		return fmt.Errorf("max_topic_bytes: %d is more than an MQTT topic can hold (65535, MQTT 5 §1.5.4)", p.MaxTopicBytes)
	case p.Twin.MaxDocumentBytes < 0:
		return fmt.Errorf("twin.max_document_bytes: %d must not be negative (0: %d)", p.Twin.MaxDocumentBytes, twin.DefaultMaxBytes)
	case p.Twin.MaxDocumentBytes > 0 && p.Twin.MaxDocumentBytes < 1024:
		return fmt.Errorf("twin.max_document_bytes: %d cannot hold a twin's own fields; use at least 1024 (0: %d)", p.Twin.MaxDocumentBytes, twin.DefaultMaxBytes)
	case p.Twin.MaxPatchDepth < 0 || p.Twin.MaxPatchDepth > 1000:
		return fmt.Errorf("twin.max_patch_depth: %d is outside 0..1000 (0: %d)", p.Twin.MaxPatchDepth, strictjson.DefaultMaxDepth)
	}
	return p.Twin.Topics.validate()
}
