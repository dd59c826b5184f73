/*! webauthnkit client: passkeys over the httpadapter endpoints.
 * Served by httpadapter at <mount>/client.js. Plain ES2020, no dependencies,
 * no build step. Defines window.webauthnkit:
 *
 *   const wk = webauthnkit.client({ base: "/passkeys" });
 *   await wk.register({ username, displayName })   // sign-up
 *   await wk.register({ name: "Laptop" })          // signed in: add a passkey
 *   await wk.register({ secondFactor: true })      // signed in: a second-factor-only key
 *   await wk.upgrade()                             // after a password sign-in: automatic
 *                                                  // passkey (conditional create), or null
 *   await wk.login({ username }); await wk.login() // username-first, usernameless
 *   await wk.login({ secondFactor: true })         // after the app's password check
 *   const stop = wk.autofill({ onLogin(r) {}, onError(e) {} })
 *   await wk.session(); await wk.listCredentials()
 *   await wk.renameCredential(id, name); await wk.revokeCredential(id)
 *   await wk.updateUser({ name, displayName })     // tells the passkey manager too
 *   await wk.logout()                              // ends the account's sessions
 *   await wk.logout({ everywhere: true })          // the same, stated explicitly
 *
 * Email and recovery flows (server with httpadapter Options.Accounts):
 *   await wk.startSignUp({ email, username })      // mails a code; same answer for taken ones
 *   const { grant } = await wk.confirmSignUp({ email, code })   // or ({ token }) from the link
 *   await wk.registerWithGrant(grant, { name })    // the passkey; signs in; {recovered} after a recovery
 *   await wk.startRecovery({ identifier })         // username or email
 *   const { grant } = await wk.confirmRecovery({ identifier, code })  // or ({ token })
 *   const { grant } = await wk.recoverWithCode({ username, code })    // a recovery code
 *   const { codes } = await wk.generateRecoveryCodes()  // signed in; show once
 *   const { left } = await wk.recoveryCodesLeft()
 *   await wk.setEmail(email); await wk.verifyEmail({ code })  // or ({ token })
 * A wrong code throws code "invalid_code"; too many tries "too_many_attempts"
 * (429, retryAfter); mail down "mail_unavailable" (503, retryAfter).
 *
 * Device linking (docs/device-linking.md): on the new device (signed out)
 *   const l = await wk.startLink()   // {code, phrase, approvalUrl, qrCode, expiresAt, interval}
 *   // show l.phrase here only: the user types it on the signed-in device
 *   const { grant } = await wk.waitForLink({ interval: l.interval, expiresAt: l.expiresAt, signal })
 *   await wk.completeLink(grant)     // this device's own passkey; signs in
 * and on the signed-in device
 *   const req = await wk.lookupLink(code)   // {linkId, browser, os, createdAt, expiresAt}
 *   await wk.approveLink(req, typedWords); await wk.denyLink(req)
 * Wrong words throw "link_phrase_mismatch" and cancel the request.
 *
 * Failures throw webauthnkit.Error {code, message, status}; a rate-limited
 * request (code "rate_limited", status 429) also has retryAfter (seconds).
 *
 * Step-up re-authentication (server: Options.FreshAuthMaxAge, RequireFreshAuth):
 *   await wk.reauth()                              // {user, authenticatedAt}: a passkey of the
 *                                                  // signed-in account, user verification required
 *   await wk.fetch("/app/sensitive", { method: "POST", body: {...} })  // the app's own JSON route
 * register() (adding a passkey), revokeCredential(), generateRecoveryCodes(),
 * setEmail() and wk.fetch() answer a 403 "reauth_required" by running reauth() and
 * retrying the call once.
 * Client options: reauth: false (throw reauth_required instead), and
 * beforeReauth(err) (async; e.g. a "Confirm it's you" dialog whose button
 * gives Safari the user gesture it wants; resolve false to cancel).
 */
(function (global) {
  "use strict";

  var VERSION = "1";

  /** Error thrown by every client method. code is stable; status is the
   * HTTP status (0 for failures in the browser). */
  class WebauthnkitError extends Error {
    constructor(code, message, status, details, cause) {
      super(message || code);
      this.name = "WebauthnkitError";
      this.code = code;
      this.status = status || 0;
      if (details !== undefined) this.details = details;
      if (cause !== undefined) this.cause = cause;
    }
  }

  // DOMException names of navigator.credentials.create/get -> error codes.
  var DOM_CODES = {
    NotAllowedError: "cancelled",
    InvalidStateError: "credential_exists",
    AbortError: "aborted",
    SecurityError: "security",
    NotSupportedError: "not_supported",
  };

  function toError(e) {
    if (e instanceof WebauthnkitError) return e;
    var name = e && e.name;
    if (typeof name === "string" && Object.prototype.hasOwnProperty.call(DOM_CODES, name)) {
      return new WebauthnkitError(DOM_CODES[name], (e && e.message) || name, 0, undefined, e);
    }
    return new WebauthnkitError("unknown", (e && e.message) || String(e), 0, undefined, e);
  }

  // ---- base64url ---------------------------------------------------------

  function bufferToB64url(buf) {
    var bytes = buf instanceof ArrayBuffer
      ? new Uint8Array(buf)
      : new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
    var bin = "";
    for (var i = 0; i < bytes.length; i += 0x8000) {
      bin += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
    }
    return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function b64urlToBuffer(s) {
    if (typeof s !== "string") throw new TypeError("expected a base64url string");
    var b64 = s.replace(/-/g, "+").replace(/_/g, "/");
    while (b64.length % 4) b64 += "=";
    var bin = atob(b64);
    var out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out.buffer;
  }

  // ---- options and credentials <-> JSON ---------------------------------

  function PKC() {
    return global.PublicKeyCredential;
  }

  function hasStatic(name) {
    var P = PKC();
    return !!P && typeof P[name] === "function";
  }

  function descriptorsFromJSON(list) {
    if (!Array.isArray(list)) return list;
    return list.map(function (d) {
      return Object.assign({}, d, { id: b64urlToBuffer(d.id) });
    });
  }

  // Older browsers lack parse*OptionsFromJSON: convert the binary fields the
  // server sends (challenge, user.id, credential IDs) by hand.
  function creationOptionsFromJSON(json) {
    if (hasStatic("parseCreationOptionsFromJSON")) return PKC().parseCreationOptionsFromJSON(json);
    var o = Object.assign({}, json);
    o.challenge = b64urlToBuffer(json.challenge);
    o.user = Object.assign({}, json.user, { id: b64urlToBuffer(json.user.id) });
    if (json.excludeCredentials) o.excludeCredentials = descriptorsFromJSON(json.excludeCredentials);
    return o;
  }

  function requestOptionsFromJSON(json) {
    if (hasStatic("parseRequestOptionsFromJSON")) return PKC().parseRequestOptionsFromJSON(json);
    var o = Object.assign({}, json);
    o.challenge = b64urlToBuffer(json.challenge);
    if (json.allowCredentials) o.allowCredentials = descriptorsFromJSON(json.allowCredentials);
    return o;
  }

  function encodeBinary(v) {
    if (v instanceof ArrayBuffer || ArrayBuffer.isView(v)) return bufferToB64url(v);
    if (Array.isArray(v)) return v.map(encodeBinary);
    if (v && typeof v === "object") {
      var o = {};
      Object.keys(v).forEach(function (k) { o[k] = encodeBinary(v[k]); });
      return o;
    }
    return v;
  }

  function optional(fn) {
    try { return fn(); } catch (_) { return undefined; }
  }

  // credential.toJSON() where the browser has it, else the same
  // RegistrationResponseJSON / AuthenticationResponseJSON built by hand.
  function credentialToJSON(cred, kind) {
    if (typeof cred.toJSON === "function") {
      var j = optional(function () { return cred.toJSON(); });
      if (j && typeof j === "object" && j.response && typeof j.rawId === "string") return j;
    }
    var r = cred.response;
    var out = {
      id: cred.id,
      rawId: bufferToB64url(cred.rawId),
      type: cred.type,
      clientExtensionResults: encodeBinary(
        typeof cred.getClientExtensionResults === "function" ? (optional(function () { return cred.getClientExtensionResults(); }) || {}) : {}),
      response: { clientDataJSON: bufferToB64url(r.clientDataJSON) },
    };
    if (cred.authenticatorAttachment) out.authenticatorAttachment = cred.authenticatorAttachment;
    if (kind === "create") {
      out.response.attestationObject = bufferToB64url(r.attestationObject);
      if (typeof r.getTransports === "function") {
        var t = optional(function () { return r.getTransports(); });
        if (Array.isArray(t)) out.response.transports = t;
      }
      if (typeof r.getAuthenticatorData === "function") {
        var ad = optional(function () { return r.getAuthenticatorData(); });
        if (ad) out.response.authenticatorData = bufferToB64url(ad);
      }
      if (typeof r.getPublicKey === "function") {
        var pk = optional(function () { return r.getPublicKey(); });
        if (pk) out.response.publicKey = bufferToB64url(pk);
      }
      if (typeof r.getPublicKeyAlgorithm === "function") {
        var alg = optional(function () { return r.getPublicKeyAlgorithm(); });
        if (typeof alg === "number") out.response.publicKeyAlgorithm = alg;
      }
    } else {
      out.response.authenticatorData = bufferToB64url(r.authenticatorData);
      out.response.signature = bufferToB64url(r.signature);
      if (r.userHandle && r.userHandle.byteLength > 0) out.response.userHandle = bufferToB64url(r.userHandle);
    }
    return out;
  }

  // ---- signals (WebAuthn Level 3), best effort ----------------------------

  function signal(name, arg) {
    try {
      if (!hasStatic(name)) return;
      var p = PKC()[name](arg);
      if (p && typeof p.catch === "function") p.catch(function () {});
    } catch (_) {
      // A signal never fails the operation.
    }
  }

  function signalAccepted(data) {
    if (!data || !data.rpId || !data.userHandle || !Array.isArray(data.credentials)) return;
    signal("signalAllAcceptedCredentials", {
      rpId: data.rpId,
      userId: data.userHandle,
      allAcceptedCredentialIds: data.credentials.map(function (c) { return c.id; }),
    });
  }

  function signalUser(rpId, user) {
    if (!rpId || !user || !user.handle) return;
    signal("signalCurrentUserDetails", {
      rpId: rpId,
      userId: user.handle,
      name: user.name,
      displayName: user.displayName,
    });
  }

  // ---- feature detection ----------------------------------------------------

  function isSupported() {
    var nav = global.navigator;
    return !!PKC() && !!nav && !!nav.credentials &&
      typeof nav.credentials.create === "function" && typeof nav.credentials.get === "function";
  }

  // conditionalCreate: the browser can create a passkey without a prompt
  // (automatic upgrade after a password sign-in).
  async function isUpgradeSupported() {
    if (!isSupported() || !hasStatic("getClientCapabilities")) return false;
    try {
      var caps = await PKC().getClientCapabilities();
      return !!caps && caps.conditionalCreate === true;
    } catch (_) {
      return false;
    }
  }

  async function isAutofillSupported() {
    if (!isSupported()) return false;
    try {
      if (hasStatic("isConditionalMediationAvailable")) {
        return (await PKC().isConditionalMediationAvailable()) === true;
      }
      if (hasStatic("getClientCapabilities")) {
        var caps = await PKC().getClientCapabilities();
        return !!caps && caps.conditionalGet === true;
      }
    } catch (_) {
      // fall through
    }
    return false;
  }

  function ensureSupported() {
    if (!isSupported()) {
      throw new WebauthnkitError("not_supported", "this browser does not support passkeys");
    }
  }

  // ---- pending operation ------------------------------------------------------

  // A page runs one WebAuthn request at a time. pending is the running
  // ceremony (modal or autofill) of any client on the page; starting another
  // aborts it, and so does any client call while autofill waits.
  var pending = null; // {ctl: AbortController, autofill: boolean}

  function abortPending(onlyAutofill) {
    if (!pending || (onlyAutofill && !pending.autofill)) return;
    var p = pending;
    pending = null;
    try { p.ctl.abort(); } catch (_) { /* ignore */ }
  }

  function startCeremony(autofill) {
    abortPending(false);
    var ctl = new AbortController();
    pending = { ctl: ctl, autofill: autofill };
    return ctl;
  }

  function endCeremony(ctl) {
    if (pending && pending.ctl === ctl) pending = null;
  }

  // ---- HTTP -------------------------------------------------------------------

  async function request(url, method, body, abortSignal) {
    var init = {
      method: method,
      credentials: "same-origin",
      cache: "no-store",
      headers: { Accept: "application/json" },
    };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    if (abortSignal) init.signal = abortSignal;
    var res, text;
    try {
      res = await fetch(url, init);
      text = res.status === 204 ? "" : await res.text();
    } catch (e) {
      if (e && e.name === "AbortError") {
        throw new WebauthnkitError("aborted", "the operation was aborted", 0, undefined, e);
      }
      throw new WebauthnkitError("network", "the server could not be reached", 0, undefined, e);
    }
    if (res.status === 204) return null;
    var data = null;
    try { data = text ? JSON.parse(text) : null; } catch (_) { data = null; }
    if (!res.ok) {
      var code = data && typeof data.error === "string" ? data.error : "http_" + res.status;
      var message = data && typeof data.message === "string" ? data.message : (res.statusText || "request failed");
      var err = new WebauthnkitError(code, message, res.status, data || undefined);
      var retry = parseInt(res.headers.get("Retry-After") || "", 10);
      if (retry > 0) err.retryAfter = retry;
      throw err;
    }
    if (!data || typeof data !== "object") {
      throw new WebauthnkitError("http_" + res.status, "the server did not answer with JSON", res.status);
    }
    return data;
  }

  function callback(fn, arg) {
    if (typeof fn !== "function") return;
    try {
      fn(arg);
    } catch (e) {
      // Report the app's own error without routing it into onError.
      setTimeout(function () { throw e; }, 0);
    }
  }

  // The directory client.js was loaded from, when same-origin: the default
  // base, so <script src="/passkeys/client.js"> needs no configuration.
  var defaultBase = (function () {
    try {
      var s = global.document && global.document.currentScript;
      if (!s || !s.src) return "";
      var u = new URL(s.src, global.location.href);
      if (u.origin !== global.location.origin) return "";
      return u.pathname.replace(/\/[^/]*$/, "");
    } catch (_) {
      return "";
    }
  })();

  function client(options) {
    options = options || {};
    var base = (options.base !== undefined && options.base !== null ? String(options.base) : defaultBase).replace(/\/+$/, "");
    function url(path) { return base + path; }

    async function finishLogin(cred, rpId) {
      var result;
      try {
        result = await request(url("/login/finish"), "POST", credentialToJSON(cred, "get"));
      } catch (e) {
        var s = e && e.details && e.details.signal;
        if (e.code === "unknown_credential" && s && s.unknownCredential) {
          signal("signalUnknownCredential", s.unknownCredential);
        }
        throw e;
      }
      signalUser(rpId, result.user);
      return result;
    }

    // A registration the server refused (a hook) was undone there: the
    // passkey manager is asked to forget the passkey it just made.
    async function finishRegistration(cred) {
      try {
        return await request(url("/registration/finish"), "POST", credentialToJSON(cred, "create"));
      } catch (e) {
        var s = e && e.details && e.details.signal;
        if (s && s.unknownCredential) signal("signalUnknownCredential", s.unknownCredential);
        throw e;
      }
    }

    /** Automatic passkey upgrade, after the app signed the user in with a
     * password: creates a passkey without a prompt where the browser
     * supports conditional create. Resolves to {user, credential, newUser},
     * or to null when the browser cannot (getClientCapabilities has no
     * conditionalCreate) or declines: the app may then offer register(). */
    async function upgrade(opts) {
      opts = opts || {};
      if (!(await isUpgradeSupported())) return null;
      var ctl = startCeremony(false);
      try {
        var body = { conditional: true };
        if (opts.name !== undefined && opts.name !== null) body.name = String(opts.name);
        var begin = await request(url("/registration/begin"), "POST", body, ctl.signal);
        var cred;
        try {
          cred = await global.navigator.credentials.create({
            mediation: begin.mediation || "conditional",
            publicKey: creationOptionsFromJSON(begin.publicKey),
            signal: ctl.signal,
          });
        } catch (e) {
          if (e && (e.name === "NotAllowedError" || e.name === "AbortError")) return null;
          throw e;
        }
        if (!cred) return null;
        endCeremony(ctl);
        return await finishRegistration(cred);
      } catch (e) {
        // A silent upgrade never prompts for a re-authentication.
        if (e && e.code === "reauth_required") return null;
        throw toError(e);
      } finally {
        endCeremony(ctl);
      }
    }

    /** Changes the signed-in user's name and/or display name ({name?,
     * displayName?}) and tells the passkey manager
     * (signalCurrentUserDetails). Resolves to {user, signal}. */
    async function updateUser(opts) {
      abortPending(true);
      opts = opts || {};
      var body = {};
      if (opts.name !== undefined && opts.name !== null) body.name = String(opts.name);
      if (opts.displayName !== undefined && opts.displayName !== null) body.displayName = String(opts.displayName);
      var data = await request(url("/user"), "PATCH", body);
      if (data.signal && data.signal.currentUserDetails) {
        signal("signalCurrentUserDetails", data.signal.currentUserDetails);
      }
      return data;
    }

    function rpIdOf(publicKey) {
      return (publicKey && publicKey.rpId) || (global.location && global.location.hostname) || "";
    }

    /** Sign up ({username, displayName?, name?}) or, signed in, add a passkey
     * ({name?}; re-authenticates first when the server asks: step-up
     * section). Resolves to {user, credential, newUser}. */
    async function register(opts) {
      opts = opts || {};
      var signedIn = (opts.username === undefined || opts.username === null) &&
        (opts.grant === undefined || opts.grant === null);
      if (!signedIn) return registerOnce(opts);
      return withReauth(function () { return registerOnce(opts); });
    }

    async function registerOnce(opts) {
      var ctl = startCeremony(false);
      try {
        ensureSupported();
        var body = {};
        if (opts.username !== undefined && opts.username !== null) {
          body.username = String(opts.username);
          if (opts.displayName !== undefined && opts.displayName !== null) body.displayName = String(opts.displayName);
        }
        if (opts.name !== undefined && opts.name !== null) body.name = String(opts.name);
        if (opts.secondFactor) body.secondFactor = true;
        if (opts.grant !== undefined && opts.grant !== null) body.grant = String(opts.grant);
        var begin = await request(url("/registration/begin"), "POST", body, ctl.signal);
        var cred = await global.navigator.credentials.create({
          publicKey: creationOptionsFromJSON(begin.publicKey),
          signal: ctl.signal,
        });
        if (!cred) throw new WebauthnkitError("cancelled", "no passkey was created");
        // The finish is not abortable: once sent, its outcome must be known.
        endCeremony(ctl);
        return await finishRegistration(cred);
      } catch (e) {
        throw toError(e);
      } finally {
        endCeremony(ctl);
      }
    }

    /** Sign in with a passkey: {username} (username-first), nothing
     * (usernameless), or {secondFactor: true} (bound to the user who passed
     * the app's password check). Resolves to {user, credential,
     * userVerified, backedUp, factors}. */
    async function login(opts) {
      opts = opts || {};
      var ctl = startCeremony(false);
      try {
        ensureSupported();
        var body = {};
        if (opts.username) body.username = String(opts.username);
        if (opts.secondFactor) body.secondFactor = true;
        var begin = await request(url("/login/begin"), "POST", body, ctl.signal);
        var cred = await global.navigator.credentials.get({
          publicKey: requestOptionsFromJSON(begin.publicKey),
          signal: ctl.signal,
        });
        if (!cred) throw new WebauthnkitError("cancelled", "no passkey was chosen");
        endCeremony(ctl);
        return await finishLogin(cred, rpIdOf(begin.publicKey));
      } catch (e) {
        throw toError(e);
      } finally {
        endCeremony(ctl);
      }
    }

    /** Passkey autofill (conditional mediation) on an
     * <input autocomplete="username webauthn">. Returns stop(). Any other
     * call of any client aborts it silently. onLogin(result) after a sign-in,
     * onError(err) after a failure (autofill is then over: call it again to
     * keep offering passkeys). */
    function autofill(opts) {
      opts = opts || {};
      var ctl = startCeremony(true);
      var stopped = false;
      function stop() {
        stopped = true;
        if (pending && pending.ctl === ctl) pending = null;
        try { ctl.abort(); } catch (_) { /* ignore */ }
      }
      (async function () {
        if (!(await isAutofillSupported())) {
          throw new WebauthnkitError("not_supported", "this browser does not offer passkeys in autofill");
        }
        if (ctl.signal.aborted) return;
        var begin = await request(url("/login/begin"), "POST", { conditional: true }, ctl.signal);
        var cred = await global.navigator.credentials.get({
          mediation: begin.mediation || "conditional",
          publicKey: requestOptionsFromJSON(begin.publicKey),
          signal: ctl.signal,
        });
        if (!cred) throw new WebauthnkitError("cancelled", "no passkey was chosen");
        // The user picked a passkey: finish even if stopped meanwhile, and
        // report the sign-in (the server has signed the user in).
        endCeremony(ctl);
        var result = await finishLogin(cred, rpIdOf(begin.publicKey));
        callback(opts.onLogin, result);
      })().catch(function (e) {
        if (stopped || ctl.signal.aborted) return;
        callback(opts.onError, toError(e));
      }).finally(function () {
        endCeremony(ctl);
      });
      return stop;
    }

    /** The signed-in user: {user, passkeys} (passkeys 0: signed in, no
     * passkey yet), or null when signed out. */
    async function session() {
      abortPending(true);
      try {
        return await request(url("/session"), "GET");
      } catch (e) {
        if (e && e.status === 401) return null;
        throw toError(e);
      }
    }

    /** {rpId, userHandle, user, credentials}. */
    async function listCredentials() {
      abortPending(true);
      var data = await request(url("/credentials"), "GET");
      signalAccepted(data);
      return data;
    }

    async function renameCredential(id, name) {
      abortPending(true);
      var data = await request(url("/credentials/" + encodeURIComponent(id)), "PATCH", { name: String(name) });
      signalUser(data.rpId, data.user);
      return data;
    }

    // Removing a passkey re-authenticates first when the server asks
    // (step-up section).
    async function revokeCredential(id) {
      abortPending(true);
      var data = await withReauth(function () {
        return request(url("/credentials/" + encodeURIComponent(id)), "DELETE", {});
      });
      signalAccepted(data);
      return data;
    }

    // With the built-in session, logout ends every session of the account
    // (every browser); {everywhere: true} says so explicitly. With the app's
    // own session, only {everywhere: true} ends the account's sessions.
    async function logout(opts) {
      abortPending(true);
      await request(url("/logout"), "POST", opts && opts.everywhere ? { everywhere: true } : {});
    }

    // The account flows. Each sends only the fields given, as strings, so
    // the server's "code or token" rule decides.
    function fields(opts, names) {
      var body = {};
      opts = opts || {};
      names.forEach(function (n) {
        if (opts[n] !== undefined && opts[n] !== null) body[n] = String(opts[n]);
      });
      return body;
    }

    /** Verify-first sign-up, step 1 ({email, username}): resolves to {}
     * whether or not the address or name is taken. */
    async function startSignUp(opts) {
      return request(url("/signup/start"), "POST", fields(opts, ["email", "username"]));
    }

    /** Step 2: {email, code} or {token} (from the mailed link). Resolves to
     * {grant} for registerWithGrant. */
    async function confirmSignUp(opts) {
      return request(url("/signup/confirm"), "POST", fields(opts, ["email", "code", "token"]));
    }

    /** Registers a passkey with a grant (sign-up or recovery; the server
     * binds it to the grant's account) and signs in. Resolves to {user,
     * credential, newUser, recovered}. */
    async function registerWithGrant(grant, opts) {
      opts = opts || {};
      return register({ grant: grant, name: opts.name });
    }

    /** "Lost your device?": {identifier} (username or email); resolves to
     * {} whether or not the account exists. */
    async function startRecovery(opts) {
      return request(url("/recovery/start"), "POST", fields(opts, ["identifier"]));
    }

    /** {identifier, code} or {token}: resolves to {grant}. */
    async function confirmRecovery(opts) {
      return request(url("/recovery/confirm"), "POST", fields(opts, ["identifier", "code", "token"]));
    }

    /** {username, code} with a recovery code: resolves to {grant}. */
    async function recoverWithCode(opts) {
      return request(url("/recovery/code"), "POST", fields(opts, ["username", "code"]));
    }

    /** Signed in: a new set of recovery codes (the old set stops working).
     * Resolves to {codes}: show them once. */
    async function generateRecoveryCodes() {
      // Re-authenticates first when the server asks (step-up section).
      return withReauth(function () { return request(url("/recovery/codes"), "POST", {}); });
    }

    /** Signed in: resolves to {left}, the unused recovery codes. */
    async function recoveryCodesLeft() {
      return request(url("/recovery/codes"), "GET");
    }

    /** Signed in: sets the account's email (unverified) and mails a code.
     * A new address re-authenticates first when the server asks (a verified
     * address can recover the account: step-up section). */
    async function setEmail(email) {
      return withReauth(function () { return request(url("/email"), "POST", { email: String(email) }); });
    }

    /** {code} (signed in) or {token}: resolves to {user, email, emailVerified}. */
    async function verifyEmail(opts) {
      return request(url("/email/verify"), "POST", fields(opts, ["code", "token"]));
    }

    // ---- step-up re-authentication ---------------------------------------------
    // The server answers 403 {"error":"reauth_required"} when an action needs
    // a more recent user-verified authentication than the session has
    // (httpadapter Options.FreshAuthMaxAge, RequireFreshAuth). withReauth
    // runs the re-authentication ceremony then and retries the call once;
    // a second refusal is thrown.

    /** Re-authenticates the signed-in user with one of their own passkeys
     * (user verification required); the server records the time in the
     * session. Resolves to {user, authenticatedAt}. */
    async function reauth() {
      var ctl = startCeremony(false);
      try {
        ensureSupported();
        var begin = await request(url("/reauth/begin"), "POST", {}, ctl.signal);
        var cred = await global.navigator.credentials.get({
          publicKey: requestOptionsFromJSON(begin.publicKey),
          signal: ctl.signal,
        });
        if (!cred) throw new WebauthnkitError("cancelled", "no passkey was chosen");
        endCeremony(ctl);
        return await request(url("/reauth/finish"), "POST", credentialToJSON(cred, "get"));
      } catch (e) {
        throw toError(e);
      } finally {
        endCeremony(ctl);
      }
    }

    async function withReauth(fn) {
      try {
        return await fn();
      } catch (e) {
        if (!e || e.code !== "reauth_required" || options.reauth === false) throw e;
        if (typeof options.beforeReauth === "function") {
          var go;
          try {
            go = await options.beforeReauth(e);
          } catch (_) {
            go = false;
          }
          if (go === false) throw e;
        }
        await reauth();
        return await fn();
      }
    }

    /** Calls one of the application's own JSON routes (same origin, e.g.
     * behind RequireFreshAuth): init {method?, body?} (body is sent as JSON;
     * method defaults to POST with a body, else GET). Resolves to the
     * parsed answer (null for 204); a 403 reauth_required re-authenticates
     * and retries once. */
    async function fetchJSON(path, init) {
      init = init || {};
      var method = init.method || (init.body !== undefined ? "POST" : "GET");
      return withReauth(function () { return request(String(path), method, init.body); });
    }

    return Object.freeze(Object.assign(linkMethods(request, url, register, withReauth), {
      base: base,
      reauth: reauth,
      fetch: fetchJSON,
      startSignUp: startSignUp,
      confirmSignUp: confirmSignUp,
      registerWithGrant: registerWithGrant,
      startRecovery: startRecovery,
      confirmRecovery: confirmRecovery,
      recoverWithCode: recoverWithCode,
      generateRecoveryCodes: generateRecoveryCodes,
      recoveryCodesLeft: recoveryCodesLeft,
      setEmail: setEmail,
      verifyEmail: verifyEmail,
      register: register,
      upgrade: upgrade,
      login: login,
      autofill: autofill,
      session: session,
      listCredentials: listCredentials,
      renameCredential: renameCredential,
      revokeCredential: revokeCredential,
      updateUser: updateUser,
      logout: logout,
    }));
  }

  // ---- device linking (httpadapter link/*) ---------------------------------------

  function sleep(ms, abortSignal) {
    return new Promise(function (resolve, reject) {
      if (abortSignal && abortSignal.aborted) {
        reject(new WebauthnkitError("aborted", "the operation was aborted"));
        return;
      }
      var timer = setTimeout(done, ms);
      function done() {
        if (abortSignal) abortSignal.removeEventListener("abort", onAbort);
        resolve();
      }
      function onAbort() {
        clearTimeout(timer);
        reject(new WebauthnkitError("aborted", "the operation was aborted"));
      }
      if (abortSignal) abortSignal.addEventListener("abort", onAbort);
    });
  }

  // linkMethods are the client's device-linking helpers: on the new device
  // (B, not signed in) startLink, waitForLink, completeLink; on the
  // signed-in device (A) lookupLink, approveLink, denyLink.
  function linkMethods(request, url, register, withReauth) {
    function str(v) {
      return String(v === undefined || v === null ? "" : v);
    }

    // approveLink / denyLink take lookupLink's result or its linkId.
    function linkIdBody(link) {
      return { linkId: str(link && typeof link === "object" ? link.linkId : link) };
    }

    /** B: starts a link request. Resolves to {code, phrase, approvalUrl,
     * qrCode (a data: URL of an SVG image), expiresAt, interval (seconds
     * between polls)}. The poll token stays in an HttpOnly cookie. */
    async function startLink() {
      return request(url("/link/start"), "POST", {});
    }

    /** B: waits for the outcome, polling with backoff (from the server's
     * interval, times 1.5 up to opts.maxInterval seconds, default 10; a
     * 429 waits its Retry-After; network errors are retried).
     * opts.expiresAt (startLink's) ends the wait a minute after it even if
     * the server cannot be reached. opts.signal (an AbortSignal) stops it
     * (code "aborted"); opts.onPoll(status) sees each answer. Resolves to
     * {status: "approved", grant} for completeLink; throws code
     * "link_denied" or "link_expired" otherwise. */
    async function waitForLink(opts) {
      opts = opts || {};
      var delay = Math.max(Number(opts.interval) || 2, 0.05);
      var ceiling = Math.max(Number(opts.maxInterval) || 10, delay);
      var deadline = opts.expiresAt ? Date.parse(opts.expiresAt) + 60000 : NaN;
      for (;;) {
        if (Date.now() > deadline) throw new WebauthnkitError("link_expired", "the request expired; start again");
        await sleep(delay * 1000, opts.signal);
        var res;
        try {
          res = await request(url("/link/poll"), "POST", {}, opts.signal);
        } catch (e) {
          if (e && e.code === "rate_limited" && e.retryAfter) {
            delay = Math.min(Math.max(delay, e.retryAfter), Math.max(ceiling, e.retryAfter));
            continue;
          }
          if (e && e.code === "network") {
            delay = Math.min(delay * 2, ceiling);
            continue;
          }
          throw e;
        }
        callback(opts.onPoll, res.status);
        if (res.status === "approved") return res;
        if (res.status === "denied") throw new WebauthnkitError("link_denied", "the request was denied on the signed-in device", 200, res);
        if (res.status === "expired") throw new WebauthnkitError("link_expired", "the request expired; start again", 200, res);
        delay = Math.min(delay * 1.5, ceiling);
      }
    }

    /** B, after approval: creates this device's own passkey with the grant
     * (one passkey, for the approving account) and signs in. Resolves to
     * {user, credential, newUser, linked}. */
    async function completeLink(grant, opts) {
      opts = opts || {};
      return register({ grant: grant, name: opts.name });
    }

    /** A (signed in): what a code stands for; binds the request to this
     * account and spends the code. Resolves to {linkId, browser, os,
     * createdAt, expiresAt}: no phrase, the user reads it on the new
     * device and types it for approveLink. A wrong, used or expired code
     * throws "link_not_found"; too many lookups "too_many_attempts". */
    async function lookupLink(code) {
      return request(url("/link/lookup"), "POST", { code: str(code) });
    }

    /** A: approves the looked-up request (lookupLink's result or its
     * linkId) with phrase, the words the user typed from the new device's
     * screen (any case; spaces or hyphens between words). Wrong words throw
     * "link_phrase_mismatch" (400) and deny the request: start again on the
     * new device; no words throw "invalid_request" (nothing spent). Needs a
     * fresh user-verified sign-in: on 403 reauth_required it
     * re-authenticates (reauth()) and retries once, as register does. */
    async function approveLink(link, phrase) {
      var body = linkIdBody(link);
      body.phrase = str(phrase);
      return withReauth(function () { return request(url("/link/approve"), "POST", body); });
    }

    /** A: denies the looked-up request. */
    async function denyLink(link) {
      return request(url("/link/deny"), "POST", linkIdBody(link));
    }

    return {
      startLink: startLink,
      waitForLink: waitForLink,
      completeLink: completeLink,
      lookupLink: lookupLink,
      approveLink: approveLink,
      denyLink: denyLink,
    };
  }

  global.webauthnkit = Object.freeze({
    version: VERSION,
    client: client,
    Error: WebauthnkitError,
    isSupported: isSupported,
    isAutofillSupported: isAutofillSupported,
    isUpgradeSupported: isUpgradeSupported,
  });
})(typeof window !== "undefined" ? window : globalThis);
