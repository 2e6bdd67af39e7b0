package main

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
)

// version says which build this is, from the build info: the module version
// (the tag go install ...@vX fetched, a pseudo-version of the revision when
// built in a checkout, "(devel)" when built without VCS information) and the
// VCS revision, its time and whether the tree had changes.
func version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "invitd (no build information) " + runtime.Version()
	}
	v := bi.Main.Version
	if v == "" {
		v = "(devel)"
	}
	var rev, at string
	modified := false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.time":
			at = s.Value
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	var parts []string
	if rev != "" {
		parts = append(parts, "revision "+rev)
	}
	if at != "" {
		parts = append(parts, at)
	}
	if modified {
		parts = append(parts, "modified")
	}
	out := "invitd " + v
	if len(parts) > 0 {
		out += " (" + strings.Join(parts, ", ") + ")"
	}
	return fmt.Sprintf("%s %s %s/%s", out, bi.GoVersion, runtime.GOOS, runtime.GOARCH)
}
