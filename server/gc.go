package server

import (
	"os"
	"runtime/debug"
)

// GCPercent is the collector's target, in percent of the live heap, that
// TuneGC sets. invitd keeps a live heap of a few MiB and makes garbage on
// every request: at Go's default of 100 a busy node collects hundreds of
// times a second, and each collection takes its share of both cores. At
// 400 the heap still peaks at a few tens of MiB.
const GCPercent = 400

// TuneGC sets GCPercent, unless the GOGC environment variable says otherwise.
func TuneGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(GCPercent)
	}
}
