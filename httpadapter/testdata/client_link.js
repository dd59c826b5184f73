// Runs the device-linking helpers of client.js in Node with a stubbed
// fetch and prints the requests they make, the gaps between polls and the
// outcomes, as JSON. Used by TestClientJSLinkHelpers.
"use strict";
const fs = require("fs");
const src = fs.readFileSync(process.argv[2], "utf8");
const log = [];
let polls = [];
let script = [];

globalThis.PublicKeyCredential = { parseCreationOptionsFromJSON: (j) => j, parseRequestOptionsFromJSON: (j) => j };
let fresh = false;
Object.defineProperty(globalThis, "navigator", {
  configurable: true,
  value: {
    credentials: {
      create: async () => ({ toJSON: () => ({ id: "AA", rawId: "AA", type: "public-key", response: { clientDataJSON: "" } }) }),
      get: async () => ({ toJSON: () => ({ id: "AA", rawId: "AA", type: "public-key", response: { clientDataJSON: "", authenticatorData: "", signature: "" } }) }),
    },
  },
});
const json = (status, v, retry) => ({
  status, ok: status < 300, statusText: "",
  headers: { get: (h) => (h === "Retry-After" && retry ? retry : null) },
  text: async () => JSON.stringify(v),
});
globalThis.fetch = async (url, init) => {
  log.push({ url, method: init.method, body: init.body ? JSON.parse(init.body) : null });
  if (url.endsWith("/link/poll")) {
    polls.push(Date.now());
    const next = script.shift();
    if (next === "429") return json(429, { error: "rate_limited", message: "slow down" }, "1");
    if (next === "approved") return json(200, { status: "approved", grant: "G" });
    return json(200, { status: next });
  }
  if (url.endsWith("/link/start")) return json(200, { code: "ABCD-EFGH", phrase: "amber otter", interval: 1 });
  if (url.endsWith("/link/lookup")) {
    const b = JSON.parse(init.body);
    if (b.code !== "ABCD-EFGH") return json(404, { error: "link_not_found", message: "wrong code" });
    return json(200, { linkId: "L1", browser: "Chrome", os: "Linux" });
  }
  if (url.endsWith("/link/approve") && !fresh) return json(403, { error: "reauth_required", message: "confirm it's you" });
  if (url.endsWith("/link/approve") && JSON.parse(init.body).phrase !== "Amber Otter") {
    return json(400, { error: "link_phrase_mismatch", message: "the words do not match" });
  }
  if (url.endsWith("/reauth/begin")) return json(200, { publicKey: { challenge: "AA" } });
  if (url.endsWith("/reauth/finish")) { fresh = true; return json(200, { user: { handle: "AA" } }); }
  if (url.endsWith("/registration/begin")) return json(200, { publicKey: { challenge: "AA", user: { id: "AA" } } });
  if (url.endsWith("/registration/finish")) return json(200, { user: { handle: "AA" }, newUser: false, linked: true });
  return json(200, {});
};
eval(src);

(async () => {
  const wk = globalThis.webauthnkit.client({ base: "/passkeys" });
  const out = { outcomes: {} };
  const outcome = async (name, p) => {
    try { const v = await p; out.outcomes[name] = { ok: v }; } catch (e) { out.outcomes[name] = { code: e.code }; }
  };
  out.started = await wk.startLink();

  // pending three times, rate limited once, then approved.
  script = ["pending", "pending", "pending", "429", "approved"];
  polls = [];
  const seen = [];
  const t0 = Date.now();
  await outcome("approved", wk.waitForLink({ interval: 0.05, maxInterval: 0.12, onPoll: (s) => seen.push(s) }));
  out.gaps = polls.map((t, i) => t - (i ? polls[i - 1] : t0));
  out.seen = seen;

  script = ["pending", "denied"];
  await outcome("denied", wk.waitForLink({ interval: 0.01 }));
  script = ["expired"];
  await outcome("expired", wk.waitForLink({ interval: 0.01 }));
  const before = polls.length;
  await outcome("pastDeadline", wk.waitForLink({ interval: 0.01, expiresAt: new Date(Date.now() - 61000).toISOString() }));
  out.pollsPastDeadline = polls.length - before;
  script = ["pending", "pending", "pending", "pending", "pending", "pending"];
  const ctl = new AbortController();
  setTimeout(() => ctl.abort(), 60);
  await outcome("aborted", wk.waitForLink({ interval: 0.02, signal: ctl.signal }));

  out.registered = await wk.completeLink("G", { name: "Laptop" });
  await outcome("badCode", wk.lookupLink("WRONG"));
  out.looked = await wk.lookupLink("ABCD-EFGH");
  await wk.approveLink(out.looked, "Amber Otter");
  await outcome("wrongWords", wk.approveLink("L1", "tiger"));
  await wk.denyLink("L1");
  out.log = log.filter((l) => !l.url.endsWith("/link/poll"));
  console.log(JSON.stringify(out));
})().catch((e) => { console.error(e); process.exit(1); });
