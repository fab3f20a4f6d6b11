package broker

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestExampleConfigLoads(t *testing.T) {
	c, err := LoadConfig("testdata/signet.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if c.Durability != "strict" || len(c.Users) != 1 || c.Users[0].Role != RoleViewer {
		t.Fatalf("config = %+v", c)
	}
}

func TestConfigErrorsNameTheField(t *testing.T) {
	cases := map[string]string{
		"durability: sometimes\n": "durability",
		"colour: blue\n":          "field colour not found",
		"store: \"\"\n":           "store",
		"users: [{name: a, role: king, password_hash: x}]":                 "users[0].role",
		"users: [{name: a, role: viewer, password_hash: x}]":               "users[0].password_hash",
		"users: [{name: a, role: viewer, zones: [Bad], password_hash: x}]": "users[0].zones",
		"users: [{name: a, role: viewer}]":                                 "users[0]: needs a password_hash",
		"users: [{name: a, role: viewer, token_sha256: abc}]":              "users[0].token_sha256",
	}
	for body, want := range cases {
		path := filepath.Join(t.TempDir(), "c.yaml")
		os.WriteFile(path, []byte(body), 0o600)
		_, err := LoadConfig(path)
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), path) {
			t.Errorf("%q: got %v, want an error naming %q and the file", body, err, want)
		}
	}
	if _, err := LoadConfig("/nonexistent/signet.yaml"); err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("missing file: %v", err)
	}
}
