// Runs client.js in Node with stubbed browser APIs (fetch, navigator,
// PublicKeyCredential) and prints what the client did, as JSON lines.
// Used by TestClientJSUpgradeAndUpdateUser.
"use strict";
const fs = require("fs");
const src = fs.readFileSync(process.argv[2], "utf8");
const log = [];
let conditionalCreate = false;

globalThis.PublicKeyCredential = {
  getClientCapabilities: async () => ({ conditionalCreate }),
  parseCreationOptionsFromJSON: (j) => j,
  signalCurrentUserDetails: async (arg) => { log.push({ signal: "signalCurrentUserDetails", arg }); },
  signalUnknownCredential: async (arg) => { log.push({ signal: "signalUnknownCredential", arg }); },
};
Object.defineProperty(globalThis, "navigator", {
  configurable: true,
  value: {
    credentials: {
      create: async (opts) => {
        log.push({ create: { mediation: opts.mediation || "" } });
        return { toJSON: () => ({ id: "AA", rawId: "AA", type: "public-key", response: { clientDataJSON: "" } }) };
      },
      get: async () => null,
    },
  },
});
globalThis.fetch = async (url, init) => {
  log.push({ fetch: { url, method: init.method, body: init.body ? JSON.parse(init.body) : null } });
  const json = (status, v) => ({
    status, ok: status < 300, statusText: "", headers: { get: () => null },
    text: async () => JSON.stringify(v),
  });
  if (url.endsWith("/registration/begin")) return json(200, { publicKey: { challenge: "AA", user: { id: "AA" } }, mediation: "conditional" });
  if (url.endsWith("/registration/finish")) return json(200, { user: { handle: "AA" }, newUser: false });
  if (url.endsWith("/user")) {
    return json(200, { user: { handle: "dQ", name: "new@example.com" },
      signal: { currentUserDetails: { rpId: "example.com", userId: "dQ", name: "new@example.com", displayName: "New" } } });
  }
  return json(404, { error: "not_found", message: "no" });
};
eval(src);

(async () => {
  const wk = globalThis.webauthnkit.client({ base: "/passkeys" });
  const out = {};
  out.unsupported = await wk.upgrade();
  out.unsupportedLog = log.splice(0);
  conditionalCreate = true;
  out.supported = await wk.upgrade();
  out.supportedLog = log.splice(0);
  out.updated = await wk.updateUser({ name: "new@example.com", displayName: "New" });
  out.updateLog = log.splice(0);
  console.log(JSON.stringify(out));
})().catch((e) => { console.error(e); process.exit(1); });
