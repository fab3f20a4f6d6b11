package catalog

import (
	"bytes"
	"fmt"
	"strings"
)

// Markdown renders the catalogue as the document docs/commands-catalogue.md
// (a golden test keeps the checked-in copy current).
func Markdown() []byte {
	var b bytes.Buffer
	b.WriteString("# Command catalogue\n\n")
	b.WriteString("Generated from `devices/catalog` by `go test ./devices/catalog -run TestCatalogueDocument -update`; do not edit by hand.\n\n")
	b.WriteString("A command is published on `city/{zone}/{device}/cmd/{name}`. Its payload is a JSON object holding exactly the\n")
	b.WriteString("arguments below (no other member, no member twice). The broker and the device both check the arguments and the\n")
	b.WriteString("safety rule against the device's reported state; the desired twin fields are computed from the arguments, so a\n")
	b.WriteString("command can set only the fields listed for it. See docs/commands.md for the whole command model.\n\n")
	fmt.Fprintf(&b, "Every command also takes the optional argument `%s` (%s, %s): %s (docs/twins.md).\n", IfVersion.Name, IfVersion.Type, bounds(IfVersion), IfVersion.Doc)
	for _, k := range Kinds() {
		fmt.Fprintf(&b, "\n## %s\n", k.Name)
		for _, c := range k.Commands {
			fmt.Fprintf(&b, "\n### `%s`\n\n%s.\n\n", c.Name, upperFirst(c.Summary))
			if len(c.Args) == 0 {
				b.WriteString("Arguments: none (`{}`).\n\n")
			} else {
				b.WriteString("| argument | type | required | bounds | meaning |\n|---|---|---|---|---|\n")
				for _, f := range c.Args {
					req := "no"
					if f.Required {
						req = "yes"
					}
					fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s |\n", f.Name, f.Type, req, bounds(f), f.Doc)
				}
				b.WriteString("\n")
			}
			sets := "none"
			if len(c.Sets) > 0 {
				sets = "`" + strings.Join(c.Sets, "`, `") + "`"
			}
			fmt.Fprintf(&b, "Sets desired: %s.\n\nSafety: %s.\n", sets, c.Safety)
		}
	}
	return b.Bytes()
}

func bounds(f Field) string {
	switch f.Type {
	case Number:
		if f.Integer {
			return fmt.Sprintf("%.0f..%.0f", f.Min, f.Max)
		}
		return fmt.Sprintf("%v..%v", f.Min, f.Max)
	case String:
		return fmt.Sprintf("1..%d bytes", f.MaxLen)
	case TimeOfDay:
		return "00:00..23:59"
	}
	return ""
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
