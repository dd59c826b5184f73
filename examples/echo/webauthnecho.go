package main

import (
	"github.com/labstack/echo/v4"

	"github.com/webauthnkit/webauthnkit"
	"github.com/webauthnkit/webauthnkit/httpadapter"
)

// The adapter's pieces in echo's terms; copy this file into an echo app.
// Endpoints need no helper: echo.WrapHandler(h.BeginLogin()) is a route.
// The credential routes read the passkey ID from r.PathValue("id"), which
// echo does not set, or else from the last path segment: mount them as
// ".../credentials/:id".

// LoadUser is echo middleware that puts the signed-in user, if any, where
// CurrentUser finds it.
func LoadUser(h *httpadapter.Handler) echo.MiddlewareFunc {
	return echo.WrapMiddleware(h.LoadUser)
}

// RequireUser is LoadUser that answers 401 {"error":"not_signed_in"} itself,
// without calling the route, when nobody is signed in.
func RequireUser(h *httpadapter.Handler) echo.MiddlewareFunc {
	return echo.WrapMiddleware(h.RequireUser)
}

// CurrentUser returns the user LoadUser or RequireUser found. The user
// travels in the request's context (echo.WrapMiddleware hands the route the
// request the adapter's middleware made), so it is also what
// httpadapter.UserFromContext(c.Request().Context()) returns.
func CurrentUser(c echo.Context) (webauthnkit.User, bool) {
	return httpadapter.UserFromContext(c.Request().Context())
}
