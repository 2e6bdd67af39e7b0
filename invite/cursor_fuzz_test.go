package invite

import "testing"

// The event log's cursor, as a consumer sends it back: it never panics, and
// what it accepts reads the same once encoded again.
func FuzzDecodeEventCursor(f *testing.F) {
	f.Add(EncodeEventCursor(EventPosition{Tx: 42, Seq: 7}))
	f.Add(EncodeEventCursor(EventPosition{}))
	f.Add(EncodeCursor("created_at", Position{Number: 3}))
	f.Add("%%%")
	f.Fuzz(func(t *testing.T, s string) {
		p, err := decodeEventCursor(s)
		if err != nil || s == "" {
			return
		}
		if again, err := decodeEventCursor(EncodeEventCursor(p)); err != nil || again != p {
			t.Fatalf("cursor %q read as %+v, then as %+v, %v", s, p, again, err)
		}
	})
}
