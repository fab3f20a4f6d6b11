// Package audit records security events (SPEC §4: one per rejection and per
// authentication failure) in an append-only, hash-chained JSON-lines log.
//
// Each line is one JSON object whose last member is "hash": the lower-case hex
// SHA-256 of every byte of the line before `,"hash":`. Each line's "prev" is the
// previous line's hash (64 zeros for the first line), so editing, inserting,
// reordering or deleting any line breaks the chain at that point. Deleting
// lines from the end cannot be seen from the file alone: compare the head hash
// and count that Verify prints with a copy kept elsewhere.
//
// A rotated log is a series of files: each file after the first opens with a
// KindRotated line whose prev is the last hash of the file before, and whose
// sequence number continues it (VerifyFiles checks the series). A torn last
// line, cut by a crash or a full disk, is told apart from a broken chain
// (TornTailError) and is moved aside when the log is opened.
package audit

import "time"

// Event is one security event (SPEC §4).
type Event struct {
	Time    time.Time `json:"time"`
	Kind    string    `json:"kind"`             // "rejected", "auth_failed", "acl_denied", "will_refused", ...
	Client  string    `json:"client,omitempty"` // MQTT client id
	User    string    `json:"user,omitempty"`   // authenticated identity
	Remote  string    `json:"remote,omitempty"` // peer address
	Device  string    `json:"device,omitempty"`
	KID     string    `json:"kid,omitempty"` // hex
	Topic   string    `json:"topic,omitempty"`
	Reason  string    `json:"reason"`            // stable reason name (signing.Reason or an auth reason)
	Counter uint64    `json:"counter,omitempty"` // the message's piv
	Detail  string    `json:"detail,omitempty"`
	// The members below are set only on an aggregate ("suppressed") event,
	// which stands for Count events of kind OfKind and the event's Reason
	// from Source that were counted instead of written.
	Source string `json:"source,omitempty"`
	OfKind string `json:"of_kind,omitempty"`
	Count  uint64 `json:"count,omitempty"`
}
