// Runs client.js in Node with stubbed browser APIs: the server answers
// 403 reauth_required to the first try of each sensitive call, and the
// client must re-authenticate (reauth/begin, navigator.credentials.get,
// reauth/finish) and retry once. Prints the requests and outcomes as JSON.
// Used by TestClientJSReauth.
"use strict";
const fs = require("fs");
const src = fs.readFileSync(process.argv[2], "utf8");
const log = [];
let fresh = false; // the server's view of the session
let alwaysStale = false;

globalThis.PublicKeyCredential = {
  parseCreationOptionsFromJSON: (j) => j,
  parseRequestOptionsFromJSON: (j) => j,
  getClientCapabilities: async () => ({ conditionalCreate: true }),
};
const cred = { toJSON: () => ({ id: "AA", rawId: "AA", type: "public-key", response: { clientDataJSON: "" } }) };
Object.defineProperty(globalThis, "navigator", {
  configurable: true,
  value: {
    credentials: {
      create: async (o) => { log.push({ create: o.mediation || "modal" }); return cred; },
      get: async (o) => { log.push({ get: o.publicKey.challenge }); return cred; },
    },
  },
});
globalThis.fetch = async (url, init) => {
  log.push({ url, method: init.method });
  const json = (status, v) => ({
    status, ok: status < 300, statusText: "",
    headers: { get: () => null },
    text: async () => JSON.stringify(v),
  });
  if (url.endsWith("/reauth/begin")) return json(200, { publicKey: { challenge: "RE" } });
  if (url.endsWith("/reauth/finish")) {
    fresh = !alwaysStale;
    return json(200, { user: { handle: "AA" }, authenticatedAt: "2026-12-06T09:00:00Z" });
  }
  const sensitive = url.includes("/credentials/") || url.endsWith("/registration/begin") || url.endsWith("/sensitive");
  if (sensitive && !fresh) return json(403, { error: "reauth_required", message: "confirm it's you" });
  if (url.endsWith("/registration/begin")) return json(200, { publicKey: { challenge: "RG", user: { id: "AA" } } });
  if (url.endsWith("/registration/finish")) return json(200, { user: { handle: "AA" }, newUser: false });
  if (url.includes("/credentials/")) return json(200, { rpId: "example.com", userHandle: "AA", credentials: [] });
  return json(200, { ok: true });
};
eval(src);

(async () => {
  const out = {};
  const step = async (name, fn) => {
    log.length = 0;
    fresh = false;
    try {
      out[name] = { result: await fn() };
    } catch (e) {
      out[name] = { error: e.code, status: e.status };
    }
    out[name].log = log.slice();
  };
  const wk = globalThis.webauthnkit.client({ base: "/passkeys" });
  await step("revoke", () => wk.revokeCredential("XY"));
  await step("register", () => wk.register({ name: "Laptop" }));
  await step("fetch", () => wk.fetch("/app/sensitive", { method: "POST", body: { a: 1 } }));
  await step("upgrade", () => wk.upgrade());
  alwaysStale = true;
  await step("twice", () => wk.revokeCredential("XY"));
  alwaysStale = false;
  const off = globalThis.webauthnkit.client({ base: "/passkeys", reauth: false });
  await step("off", () => off.revokeCredential("XY"));
  const declined = globalThis.webauthnkit.client({ base: "/passkeys", beforeReauth: async () => false });
  await step("declined", () => declined.revokeCredential("XY"));
  let asked = 0;
  const confirmed = globalThis.webauthnkit.client({ base: "/passkeys", beforeReauth: async (e) => { asked++; return e.code === "reauth_required"; } });
  await step("confirmed", () => confirmed.revokeCredential("XY"));
  out.asked = asked;
  console.log(JSON.stringify(out));
})().catch((e) => { console.error(e); process.exit(1); });
