package httpadapter_test

import (
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/webauthnkit/webauthnkit"
	"github.com/webauthnkit/webauthnkit/httpadapter"
	"github.com/webauthnkit/webauthnkit/memstore"
	"github.com/webauthnkit/webauthnkit/webauthntest"
)

// Mounting the adapter in a net/http mux, then a sign-up driven as a browser
// would, with a virtual authenticator.
func ExampleNew() {
	store, err := memstore.New()
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	rp, err := webauthnkit.New(webauthnkit.Config{
		RPID:        "localhost",
		Origins:     []string{"http://localhost:8080"},
		Credentials: store,
		Ceremonies:  store,
	})
	if err != nil {
		log.Fatal(err)
	}
	passkeys, err := httpadapter.New(rp, httpadapter.Options{
		SessionSecret: []byte("use 32 random bytes from a vault"), // >= 32 bytes
	})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/passkeys/", http.StripPrefix("/passkeys", passkeys))
	mux.Handle("GET /.well-known/webauthn", passkeys.WellKnown())
	mux.Handle("GET /account", passkeys.RequireUser(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, _ := httpadapter.UserFromContext(r.Context())
		fmt.Fprintf(w, "Hello, %s", user.DisplayName)
	})))
	// The page loads <script src="/passkeys/client.js"></script>.
	// log.Fatal(http.ListenAndServe("localhost:8080", mux))

	// What a browser does, in-process.
	var cookies []*http.Cookie
	do := func(method, path, body string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, "http://localhost:8080"+path, strings.NewReader(body))
		req.Header.Set("Origin", "http://localhost:8080")
		req.Header.Set("Content-Type", "application/json")
		for _, c := range cookies {
			req.AddCookie(c)
		}
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, req)
		cookies = append(cookies, (&http.Response{Header: w.Header()}).Cookies()...)
		return w
	}
	w := do("GET", "/account", "")
	fmt.Println(w.Code, strings.TrimSpace(w.Body.String()))

	device := webauthntest.New(webauthntest.WithOrigin("http://localhost:8080"))
	w = do("POST", "/passkeys/registration/begin", `{"username": "alice", "displayName": "Alice"}`)
	credential, err := device.Register(w.Body.Bytes()) // {"publicKey": ...}
	if err != nil {
		log.Fatal(err)
	}
	w = do("POST", "/passkeys/registration/finish", string(credential))
	fmt.Println(w.Code, "signed up")

	w = do("GET", "/account", "")
	fmt.Println(w.Code, w.Body.String())
	// Output:
	// 401 {"error":"not_signed_in","message":"sign in first"}
	// 200 signed up
	// 200 Hello, Alice
}
