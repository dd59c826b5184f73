// The pages' passkey buttons, on the adapter's client (/passkeys/client.js).
"use strict";
const wk = webauthnkit.client({ base: "/passkeys" });
const $ = (sel) => document.querySelector(sel);

function show(err, status) {
  $("#error").textContent = err ? err.message : "";
  $("#error").dataset.code = err ? err.code : "";
  $("#status").textContent = status || "";
}

// Runs f on click, showing its error.
function onClick(sel, f) {
  const el = $(sel);
  if (el) el.addEventListener("click", () => f().catch((e) => show(e)));
}

// ---- sign-in: passkey button and autofill. The server's OnLogin hook set
// the app's session (a user-verified passkey counts as both factors).
onClick("#passkey-signin", async () => {
  await wk.login();
  location.assign("/account");
});
if (document.body.dataset.page === "signin") {
  wk.autofill({ onLogin: () => location.assign("/account"), onError: () => {} });
}

// ---- second step: a passkey or security key of the user who typed the password.
onClick("#passkey-second", async () => {
  await wk.login({ secondFactor: true });
  location.assign("/account");
});

// ---- account: the passkeys list, add, remove, automatic upgrade.
async function refresh() {
  const data = await wk.listCredentials();
  const ul = $("#passkeys");
  ul.replaceChildren();
  for (const c of data.credentials) {
    const li = document.createElement("li");
    li.dataset.id = c.id;
    li.textContent = c.name + (c.secondFactorOnly ? " (second factor only)" : "") + " ";
    const rm = document.createElement("button");
    rm.type = "button";
    rm.textContent = "Remove";
    rm.className = "remove";
    rm.addEventListener("click", () => wk.revokeCredential(c.id).then(refresh).catch((e) => show(e)));
    li.append(rm);
    ul.append(li);
  }
  return data.credentials.length;
}

// After a password sign-in: create a passkey without a prompt where the
// browser can (conditional create). The explicit offer is shown at once
// beside it: a browser that declines may answer with an error, or never.
async function upgrade() {
  const section = $("#passkeys-section");
  $("#offer").hidden = false;
  section.dataset.upgradeResult = "pending";
  try {
    const result = await wk.upgrade();
    if (!result) {
      // Not supported, declined, or aborted by the offer's button.
      if (section.dataset.upgradeResult === "pending") section.dataset.upgradeResult = "declined";
      return;
    }
    section.dataset.upgradeResult = "created";
    $("#offer").hidden = true;
    show(null, "A passkey was created: next time, sign in with it.");
    await refresh();
  } catch (e) {
    section.dataset.upgradeResult = "error:" + e.code;
  }
}

if (document.body.dataset.page === "account") {
  onClick("#add-passkey", async () => { await wk.register({}); await refresh(); show(null, "Passkey added."); });
  onClick("#create-passkey", async () => {
    $("#passkeys-section").dataset.upgradeResult = "offer";
    await wk.register({});
    $("#offer").hidden = true;
    await refresh();
    show(null, "Passkey created.");
  });
  onClick("#add-key", async () => { await wk.register({ secondFactor: true }); await refresh(); show(null, "Security key added."); });
  const signal = $("#signal");
  if (signal && PublicKeyCredential.signalCurrentUserDetails) {
    // The email changed: passkey managers show the new name.
    PublicKeyCredential.signalCurrentUserDetails(JSON.parse(signal.textContent)).catch(() => {});
  }
  refresh().then((n) => {
    document.body.dataset.ready = "1";
    if (n === 0 && $("#passkeys-section").dataset.upgrade === "1") return upgrade();
  }).catch((e) => show(e));
}
