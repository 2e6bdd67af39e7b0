package server

import (
	"os"
	"runtime/debug"
)

// GCPercent is the collector's target, in percent of the live heap, that
// TuneGC sets. invitd keeps a live heap of a few MiB and makes garbage on
// every request: at Go's default of 100 a busy node collects hundreds of
// times a second, and each collection takes its share of both cores.
const GCPercent = 400

// MemoryLimit is the soft limit on the Go runtime's memory that TuneGC
// sets. Under load GCPercent alone lets the heap grow to several times the
// live one; the limit has the collector run sooner instead, so that a node
// stays within about 64 MiB resident (SQLite's page caches lie outside it).
// It is soft: a node whose live heap needs more collects more often, and
// GOMEMLIMIT sets another.
const MemoryLimit = 40 << 20

// TuneGC sets GCPercent and MemoryLimit, unless the GOGC and GOMEMLIMIT
// environment variables say otherwise.
func TuneGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(GCPercent)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(MemoryLimit)
	}
}
