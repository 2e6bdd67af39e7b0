package server

import (
	"net/http"
	"strings"

	"github.com/invitd/invitd/internal/input"
)

// refusal answers a refused request in its surface's error shape.
type refusal func(w http.ResponseWriter, r *http.Request, status int, msg string)

// shapeByPrefix picks the refusal of the surface mounted at the longest
// prefix of a path; fallback for the rest.
type shapeByPrefix struct {
	prefixes []string
	shapes   []refusal
	fallback refusal
}

func (s *shapeByPrefix) add(prefix string, f refusal) {
	s.prefixes, s.shapes = append(s.prefixes, prefix), append(s.shapes, f)
}

func (s *shapeByPrefix) of(path string) refusal {
	best, f := -1, s.fallback
	for i, p := range s.prefixes {
		if strings.HasPrefix(path, p) && len(p) > best {
			best, f = len(p), s.shapes[i]
		}
	}
	return f
}

// checkInput refuses, with 400 in the shape of the surface the request is
// for, a request whose path, query string or headers hold a NUL or invalid
// UTF-8 (which PostgreSQL refuses in text, failing the request as its own
// error), or whose query string does not decode (which every handler would
// read as if the parameter were absent). Credentials are left to the
// surfaces, which answer 401; bodies to their readers.
func checkInput(next http.Handler, shapes *shapeByPrefix) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := input.CheckRequest(r); err != nil {
			shapes.of(r.URL.Path)(w, r, http.StatusBadRequest, err.Error())
			return
		}
		next.ServeHTTP(w, r)
	})
}
