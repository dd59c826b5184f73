// Runs client.js in Node with stubbed browser APIs and prints the requests
// the account helpers make and the errors they throw, as JSON.
// Used by TestClientJSAccountHelpers.
"use strict";
const fs = require("fs");
const src = fs.readFileSync(process.argv[2], "utf8");
const log = [];

globalThis.PublicKeyCredential = { parseCreationOptionsFromJSON: (j) => j };
Object.defineProperty(globalThis, "navigator", {
  configurable: true,
  value: {
    credentials: {
      create: async () => ({ toJSON: () => ({ id: "AA", rawId: "AA", type: "public-key", response: { clientDataJSON: "" } }) }),
      get: async () => null,
    },
  },
});
globalThis.fetch = async (url, init) => {
  log.push({ url, method: init.method, body: init.body ? JSON.parse(init.body) : null });
  const json = (status, v, retry) => ({
    status, ok: status < 300, statusText: "",
    headers: { get: (h) => (h === "Retry-After" && retry ? retry : null) },
    text: async () => JSON.stringify(v),
  });
  if (url.endsWith("/recovery/confirm")) return json(429, { error: "too_many_attempts", message: "too many attempts" }, "30");
  if (url.endsWith("/signup/start")) return json(503, { error: "mail_unavailable", message: "later" }, "60");
  if (url.endsWith("/registration/begin")) return json(200, { publicKey: { challenge: "AA", user: { id: "AA" } } });
  if (url.endsWith("/registration/finish")) return json(200, { user: { handle: "AA" }, newUser: false, recovered: true });
  if (url.endsWith("/recovery/codes") && init.method === "GET") return json(200, { left: 9 });
  if (url.endsWith("/recovery/codes")) return json(200, { codes: ["a", "b"] });
  return json(200, { grant: "G" });
};
eval(src);

(async () => {
  const wk = globalThis.webauthnkit.client({ base: "/passkeys" });
  const out = { errors: {} };
  const catchErr = async (name, p) => {
    try { await p; out.errors[name] = null; } catch (e) { out.errors[name] = { code: e.code, status: e.status, retryAfter: e.retryAfter }; }
  };
  await catchErr("startSignUp", wk.startSignUp({ email: "a@example.com", username: "a" }));
  out.confirmSignUp = await wk.confirmSignUp({ token: "T" });
  out.registered = await wk.registerWithGrant("G", { name: "Phone" });
  await wk.startRecovery({ identifier: "a" });
  await catchErr("confirmRecovery", wk.confirmRecovery({ identifier: "a", code: "123456" }));
  await wk.recoverWithCode({ username: "a", code: "x-y" });
  out.codes = await wk.generateRecoveryCodes();
  out.left = await wk.recoveryCodesLeft();
  await wk.setEmail("b@example.com");
  await wk.verifyEmail({ code: "654321" });
  out.log = log;
  console.log(JSON.stringify(out));
})().catch((e) => { console.error(e); process.exit(1); });
