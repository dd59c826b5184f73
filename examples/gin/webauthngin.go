package main

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/webauthnkit/webauthnkit"
	"github.com/webauthnkit/webauthnkit/httpadapter"
)

// The adapter's pieces in gin's terms; copy this file into a gin app.
// Endpoints need no helper: gin.WrapH(h.BeginLogin()) is a route. The
// credential routes read the passkey ID from r.PathValue("id"), which gin
// does not set, or else from the last path segment: mount them as
// ".../credentials/:id".

// userKey is the gin.Context key of the signed-in user; a private type, so
// no other package's c.Set can overwrite it.
type userKey struct{}

// LoadUser is gin middleware that puts the signed-in user, if any, into the
// gin.Context, for CurrentUser.
func LoadUser(h *httpadapter.Handler) gin.HandlerFunc {
	return ginMiddleware(h.LoadUser)
}

// RequireUser is LoadUser that answers 401 {"error":"not_signed_in"} and
// aborts the chain when nobody is signed in.
func RequireUser(h *httpadapter.Handler) gin.HandlerFunc {
	return ginMiddleware(h.RequireUser)
}

// CurrentUser returns the user LoadUser or RequireUser put into c.
func CurrentUser(c *gin.Context) (webauthnkit.User, bool) {
	v, _ := c.Get(userKey{})
	u, ok := v.(webauthnkit.User)
	return u, ok
}

// ginMiddleware runs net/http middleware in gin's chain: the rest of the
// chain is its next handler and sees the request it passes on (whose
// context carries the user, so httpadapter.UserFromContext works too); if
// it answers by itself, the chain stops there. The adapter's middleware
// passes the ResponseWriter on unwrapped, so c.Writer stays valid.
func ginMiddleware(mw func(http.Handler) http.Handler) gin.HandlerFunc {
	return func(c *gin.Context) {
		passed := false
		mw(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
			passed = true
			c.Request = r
			if u, ok := httpadapter.UserFromContext(r.Context()); ok {
				c.Set(userKey{}, u)
			}
			c.Next()
		})).ServeHTTP(c.Writer, c.Request)
		if !passed {
			c.Abort()
		}
	}
}
