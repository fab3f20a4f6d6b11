package catalog

import (
	"encoding/json"
	"slices"
	"sort"

	"github.com/signet-city/signet/signing"
)

// Command is one entry of the catalogue.
type Command struct {
	Name    string
	Summary string // what it does, one line
	Args    Schema
	// Sets lists the top-level desired twin fields the command may set; its
	// desired patch never holds any other.
	Sets []string
	// Safety says, in one line, the rule Safe enforces.
	Safety string

	desired func(a Args) map[string]any
	safe    func(s State, a Args) error
}

// State is what a command's safety rule is judged against: the device's
// kind, its flashed model parameters and its reported state (never the
// desired state: only what the device is actually doing decides whether a
// command is safe now).
type State struct {
	Kind     string
	Params   json.RawMessage
	Reported map[string]any
}

// Request is a command whose arguments passed its schema and safety rule.
type Request struct {
	Command *Command
	Args    Args
	// Desired is the RFC 7396 merge patch of the twin's desired state the
	// command makes, computed from Args; it holds only Command.Sets.
	Desired map[string]any
	// Cancels is, for cancel, the name of the command it withdraws.
	Cancels string
	// IfVersion is the twin version the operator decided the command on
	// (argument if_version; 0: none given). The broker refuses the command
	// as stale_version if the twin is at another version when it commits
	// (twin.Document.CheckVersion); the device, which has no twin, ignores it.
	IfVersion uint64
}

// IfVersion is the argument every command takes besides its own: the twin
// version the command was decided on, for optimistic locking of desired
// state (as HTTP's If-Match, RFC 9110 §13.1.1). It is signed with the
// rest of the arguments, so no one between operator and broker can drop it.
var IfVersion = Field{
	Name: "if_version", Type: Number, Min: 1, Max: 1<<53 - 1, Integer: true,
	Doc: "the twin version the command was decided on; refused as stale_version once the twin has moved on",
}

// Kind is the commands of one device kind.
type Kind struct {
	Name     string
	Commands []*Command // sorted by name
}

// Cancel is the name of the command every kind takes: it withdraws the
// pending desired value another command set.
const Cancel = "cancel"

var catalogue = buildKinds()

func buildKinds() map[string]*Kind {
	out := map[string]*Kind{}
	for name, cmds := range map[string][]*Command{
		"traffic-signal": trafficSignal(),
		"streetlight":    streetlight(),
		"loop-detector":  loopDetector(),
		"air-quality":    airQuality(),
	} {
		k := &Kind{Name: name, Commands: cmds}
		k.Commands = append(k.Commands, cancelFor(k))
		sort.Slice(k.Commands, func(i, j int) bool { return k.Commands[i].Name < k.Commands[j].Name })
		out[name] = k
	}
	return out
}

// Lookup returns the commands of a device kind.
func Lookup(kind string) (*Kind, bool) {
	k, ok := catalogue[kind]
	return k, ok
}

// Kinds lists every kind that takes commands, sorted by name.
func Kinds() []*Kind {
	out := make([]*Kind, 0, len(catalogue))
	for _, k := range catalogue {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Command returns the kind's command name.
func (k *Kind) Command(name string) (*Command, bool) {
	i := slices.IndexFunc(k.Commands, func(c *Command) bool { return c.Name == name })
	if i < 0 {
		return nil, false
	}
	return k.Commands[i], true
}

// Names lists the kind's command names, sorted.
func (k *Kind) Names() []string {
	out := make([]string, len(k.Commands))
	for i, c := range k.Commands {
		out[i] = c.Name
	}
	return out
}

// Prepare checks a command of this kind: the name is in the catalogue, the
// payload matches its schema, and its safety rule holds in state s. It
// returns the request with the desired patch computed from the arguments.
// Errors are *signing.Rejection with ReasonUnsafeCommand.
func (k *Kind) Prepare(name string, payload []byte, s State) (*Request, error) {
	c, ok := k.Command(name)
	if !ok {
		return nil, signing.Reject(signing.ReasonUnsafeCommand, "topic", "%s takes no command %q (commands: %v)", k.Name, name, k.Names())
	}
	args, err := append(slices.Clone(c.Args), IfVersion).Decode(payload)
	if err != nil {
		return nil, err
	}
	if c.safe != nil {
		if err := c.safe(s, args); err != nil {
			return nil, err
		}
	}
	r := &Request{Command: c, Args: args, Desired: map[string]any{}}
	if c.desired != nil {
		r.Desired = c.desired(args)
	}
	if c.Name == Cancel {
		r.Cancels = args.String("command")
	}
	r.IfVersion = uint64(args.Number(IfVersion.Name))
	return r, nil
}

// unsafe is the rejection of a command whose safety rule fails.
func unsafe(field, format string, a ...any) error {
	return signing.Reject(signing.ReasonUnsafeCommand, field, format, a...)
}

// cancelFor is the kind's cancel: {"command": name} withdraws (sets to null,
// RFC 7396 §2) every desired field the named command sets.
func cancelFor(k *Kind) *Command {
	var sets []string
	for _, c := range k.Commands {
		sets = append(sets, c.Sets...)
	}
	sort.Strings(sets)
	sets = slices.Compact(sets)
	return &Command{
		Name:    Cancel,
		Summary: "withdraws the pending desired value set by another command of this kind",
		Args:    Schema{{Name: "command", Type: String, Required: true, MaxLen: 64, Doc: "the name of the command to withdraw"}},
		Sets:    sets,
		Safety:  "the command named is one of this kind's, other than cancel",
		safe: func(_ State, a Args) error {
			name := a.String("command")
			if c, ok := k.Command(name); !ok || name == Cancel || c == nil {
				return unsafe("payload.command", "%q is not a command of %s that can be cancelled", name, k.Name)
			}
			return nil
		},
		desired: func(a Args) map[string]any {
			c, _ := k.Command(a.String("command"))
			out := map[string]any{}
			for _, f := range c.Sets {
				out[f] = nil
			}
			return out
		},
	}
}
