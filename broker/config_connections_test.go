package broker

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/signet-city/signet/signing"
)

// TestConnectionsConfig: the connections: section loads from the example,
// derives what it leaves at 0, and refuses a bad value naming the key.
func TestConnectionsConfig(t *testing.T) {
	c, err := LoadConfig("testdata/signet.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if c.Connections.ConnectTimeout != DefaultConnectTimeout || c.Connections.MaxConnecting != DefaultMaxConnecting {
		t.Fatalf("example connections: %+v", c.Connections)
	}
	var zero ConnectionsConfig
	if got, want := zero.packetLimit(0), uint32(signing.DefaultMaxSize+PacketHeaderRoom); got != want {
		t.Errorf("derived max_packet_bytes %d, want %d", got, want)
	}
	if got := zero.packetLimit(1000); got != 1000+PacketHeaderRoom {
		t.Errorf("derived max_packet_bytes with max_message_bytes 1000: %d", got)
	}
	if zero.connectTimeout() != DefaultConnectTimeout || zero.maxConnecting() != DefaultMaxConnecting || zero.topicAliasMaximum() != DefaultTopicAliasMaximum {
		t.Errorf("defaults: %v %d %d", zero.connectTimeout(), zero.maxConnecting(), zero.topicAliasMaximum())
	}
	set := ConnectionsConfig{MaxPacketBytes: 70000, ConnectTimeout: time.Second, MaxConnecting: 3, TopicAliasMaximum: 2}
	if set.packetLimit(0) != 70000 || set.connectTimeout() != time.Second || set.maxConnecting() != 3 || set.topicAliasMaximum() != 2 {
		t.Errorf("explicit values not kept: %+v", set)
	}

	cases := map[string]string{
		"connections: {max_packet_bytes: -1}\n":                            "connections.max_packet_bytes",
		"connections: {max_packet_bytes: 300000000}\n":                     "connections.max_packet_bytes",
		"connections: {max_packet_bytes: 1000}\n":                          "below max_message_bytes",
		"max_message_bytes: 2000\nconnections: {max_packet_bytes: 1999}\n": "below max_message_bytes (2000)",
		"connections: {connect_timeout: -1s}\n":                            "connections.connect_timeout",
		"connections: {connect_timeout: soon}\n":                           "soon",
		"connections: {max_connecting: -3}\n":                              "connections.max_connecting",
		"connections: {topic_alias_maximum: 70000}\n":                      "connections.topic_alias_maximum",
		"connections: {backlog: 5}\n":                                      "field backlog not found",
	}
	for body, want := range cases {
		path := filepath.Join(t.TempDir(), "c.yaml")
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := LoadConfig(path)
		if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%q: got %v, want one line naming %q", body, err, want)
		}
	}
	path := filepath.Join(t.TempDir(), "ok.yaml")
	os.WriteFile(path, []byte("max_message_bytes: 2000\nconnections: {max_packet_bytes: 2000, connect_timeout: 3s}\n"), 0o600)
	if c, err := LoadConfig(path); err != nil || c.Connections.ConnectTimeout != 3*time.Second {
		t.Errorf("valid connections: %+v %v", c.Connections, err)
	}
}
