package main

import (
	"fmt"
	"runtime/debug"
)

// version is what "signet --version" prints: the module version (a tag when
// built with go install, "(devel)" from a checkout) and the VCS commit and
// time the binary was built from, when the build recorded them.
func version() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown (built without module information)"
	}
	v := info.Main.Version
	var rev, at, dirty string
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.time":
			at = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = ", with uncommitted changes"
			}
		}
	}
	if rev == "" {
		return fmt.Sprintf("%s (%s)", v, info.GoVersion)
	}
	return fmt.Sprintf("%s, commit %s of %s%s (%s)", v, rev, at, dirty, info.GoVersion)
}
