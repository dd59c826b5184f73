package app

import (
	"net/http"
	"net/url"

	"github.com/webauthnkit/webauthnkit/httpadapter"
)

// The device-linking pages (docs/device-linking.md). On the new device
// (signed out), /link/new shows the QR code, the code and the match
// phrase, waits for the approval, then creates that device's own passkey.
// On the signed-in device, /link (opened from the QR code, with the code
// in the URL fragment, which never reaches the server or its logs; or
// typed) shows where the request comes from and approves or denies it
// after a fresh sign-in.

func (s *server) linkNew(w http.ResponseWriter, r *http.Request) {
	if _, ok := httpadapter.UserFromContext(r.Context()); ok {
		http.Redirect(w, r, "/account", http.StatusSeeOther)
		return
	}
	d := s.data(r, "linknew", "Sign in on a new device")
	d.LinkPage = "your-site/link"
	if len(s.cfg.Origins) > 0 {
		if u, err := url.Parse(s.cfg.Origins[0]); err == nil {
			d.LinkPage = u.Host + "/link"
		}
	}
	s.render(w, r, "linknew", d)
}

func (s *server) linkApprove(w http.ResponseWriter, r *http.Request) {
	if _, ok := httpadapter.UserFromContext(r.Context()); !ok {
		// Sign in first; the sign-in page comes back here, fragment and
		// all (a redirect keeps the fragment).
		http.Redirect(w, r, "/?next=link", http.StatusSeeOther)
		return
	}
	s.render(w, r, "link", s.data(r, "link", "Approve a new device"))
}
