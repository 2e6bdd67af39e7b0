package console

import (
	"net/http"
	"time"

	"github.com/invitd/invitd/invite"
)

// signInPage shows the two ways in: a mailed link, or a pasted key.
func (h *handler) signInPage(w http.ResponseWriter, r *http.Request, status int, errMsg, flash string) {
	h.render(w, r, "signin", &view{Title: "Sign in", Status: status, Error: errMsg, Flash: flash,
		CSRF: h.signInToken(w, r)})
}

func (h *handler) signIn(w http.ResponseWriter, r *http.Request) {
	flash := ""
	if r.URL.Query().Get("done") == "out" {
		flash = "You are signed out."
	}
	h.signInPage(w, r, http.StatusOK, "", flash)
}

// signInForm reads a sign-in form and checks its token and this client's
// bound; false with the page written.
func (h *handler) signInForm(w http.ResponseWriter, r *http.Request) bool {
	if !h.parseForm(w, r) {
		return false
	}
	c, err := r.Cookie(signInCookie)
	if err != nil || !checkToken(r, c.Value) {
		h.signInPage(w, r, http.StatusForbidden, "The form had expired; try again.", "")
		return false
	}
	if d := h.signIns.Allow(clientAddr(r), signInPolicy, time.Now()); !d.OK {
		w.Header().Set("Retry-After", retryAfter(d.RetryAfter))
		h.signInPage(w, r, http.StatusTooManyRequests, "Too many sign-in attempts from this address; wait a minute and try again.", "")
		return false
	}
	return true
}

func (h *handler) signInEmail(w http.ResponseWriter, r *http.Request) {
	if !h.signInForm(w, r) {
		return
	}
	if err := h.svc.RequestSignInLink(r.Context(), r.PostForm.Get("email")); err != nil {
		if invite.ErrorKind(err) == invite.KindInvalid {
			h.signInPage(w, r, http.StatusUnprocessableEntity, invite.ErrorMessage(err), "")
			return
		}
		h.failErr(w, r, nil, err)
		return
	}
	// The same answer for every address, known or not.
	h.render(w, r, "sent", &view{Title: "Check your mail"})
}

func (h *handler) signInKey(w http.ResponseWriter, r *http.Request) {
	if !h.signInForm(w, r) {
		return
	}
	s, err := h.svc.SignInWithKey(r.Context(), r.PostForm.Get("key"))
	h.started(w, r, s, err)
}

// linkPage asks for a click before a mailed link is used: a mail scanner
// that fetches every link must not spend it.
func (h *handler) linkPage(w http.ResponseWriter, r *http.Request) {
	h.render(w, r, "link", &view{Title: "Sign in", CSRF: h.signInToken(w, r), Data: h.base + "/signin/" + r.PathValue("token")})
}

func (h *handler) signInLink(w http.ResponseWriter, r *http.Request) {
	if !h.signInForm(w, r) {
		return
	}
	s, err := h.svc.SignInWithLink(r.Context(), r.PathValue("token"))
	h.started(w, r, s, err)
}

// started sets a new session's cookie and goes to the console's start, or
// answers a refused sign-in (failErr shows the sign-in page for a 401).
func (h *handler) started(w http.ResponseWriter, r *http.Request, s *invite.SignedIn, err error) {
	if err != nil {
		h.failErr(w, r, nil, err)
		return
	}
	h.setCookie(w, SessionCookie, s.Token, 0)
	http.Redirect(w, r, h.base+"/", http.StatusSeeOther)
}

func (h *handler) signOut(w http.ResponseWriter, r *http.Request) {
	q := h.signed(w, r, true)
	if q == nil {
		return
	}
	if err := h.svc.SignOut(r.Context(), q.token); err != nil {
		h.failErr(w, r, q.v, err)
		return
	}
	h.setCookie(w, SessionCookie, "", -1)
	http.Redirect(w, r, h.base+"/signin?done=out", http.StatusSeeOther)
}

func retryAfter(d time.Duration) string {
	s := int(d.Seconds() + 0.999)
	return itoa(max(s, 1))
}
