// Runs client.js in Node against a live httpadapter server (started by
// TestJSClientWithNode). navigator.credentials is a stub that forwards the
// options to a webauthntest authenticator on the test server, so the client's
// own conversions (parse*OptionsFromJSON fallbacks, credential.toJSON
// fallback) are checked end to end against the real verification code.
//
// usage: node client_harness.js <client.js> <server URL>
"use strict";

const fs = require("fs");
const vm = require("vm");

const [clientPath, server] = process.argv.slice(2);
const base = server + "/passkeys";
const origin = server;

// ---- a browser-ish fetch: cookie jar and Origin ---------------------------
const jar = new Map();
const realFetch = globalThis.fetch;
globalThis.fetch = async (url, init = {}) => {
  const headers = new Headers(init.headers || {});
  if (jar.size) headers.set("Cookie", [...jar].map(([k, v]) => k + "=" + v).join("; "));
  if ((init.method || "GET") !== "GET") headers.set("Origin", origin);
  const res = await realFetch(url, { ...init, headers });
  for (const sc of res.headers.getSetCookie()) {
    const nv = sc.split(";")[0];
    const i = nv.indexOf("=");
    const name = nv.slice(0, i).trim();
    const value = nv.slice(i + 1).trim();
    if (/max-age=(0|-1)\b/i.test(sc) || value === "") jar.delete(name);
    else jar.set(name, value);
  }
  return res;
};

// ---- base64url, for the stub only -------------------------------------------
const b64 = (buf) => Buffer.from(buf instanceof ArrayBuffer ? new Uint8Array(buf) : buf).toString("base64url");
const unb64 = (s) => {
  const b = Buffer.from(s, "base64url");
  return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength);
};
function encode(v) {
  if (v instanceof ArrayBuffer || ArrayBuffer.isView(v)) return b64(v);
  if (Array.isArray(v)) return v.map(encode);
  if (v && typeof v === "object") {
    const o = {};
    for (const k of Object.keys(v)) o[k] = encode(v[k]);
    return o;
  }
  return v;
}

// ---- the stubbed browser WebAuthn API ---------------------------------------
let mode = "fallback"; // or "native": parse*FromJSON and toJSON present
let device = "d1";
const signals = [];
const hooks = { holdConditional: false, pending: false, release: null, aborted: 0 };

async function authenticator(kind, publicKey) {
  if (device === "cancel") throw new DOMException("The operation either timed out or was not allowed.", "NotAllowedError");
  if (device === "security") throw new DOMException("The RP ID is invalid.", "SecurityError");
  if (mode === "fallback") {
    for (const [k, v] of Object.entries({ challenge: publicKey.challenge, userId: publicKey.user && publicKey.user.id })) {
      if (v !== undefined && !(v instanceof ArrayBuffer) && !ArrayBuffer.isView(v)) throw new TypeError(k + " must be binary in fallback mode");
    }
  }
  const json = publicKey.__json || encode(publicKey);
  const res = await realFetch(server + "/test/device/" + device + "/" + kind, { method: "POST", body: JSON.stringify(json) });
  const j = await res.json();
  if (!res.ok) throw new DOMException(j.message, j.name);
  return toCredential(j, kind);
}

function toCredential(j, kind) {
  const r = { clientDataJSON: unb64(j.response.clientDataJSON) };
  if (kind === "create") {
    r.attestationObject = unb64(j.response.attestationObject);
    r.getTransports = () => j.response.transports || [];
    r.getAuthenticatorData = () => unb64(j.response.authenticatorData);
    r.getPublicKey = () => (j.response.publicKey ? unb64(j.response.publicKey) : null);
    r.getPublicKeyAlgorithm = () => j.response.publicKeyAlgorithm;
  } else {
    r.authenticatorData = unb64(j.response.authenticatorData);
    r.signature = unb64(j.response.signature);
    r.userHandle = j.response.userHandle ? unb64(j.response.userHandle) : null;
  }
  const cred = {
    id: j.id,
    rawId: unb64(j.rawId),
    type: j.type,
    authenticatorAttachment: j.authenticatorAttachment,
    response: r,
    getClientExtensionResults: () => j.clientExtensionResults || {},
  };
  if (mode === "native") cred.toJSON = () => j;
  return cred;
}

function abortable(signal, promise) {
  return new Promise((resolve, reject) => {
    if (signal && signal.aborted) return reject(new DOMException("aborted", "AbortError"));
    if (signal) signal.addEventListener("abort", () => reject(new DOMException("aborted", "AbortError")));
    promise.then(resolve, reject);
  });
}

const PKC = function PublicKeyCredential() {};
function setMode(m) {
  mode = m;
  for (const k of Object.keys(PKC)) delete PKC[k];
  PKC.isConditionalMediationAvailable = async () => true;
  for (const name of ["signalUnknownCredential", "signalAllAcceptedCredentials", "signalCurrentUserDetails"]) {
    PKC[name] = async (arg) => { signals.push({ name, arg }); };
  }
  if (m === "native") {
    PKC.parseCreationOptionsFromJSON = (j) => ({ __json: j });
    PKC.parseRequestOptionsFromJSON = (j) => ({ __json: j });
  }
}
globalThis.PublicKeyCredential = PKC;
Object.defineProperty(globalThis, "navigator", {
  configurable: true,
  writable: true,
  value: {
    credentials: {
      create: ({ publicKey, signal }) => abortable(signal, authenticator("create", publicKey)),
      get: ({ publicKey, signal, mediation }) => {
        if (mediation === "conditional" && hooks.holdConditional) {
          hooks.pending = true;
          return new Promise((resolve, reject) => {
            signal.addEventListener("abort", () => {
              hooks.pending = false;
              hooks.aborted++;
              reject(new DOMException("aborted", "AbortError"));
            });
            hooks.release = () => {
              hooks.pending = false;
              authenticator("get", publicKey).then(resolve, reject);
            };
          });
        }
        return abortable(signal, authenticator("get", publicKey));
      },
    },
  },
});
globalThis.location = new URL(server + "/");

vm.runInThisContext(fs.readFileSync(clientPath, "utf8"), { filename: "client.js" });
const wk = globalThis.webauthnkit;

// ---- assertions -------------------------------------------------------------
function check(cond, msg) {
  if (!cond) throw new Error("check failed: " + msg);
}
async function expectError(fn, code, status) {
  try {
    await fn();
  } catch (e) {
    check(e instanceof wk.Error, "not a webauthnkit.Error: " + e);
    check(e.code === code, "code " + e.code + " (" + e.message + "), want " + code);
    if (status !== undefined) check(e.status === status, "status " + e.status + ", want " + status);
    return e;
  }
  throw new Error("no error, want " + code);
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function waitFor(cond, what) {
  for (let i = 0; i < 200; i++) {
    if (cond()) return;
    await sleep(10);
  }
  throw new Error("timed out waiting for " + what);
}
const lastSignal = (name) => signals.filter((s) => s.name === name).pop();

async function run(m) {
  setMode(m);
  jar.clear();
  hooks.aborted = 0;
  const c = wk.client({ base: base + "/" });
  check(c.base === base, "base normalised");
  const user = "alice-" + m;

  check((await c.session()) === null, "signed out at start");

  device = m + "-1";
  const reg = await c.register({ username: user, displayName: "Alice" });
  check(reg.newUser === true && reg.user.name === user && reg.user.displayName === "Alice", "sign-up");
  check((await c.session()).user.name === user, "signed in after sign-up");

  await expectError(() => c.register({ username: user }), "username_taken", 409);

  device = m + "-2";
  const add = await c.register({ name: "Second" });
  check(add.newUser === false && add.credential.name === "Second" && add.user.handle === reg.user.handle, "add passkey");
  await expectError(() => c.register({}), "credential_exists", 0); // excludeCredentials

  let list = await c.listCredentials();
  check(list.credentials.length === 2, "two passkeys");
  let s = lastSignal("signalAllAcceptedCredentials");
  check(s && s.arg.rpId === "localhost" && s.arg.userId === reg.user.handle && s.arg.allAcceptedCredentialIds.length === 2, "signalAllAcceptedCredentials after list");

  await c.logout();
  check((await c.session()) === null, "signed out");
  await expectError(() => c.listCredentials(), "not_signed_in", 401);

  device = m + "-1";
  const login = await c.login({ username: user });
  check(login.user.name === user && login.credential.id === reg.credential.id && login.userVerified === true, "username-first login");
  s = lastSignal("signalCurrentUserDetails");
  check(s && s.arg.rpId === "localhost" && s.arg.userId === reg.user.handle && s.arg.name === user && s.arg.displayName === "Alice", "signalCurrentUserDetails after login");

  await c.logout();
  device = m + "-2";
  const login2 = await c.login();
  check(login2.credential.id === add.credential.id, "usernameless login");

  signals.length = 0;
  list = await c.renameCredential(add.credential.id, "Renamed");
  check(list.credentials.find((x) => x.id === add.credential.id).name === "Renamed", "rename");
  check(lastSignal("signalCurrentUserDetails"), "signalCurrentUserDetails after rename");

  list = await c.revokeCredential(reg.credential.id);
  check(list.credentials.length === 1, "revoke");
  s = lastSignal("signalAllAcceptedCredentials");
  check(s && s.arg.allAcceptedCredentialIds.join() === add.credential.id, "signalAllAcceptedCredentials after revoke");
  await expectError(() => c.revokeCredential(add.credential.id), "last_credential", 409);
  await expectError(() => c.renameCredential("AAAA", "x"), "not_found", 404);

  // The revoked passkey: unknown_credential, and the browser is told.
  await c.logout();
  device = m + "-1";
  await expectError(() => c.login(), "unknown_credential", 401);
  s = lastSignal("signalUnknownCredential");
  check(s && s.arg.rpId === "localhost" && s.arg.credentialId === reg.credential.id, "signalUnknownCredential");

  // A throwing or rejecting signal never fails the operation.
  device = m + "-2";
  PKC.signalCurrentUserDetails = () => { throw new Error("boom"); };
  PKC.signalAllAcceptedCredentials = () => Promise.reject(new Error("boom"));
  check((await c.login()).user.name === user, "login despite a throwing signal");
  check((await c.listCredentials()).credentials.length === 1, "list despite a rejecting signal");

  // DOMException mapping.
  device = "cancel";
  await expectError(() => c.login(), "cancelled", 0);
  device = "security";
  await expectError(() => c.register({ name: "x" }), "security", 0);

  // Autofill: aborted silently by another call, by stop(), or completing.
  device = m + "-2";
  await c.logout();
  hooks.holdConditional = true;
  const seen = { logins: [], errors: [] };
  const handlers = { onLogin: (r) => seen.logins.push(r), onError: (e) => seen.errors.push(e) };
  c.autofill(handlers);
  await waitFor(() => hooks.pending, "conditional get");
  check((await c.session()) === null, "session during autofill");
  await waitFor(() => !hooks.pending, "abort");
  const stop = c.autofill(handlers);
  await waitFor(() => hooks.pending, "conditional get 2");
  stop();
  await waitFor(() => !hooks.pending, "stop");
  c.autofill(handlers);
  await waitFor(() => hooks.pending, "conditional get 3");
  const modal = c.login(); // a modal login aborts the autofill
  await waitFor(() => !hooks.pending, "abort by login");
  check((await modal).user.name === user, "modal login after autofill");
  await c.logout();
  c.autofill(handlers);
  await waitFor(() => hooks.pending, "conditional get 4");
  hooks.release();
  await waitFor(() => seen.logins.length === 1, "onLogin");
  await sleep(20);
  check(seen.errors.length === 0, "aborts are silent: " + seen.errors.map((e) => e.code));
  check(hooks.aborted === 3, "three aborts, got " + hooks.aborted);
  check(seen.logins[0].user.name === user, "autofill login");
  check((await c.session()).user.name === user, "signed in by autofill");
  // An autofill failure is reported.
  await c.logout({ everywhere: true });
  check((await c.session()) === null, "signed out everywhere");
  device = m + "-1"; // revoked passkey
  c.autofill(handlers);
  await waitFor(() => hooks.pending, "conditional get 5");
  hooks.release();
  await waitFor(() => seen.errors.length === 1, "onError");
  check(seen.errors[0].code === "unknown_credential", "autofill error " + seen.errors[0].code);
  hooks.holdConditional = false;
}

(async () => {
  setMode("fallback");
  check(wk.isSupported() === true, "isSupported");
  check((await wk.isAutofillSupported()) === true, "isAutofillSupported");
  await run("fallback");
  console.log("ok fallback");
  await run("native");
  console.log("ok native");

  // Network failure and non-JSON answers.
  await expectError(() => wk.client({ base: "http://127.0.0.1:1/passkeys" }).session(), "network", 0);
  await expectError(() => wk.client({ base: server + "/not-mounted" }).listCredentials(), "http_404", 404);
  // Server error codes come through.
  await expectError(() => wk.client({ base }).register({ username: "" }), "invalid_request", 400);

  // No WebAuthn in this "browser".
  delete globalThis.PublicKeyCredential;
  check(wk.isSupported() === false, "not supported");
  check((await wk.isAutofillSupported()) === false, "no autofill");
  await expectError(() => wk.client({ base }).login(), "not_supported", 0);
  const errs = [];
  wk.client({ base }).autofill({ onError: (e) => errs.push(e) });
  await waitFor(() => errs.length === 1, "autofill not_supported");
  check(errs[0].code === "not_supported", "autofill not_supported");
  console.log("ok errors");
})().catch((e) => {
  console.error(e && e.stack ? e.stack : e);
  process.exit(1);
});
