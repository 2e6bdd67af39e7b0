// Package pagehead sets the headers every HTML page of invitd carries.
package pagehead

import "net/http"

// Wrap sets, before next answers: no caching (a page may show a token or a
// secret), no referrer (a token may be in the URL), no framing, no sniffing,
// no indexing, and the page's Content-Security-Policy csp, which a page
// may narrow or widen itself.
func Wrap(csp string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Cache-Control", "no-store")
		hd.Set("Referrer-Policy", "no-referrer")
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("Content-Security-Policy", csp)
		hd.Set("X-Robots-Tag", "noindex, nofollow")
		next.ServeHTTP(w, r)
	})
}
