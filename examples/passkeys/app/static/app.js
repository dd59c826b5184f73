// Passkeys example: the page logic. Uses window.webauthnkit, the client
// served by httpadapter at /passkeys/client.js.
(function () {
  "use strict";

  var wk = window.webauthnkit && window.webauthnkit.client({ base: "/passkeys" });

  // Human messages for the error codes of webauthnkit (server) and of the
  // client (browser). Anything else gets a generic message.
  var MESSAGES = {
    // browser
    cancelled: "The passkey request was cancelled or timed out. Try again when you’re ready.",
    not_supported: "This browser doesn’t support passkeys. Try a recent version of Chrome, Edge, Safari or Firefox.",
    security: "Passkeys can’t be used on this address. Open the site at its usual address and try again.",
    network: "We can’t reach the server. Check your connection and try again.",
    // sign-up
    username_taken: "That username is already taken. Choose another one, or sign in if it’s yours.",
    credential_exists: "This device already has a passkey for your account. Use another device or password manager.",
    attestation_refused: "This security key or passkey provider isn’t accepted here. Use another one.",
    // sign-in
    unknown_credential: "We don’t recognise this passkey. It may have been removed from your account — try another passkey, or create an account.",
    user_not_found: "We don’t recognise this passkey. Try another one, or create an account.",
    user_verification_required: "Your device needs to verify it’s you (PIN, fingerprint or face) to use this passkey.",
    counter_regression: "This passkey was refused because it may have been copied. Sign in with another passkey.",
    credential_quarantined: "This passkey has been suspended (its authenticator model is no longer trusted). Sign in with another passkey or recover your account.",
    ceremony_not_found: "That took too long or was already used. Please try again.",
    challenge_expired: "That took too long. Please try again.",
    // account
    last_credential: "You can’t remove your only passkey — you’d be locked out. Add another passkey first, then remove this one.",
    not_found: "That passkey no longer exists. Reload the page to see your current passkeys.",
    not_signed_in: "Your session has ended. Please sign in again.",
    // server
    store_unavailable: "The service is temporarily unavailable. Please try again in a moment.",
    request_too_large: "That request was too large.",
    forbidden_origin: "This request was refused because it came from another site.",
    // email codes and recovery
    invalid_code: "That code isn’t right, has expired or was already used. Check the latest email, or ask for a new code.",
    too_many_attempts: "Too many tries. Wait a while before trying again (signing in with a passkey still works).",
    mail_unavailable: "We couldn’t send the email right now. Please try again in a few minutes.",
    invalid_argument: "That email address doesn’t look right. Check it and try again.",
    // device linking
    link_not_found: "That code isn’t right, has expired or was already used. Check the code on the new device, or show a new one there.",
    link_phrase_mismatch: "The words don’t match: the request was cancelled. Start again on the new device.",
    link_denied: "The request was denied on your other device.",
    link_expired: "The code expired before it was approved. Show a new code to try again.",
    invalid_grant: "The approval expired before the passkey was created. Show a new code to try again.",
    reauth_required: "Confirm it’s you with your passkey to continue.",
  };
  var VERIFY_FAILED = "Your passkey couldn’t be verified. Please try again.";
  ["invalid_response", "challenge_mismatch", "origin_mismatch", "rp_id_mismatch", "wrong_ceremony"].forEach(function (c) {
    MESSAGES[c] = VERIFY_FAILED;
  });

  function messageFor(err) {
    if (!err) return "Something went wrong. Please try again.";
    if (MESSAGES[err.code]) return MESSAGES[err.code];
    // invalid_request messages are written for people ("username is required").
    if (err.code === "invalid_request" && err.message) {
      return err.message.charAt(0).toUpperCase() + err.message.slice(1) + ".";
    }
    return "Something went wrong. Please try again.";
  }

  function $(sel, root) { return (root || document).querySelector(sel); }

  var errorBox = $("#error");
  var statusBox = $("#status");

  var ALERT_ICON = '<svg class="icon" viewBox="0 0 24 24" width="18" height="18" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round" aria-hidden="true" focusable="false"><circle cx="12" cy="12" r="9"/><path d="M12 7.5v5.5M12 16.5h0"/></svg>';

  // Controls whose aria-describedby names the error box while it shows an
  // error about them, so that a screen reader reads the error with the
  // field or button (WCAG 1.3.1, 3.3.1).
  var described = [];

  function describedBy(el) {
    return (el.getAttribute("aria-describedby") || "").split(/\s+/).filter(Boolean);
  }

  function tieError(el) {
    var ids = describedBy(el);
    if (ids.indexOf("error") < 0) el.setAttribute("aria-describedby", ids.concat("error").join(" "));
    described.push(el);
  }

  function untieErrors() {
    described.forEach(function (el) {
      var ids = describedBy(el).filter(function (id) { return id !== "error"; });
      if (ids.length) el.setAttribute("aria-describedby", ids.join(" "));
      else el.removeAttribute("aria-describedby");
    });
    described = [];
  }

  // showError shows err (a client error or a sentence). opts: fields, the
  // controls the error is about (tied with aria-describedby); text, a
  // sentence replacing the code's usual one; extra, a node appended.
  function showError(err, opts) {
    if (!errorBox) return;
    opts = opts || {};
    clearError();
    clearStatus();
    var text = opts.text || (typeof err === "string" ? err : messageFor(err));
    errorBox.innerHTML = ALERT_ICON;
    var span = document.createElement("span");
    span.className = "alert-text";
    span.textContent = text;
    if (opts.extra) {
      span.appendChild(document.createTextNode(" "));
      span.appendChild(opts.extra);
    }
    errorBox.appendChild(span);
    if (err && err.code) errorBox.dataset.code = err.code;
    (opts.fields || []).forEach(function (el) { if (el) tieError(el); });
  }

  function clearError() {
    if (!errorBox) return;
    untieErrors();
    errorBox.textContent = "";
    delete errorBox.dataset.code;
  }

  function showStatus(text, kind) {
    if (!statusBox) return;
    statusBox.textContent = "";
    var span = document.createElement("span");
    span.className = "status-" + (kind || "success");
    span.textContent = text;
    statusBox.appendChild(span);
  }

  function clearStatus() {
    if (statusBox) statusBox.textContent = "";
  }

  function signInLink() {
    var a = document.createElement("a");
    a.href = "/";
    a.textContent = "Sign in";
    return a;
  }

  // busy disables the controls while a ceremony runs and returns a function
  // that re-enables them and gives the focus back to the button that
  // started it: disabling the focused button dropped the focus to <body>,
  // so a keyboard or screen reader user lost their place after a failure.
  function busy(button, controls) {
    button.setAttribute("aria-busy", "true");
    controls.forEach(function (c) { c.disabled = true; });
    return function () {
      button.removeAttribute("aria-busy");
      controls.forEach(function (c) { c.disabled = false; });
      button.focus();
    };
  }

  function setInvalid(input, invalid) {
    if (invalid) input.setAttribute("aria-invalid", "true");
    else input.removeAttribute("aria-invalid");
  }

  function unsupported(controls) {
    showError({ code: "not_supported" });
    controls.forEach(function (c) { c.disabled = true; });
  }

  // ---- sign in ----------------------------------------------------------------

  function initSignin() {
    var form = $("#signin-form");
    var username = $("#username");
    var cont = $("#continue");
    var passkeyBtn = $("#passkey-signin");
    var controls = [username, cont, passkeyBtn];
    if (!wk || !window.webauthnkit.isSupported()) {
      unsupported(controls);
      return;
    }

    // After a sign-in: back to the approval page when it sent us here
    // (its code is in the URL fragment, kept through the redirect);
    // after a passkey of another device (hybrid transport), offer one on
    // this device.
    function signedIn(result) {
      var next = new URLSearchParams(window.location.search).get("next");
      if (next === "link") window.location.assign("/link" + window.location.hash);
      else if (result && result.crossDevice) window.location.assign("/account?notice=crossdevice");
      else window.location.assign("/account");
    }

    // Autofill: the browser offers the passkeys of this site in the
    // username field's suggestions. Any other sign-in call stops it; it is
    // started again after that call fails. After a failed autofill sign-in
    // it is offered again only if the server refused the passkey the user
    // picked (401): each retry then needs the user again, whereas restarting
    // after, say, a network error would loop.
    function startAutofill() {
      window.webauthnkit.isAutofillSupported().then(function (ok) {
        if (!ok) return;
        wk.autofill({
          onLogin: signedIn,
          onError: function (err) {
            if (err.code === "aborted" || err.code === "not_supported") return;
            showError(err);
            if (err.status === 401) startAutofill();
          },
        });
      });
    }

    async function run(button, opts) {
      clearError();
      var done = busy(button, controls);
      try {
        signedIn(await wk.login(opts));
      } catch (err) {
        done();
        if (err.code !== "aborted") {
          var about = [button];
          var text = "";
          if (opts && opts.username && err.code === "cancelled") {
            // The browser says the same whether the user closed the prompt
            // or this device has no passkey for the name (the server never
            // tells which names exist): say both.
            text = "No passkey was used. If this device has no passkey for “" + opts.username +
              "”, check the username or use the device that has one; if you closed the request, try again.";
            about.push(username);
          }
          showError(err, { fields: about, text: text });
        }
        startAutofill();
      }
    }

    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var name = username.value.trim();
      if (!name) {
        setInvalid(username, true);
        showError("Enter your username, or choose “Sign in with a passkey”.", { fields: [username] });
        username.focus();
        return;
      }
      setInvalid(username, false);
      run(cont, { username: name });
    });
    username.addEventListener("input", function () { setInvalid(username, false); });
    passkeyBtn.addEventListener("click", function () { run(passkeyBtn); });

    startAutofill();
  }

  // ---- sign up ----------------------------------------------------------------

  function initSignup() {
    var form = $("#signup-form");
    var username = $("#username");
    var email = $("#email");
    var displayName = $("#display-name");
    var create = $("#create");
    var codeForm = $("#signup-code-form");
    var code = $("#signup-code");
    var verify = $("#signup-verify");
    var controls = [username, email, displayName, create];
    if (!wk || !window.webauthnkit.isSupported()) {
      unsupported(controls);
      return;
    }
    form.addEventListener("submit", async function (ev) {
      ev.preventDefault();
      clearError();
      var name = username.value.trim();
      if (!name) {
        setInvalid(username, true);
        showError("Choose a username.", { fields: [username] });
        username.focus();
        return;
      }
      setInvalid(username, false);
      var done = busy(create, controls);
      var address = email.value.trim();
      if (address) {
        // Verify the address first, then create the passkey with the
        // single-use grant the code buys (no pre-hijack of the address).
        try {
          await wk.startSignUp({ email: address, username: name });
          done();
          form.hidden = true;
          codeForm.hidden = false;
          $("#signup-code-email").textContent = address;
          showStatus("Check your email for the code.");
          code.focus();
        } catch (err) {
          done();
          var fields = [create];
          if (err.code === "username_taken" || err.code === "invalid_request") { setInvalid(username, true); fields = [username]; }
          if (err.code === "invalid_argument") { setInvalid(email, true); fields = [email]; }
          showError(err, { fields: fields });
        }
        return;
      }
      try {
        await wk.register({ username: name, displayName: displayName.value.trim() || name });
        window.location.assign("/account?notice=welcome");
      } catch (err) {
        done();
        if (err.code === "aborted") return;
        var about = [create];
        if (err.code === "username_taken" || err.code === "invalid_request") {
          setInvalid(username, true);
          username.focus();
          about = [username];
        }
        showError(err, { fields: about });
      }
    });
    username.addEventListener("input", function () { setInvalid(username, false); });
    email.addEventListener("input", function () { setInvalid(email, false); });

    codeForm.addEventListener("submit", async function (ev) {
      ev.preventDefault();
      clearError();
      var c = code.value.replace(/\s+/g, "");
      if (!c) {
        setInvalid(code, true);
        showError("Enter the code from the email.", { fields: [code] });
        code.focus();
        return;
      }
      setInvalid(code, false);
      var done = busy(verify, [code, verify]);
      var grant;
      try {
        grant = (await wk.confirmSignUp({ email: email.value.trim(), code: c })).grant;
      } catch (err) {
        done();
        setInvalid(code, err.code === "invalid_code");
        showError(err, { fields: [code] });
        return;
      }
      try {
        await wk.registerWithGrant(grant);
        // A grant registers with the name given at the start only; the
        // display name follows (best effort: the account exists already).
        var shown = displayName.value.trim();
        if (shown) {
          try { await wk.updateUser({ displayName: shown }); } catch (_) { /* kept as the username */ }
        }
        window.location.assign("/account?notice=welcome");
      } catch (err) {
        done();
        if (err.code !== "aborted") showError(err, { fields: [verify] });
      }
    });
    $("#signup-restart").addEventListener("click", function () {
      codeForm.hidden = true;
      form.hidden = false;
      code.value = "";
      clearError();
      clearStatus();
      email.focus();
    });
  }

  // ---- lost device: recovery by email ------------------------------------------

  function initRecover() {
    var form = $("#recover-form");
    var identifier = $("#recover-identifier");
    var start = $("#recover-start");
    var codeForm = $("#recover-code-form");
    var code = $("#recover-code");
    var confirm = $("#recover-confirm");
    if (!wk || !window.webauthnkit.isSupported()) {
      unsupported([identifier, start]);
      return;
    }
    form.addEventListener("submit", async function (ev) {
      ev.preventDefault();
      clearError();
      var id = identifier.value.trim();
      if (!id) {
        setInvalid(identifier, true);
        showError("Enter your username or email.", { fields: [identifier] });
        identifier.focus();
        return;
      }
      setInvalid(identifier, false);
      var done = busy(start, [identifier, start]);
      try {
        await wk.startRecovery({ identifier: id });
        done();
        form.hidden = true;
        codeForm.hidden = false;
        showStatus("Check your email for the code.");
        code.focus();
      } catch (err) {
        done();
        showError(err, { fields: [start] });
      }
    });
    codeForm.addEventListener("submit", async function (ev) {
      ev.preventDefault();
      clearError();
      var c = code.value.replace(/\s+/g, "");
      if (!c) {
        setInvalid(code, true);
        showError("Enter the code from the email.", { fields: [code] });
        code.focus();
        return;
      }
      setInvalid(code, false);
      var done = busy(confirm, [code, confirm]);
      var grant;
      try {
        grant = (await wk.confirmRecovery({ identifier: identifier.value.trim(), code: c })).grant;
      } catch (err) {
        done();
        setInvalid(code, err.code === "invalid_code");
        showError(err, { fields: [code] });
        return;
      }
      try {
        await wk.registerWithGrant(grant, { name: "Passkey on this device" });
        window.location.assign("/account?notice=recovered");
      } catch (err) {
        done();
        if (err.code !== "aborted") showError(err, { fields: [confirm] });
      }
    });

    // Recovery codes saved earlier, for an account without (access to) email.
    var codeRecoveryForm = $("#recover-with-code-form");
    var savedUser = $("#recover-username");
    var savedCode = $("#recover-saved-code");
    var useSaved = $("#recover-with-code");
    $("#use-recovery-code").addEventListener("click", function (ev) {
      form.hidden = true;
      codeForm.hidden = true;
      codeRecoveryForm.hidden = false;
      ev.target.hidden = true;
      clearError();
      clearStatus();
      savedUser.value = identifier.value;
      (savedUser.value ? savedCode : savedUser).focus();
    });
    codeRecoveryForm.addEventListener("submit", async function (ev) {
      ev.preventDefault();
      clearError();
      var name = savedUser.value.trim();
      var c = savedCode.value.trim();
      if (!name || !c) {
        var missing = name ? savedCode : savedUser;
        setInvalid(missing, true);
        showError(name ? "Enter one of your recovery codes." : "Enter your username or email.", { fields: [missing] });
        missing.focus();
        return;
      }
      setInvalid(savedUser, false);
      setInvalid(savedCode, false);
      var done = busy(useSaved, [savedUser, savedCode, useSaved]);
      var grant;
      try {
        grant = (await wk.recoverWithCode({ username: name, code: c })).grant;
      } catch (err) {
        done();
        setInvalid(savedCode, err.code === "invalid_code");
        showError(err, { fields: [savedCode] });
        return;
      }
      try {
        await wk.registerWithGrant(grant, { name: "Passkey on this device" });
        window.location.assign("/account?notice=recovered");
      } catch (err) {
        done();
        if (err.code !== "aborted") showError(err, { fields: [useSaved] });
      }
    });
  }

  // ---- account: passkeys --------------------------------------------------------

  function initAccount() {
    var list = $("#passkeys");
    var count = $("#passkey-count");
    var dialog = $("#confirm-revoke");
    var addForm = $("#add-form");
    var addBtn = $("#add-passkey");
    var nameInput = $("#passkey-name");
    markOnlyPasskey();

    function failed(err, control) {
      if (err.code === "aborted") return;
      if (err.code === "not_signed_in") {
        showError(err, { extra: signInLink(), fields: [control] });
        return;
      }
      showError(err, { fields: [control] });
    }

    function updateCount() {
      var n = list.querySelectorAll(".passkey").length;
      count.textContent = n + (n === 1 ? " passkey" : " passkeys");
      markOnlyPasskey();
    }

    // The only passkey cannot be removed (the server refuses it too,
    // atomically): its Remove is disabled up front, with the reason.
    function markOnlyPasskey() {
      var items = list.querySelectorAll(".passkey");
      if (items.length !== 1) return;
      var btn = $(".revoke", items[0]);
      if (!$("#only-passkey")) {
        var note = document.createElement("p");
        note.className = "passkey-note";
        note.id = "only-passkey";
        note.textContent = "This is your only passkey, so it can’t be removed: you’d be locked out. Add another passkey first.";
        $(".passkey-body", items[0]).appendChild(note);
      }
      btn.disabled = true;
      btn.setAttribute("aria-describedby", "only-passkey");
    }

    // Rename, inline.
    function openRename(item) {
      var form = $(".rename-form", item);
      var input = $(".rename-input", item);
      input.value = item.dataset.name;
      form.hidden = false;
      $(".passkey-actions", item).hidden = true;
      input.focus();
      input.select();
    }

    function closeRename(item) {
      $(".rename-form", item).hidden = true;
      $(".passkey-actions", item).hidden = false;
      $(".rename", item).focus();
    }

    list.addEventListener("click", function (ev) {
      var item = ev.target.closest(".passkey");
      if (!item) return;
      if (ev.target.closest(".rename")) openRename(item);
      else if (ev.target.closest(".rename-cancel")) closeRename(item);
      else if (ev.target.closest(".revoke")) confirmRevoke(item);
    });

    list.addEventListener("keydown", function (ev) {
      if (ev.key === "Escape" && ev.target.classList.contains("rename-input")) {
        closeRename(ev.target.closest(".passkey"));
      }
    });

    list.addEventListener("submit", async function (ev) {
      ev.preventDefault();
      var item = ev.target.closest(".passkey");
      var input = $(".rename-input", item);
      var name = input.value.trim();
      if (!name) {
        setInvalid(input, true);
        showError("Give the passkey a name.", { fields: [input] });
        input.focus();
        return;
      }
      setInvalid(input, false);
      clearError();
      var save = $("button[type=submit]", ev.target);
      var done = busy(save, [input, save]);
      try {
        var data = await wk.renameCredential(item.dataset.id, name);
        var saved = (data.credentials || []).filter(function (c) { return c.id === item.dataset.id; })[0];
        name = saved ? saved.name : name;
        item.dataset.name = name;
        $(".passkey-name", item).textContent = name;
        showProvider(item, saved && saved.providerName !== name ? saved.providerName : "");
        $(".rename", item).setAttribute("aria-label", "Rename " + name);
        $(".revoke", item).setAttribute("aria-label", "Remove " + name);
        done();
        closeRename(item);
        showStatus("Passkey renamed to “" + name + "”.");
      } catch (err) {
        done();
        failed(err, input);
      }
    });

    // The provider line ("Google Password Manager · Created ...") is shown
    // only when the passkey's name is not the provider's own.
    function showProvider(item, provider) {
      var meta = $(".passkey-meta", item);
      var line = $(".passkey-provider-line", meta);
      if (!provider) {
        if (line) meta.removeChild(line);
        return;
      }
      if (!line) {
        line = document.createElement("span");
        line.className = "passkey-provider-line";
        var note = document.createElement("span");
        note.className = "passkey-provider";
        line.appendChild(note);
        line.appendChild(document.createTextNode(" · "));
        meta.insertBefore(line, meta.firstChild);
      }
      $(".passkey-provider", line).textContent = provider;
    }

    // Revoke, after confirmation in a modal dialog.
    var revoking = null;

    function confirmRevoke(item) {
      revoking = item;
      $("#confirm-name").textContent = item.dataset.name;
      dialog.returnValue = "";
      dialog.showModal();
    }

    dialog.addEventListener("close", async function () {
      var item = revoking;
      revoking = null;
      if (!item || dialog.returnValue !== "remove") {
        if (item) $(".revoke", item).focus();
        return;
      }
      clearError();
      var btn = $(".revoke", item);
      var done = busy(btn, [btn, $(".rename", item)]);
      try {
        await wk.revokeCredential(item.dataset.id);
        var name = item.dataset.name;
        var next = item.nextElementSibling || item.previousElementSibling;
        item.remove();
        updateCount();
        showStatus("“" + name + "” was removed from your account.");
        if (next) {
          var nextRevoke = $(".revoke", next);
          (nextRevoke.disabled ? $(".rename", next) : nextRevoke).focus();
        }
      } catch (err) {
        done();
        failed(err, btn);
      }
    });

    // Recovery codes: a new set replaces the old one and is shown once.
    var genBtn = $("#recovery-codes-generate");
    if (genBtn) {
      genBtn.addEventListener("click", async function () {
        clearError();
        var done = busy(genBtn, [genBtn]);
        try {
          var codes = (await wk.generateRecoveryCodes()).codes || [];
          var ol = $("#recovery-codes-list");
          ol.textContent = "";
          codes.forEach(function (c) {
            var li = document.createElement("li");
            var code = document.createElement("code");
            code.textContent = c;
            li.appendChild(code);
            ol.appendChild(li);
          });
          $("#recovery-codes-shown").hidden = false;
          $("#recovery-codes-left").textContent = "You have " + codes.length + " unused recovery codes. Making new codes cancels these.";
          done();
          showStatus("New recovery codes made. The old ones no longer work.");
        } catch (err) {
          done();
          failed(err, genBtn);
        }
      });
    }

    // Email: set (or correct) the address, then type the mailed code.
    var emailForm = $("#email-form");
    if (emailForm) {
      var emailInput = $("#email-input");
      var emailSend = $("#email-send");
      var emailCodeForm = $("#email-code-form");
      var emailCode = $("#email-code");
      var emailVerify = $("#email-verify");
      emailForm.addEventListener("submit", async function (ev) {
        ev.preventDefault();
        clearError();
        var address = emailInput.value.trim();
        if (!address) {
          setInvalid(emailInput, true);
          showError("Enter your email address.", { fields: [emailInput] });
          emailInput.focus();
          return;
        }
        setInvalid(emailInput, false);
        var done = busy(emailSend, [emailInput, emailSend]);
        try {
          await wk.setEmail(address);
          done();
          emailCodeForm.hidden = false;
          showStatus("We sent a code to " + address + ". Enter it below.");
          emailCode.focus();
        } catch (err) {
          done();
          if (err.code === "invalid_argument" || err.code === "invalid_request") setInvalid(emailInput, true);
          failed(err, emailInput);
        }
      });
      emailCodeForm.addEventListener("submit", async function (ev) {
        ev.preventDefault();
        clearError();
        var c = emailCode.value.replace(/\s+/g, "");
        if (!c) {
          setInvalid(emailCode, true);
          showError("Enter the code from the email.", { fields: [emailCode] });
          emailCode.focus();
          return;
        }
        setInvalid(emailCode, false);
        var done = busy(emailVerify, [emailCode, emailVerify]);
        try {
          await wk.verifyEmail({ code: c });
          window.location.assign("/account?notice=emailverified");
        } catch (err) {
          done();
          setInvalid(emailCode, err.code === "invalid_code");
          failed(err, emailCode);
        }
      });
    }

    // Add a passkey.
    addForm.addEventListener("submit", async function (ev) {
      ev.preventDefault();
      clearError();
      if (!wk || !window.webauthnkit.isSupported()) {
        showError({ code: "not_supported" });
        return;
      }
      var done = busy(addBtn, [addBtn, nameInput]);
      try {
        var opts = {};
        if (nameInput.value.trim()) opts.name = nameInput.value.trim();
        await wk.register(opts);
        window.location.assign("/account?notice=added");
      } catch (err) {
        done();
        failed(err, addBtn);
      }
    });
  }

  // ---- device linking: the new device ------------------------------------------

  function initLinkNew() {
    var pendingBox = $("#link-pending");
    var approvedBox = $("#link-approved");
    var restart = $("#link-restart");
    var create = $("#link-create");
    if (!wk || !window.webauthnkit.isSupported()) {
      unsupported([restart, create]);
      return;
    }
    var ctl = null;
    var grant = null;

    async function start() {
      clearError();
      clearStatus();
      restart.hidden = true;
      approvedBox.hidden = true;
      if (ctl) ctl.abort();
      ctl = new AbortController();
      var l;
      try {
        l = await wk.startLink();
      } catch (err) {
        showError(err);
        restart.hidden = false;
        return;
      }
      $("#link-qr").src = l.qrCode;
      $("#link-code").textContent = l.code;
      $("#link-phrase").textContent = l.phrase;
      var exp = new Date(l.expiresAt);
      $("#link-expires").dateTime = l.expiresAt;
      $("#link-expires").textContent = exp.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
      pendingBox.hidden = false;
      try {
        var res = await wk.waitForLink({ interval: l.interval, expiresAt: l.expiresAt, signal: ctl.signal });
        grant = res.grant;
        pendingBox.hidden = true;
        approvedBox.hidden = false;
        showStatus("Approved on your other device.");
        create.focus();
      } catch (err) {
        if (err.code === "aborted") return;
        pendingBox.hidden = true;
        restart.hidden = false;
        showError(err, { fields: [restart] });
      }
    }

    create.addEventListener("click", async function () {
      clearError();
      var done = busy(create, [create]);
      try {
        await wk.completeLink(grant, { name: "Passkey on this device" });
        window.location.assign("/account?notice=linked");
      } catch (err) {
        done();
        if (err.code === "aborted") return;
        showError(err, { fields: [create] });
        if (err.code === "invalid_grant") {
          approvedBox.hidden = true;
          restart.hidden = false;
        }
      }
    });
    restart.addEventListener("click", start);
    start();
  }

  // ---- device linking: the signed-in device approves ----------------------------

  function initLink() {
    var form = $("#link-code-form");
    var input = $("#link-code-input");
    var lookup = $("#link-lookup");
    var box = $("#link-request");
    var approve = $("#link-approve");
    var deny = $("#link-deny");
    var phraseForm = $("#link-phrase-form");
    var phrase = $("#link-phrase-input");
    var link = null;

    function when(iso) {
      var secs = Math.max(0, Math.round((Date.now() - new Date(iso).getTime()) / 1000));
      if (secs < 60) return "just now";
      var m = Math.round(secs / 60);
      return m === 1 ? "1 minute ago" : m + " minutes ago";
    }

    async function show(c) {
      clearError();
      clearStatus();
      box.hidden = true;
      var done = busy(lookup, [input, lookup]);
      try {
        var info = await wk.lookupLink(c);
        link = info;
        var device = [info.browser, info.os].filter(Boolean).join(" on ") || "Unknown device";
        $("#link-device").textContent = device;
        $("#link-time").textContent = when(info.createdAt);
        done();
        phrase.value = "";
        setInvalid(phrase, false);
        box.hidden = false;
        approve.disabled = deny.disabled = phrase.disabled = false;
        phrase.focus();
      } catch (err) {
        done();
        setInvalid(input, err.code === "link_not_found");
        showError(err, { fields: [input] });
      }
    }

    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var c = input.value.trim();
      if (!c) {
        setInvalid(input, true);
        showError("Enter the code shown on the new device.", { fields: [input] });
        input.focus();
        return;
      }
      setInvalid(input, false);
      show(c);
    });

    // Approving sends the words the user typed from the new device's
    // screen; this page never shows them (wrong words cancel the request).
    async function decide(button, approving) {
      clearError();
      var words = phrase.value.trim();
      if (approving && !words) {
        setInvalid(phrase, true);
        showError("Type the three words shown on your new device.", { fields: [phrase] });
        phrase.focus();
        return;
      }
      setInvalid(phrase, false);
      var done = busy(button, [approve, deny, phrase]);
      try {
        if (approving) await wk.approveLink(link, words);
        else await wk.denyLink(link);
        done();
        box.hidden = true;
        approve.disabled = deny.disabled = phrase.disabled = true;
        input.value = "";
        showStatus(approving
          ? "Approved. The new device can now create its own passkey and sign in."
          : "Denied. The new device can’t sign in with that code.");
      } catch (err) {
        done();
        if (err.code === "link_phrase_mismatch") {
          // The request is denied: nothing left to approve here.
          box.hidden = true;
          approve.disabled = deny.disabled = phrase.disabled = true;
          input.value = "";
          showError(err);
          return;
        }
        showError(err, { fields: [err.code === "invalid_request" ? phrase : button] });
      }
    }
    phraseForm.addEventListener("submit", function (ev) {
      ev.preventDefault();
      decide(approve, true);
    });
    approve.addEventListener("click", function () { decide(approve, true); });
    deny.addEventListener("click", function () { decide(deny, false); });

    // Opened from the QR code: the code is in the fragment (never sent to
    // the server); drop it from the address bar and history.
    var m = /(?:^#|&)code=([^&]+)/.exec(window.location.hash);
    if (m) {
      var c = decodeURIComponent(m[1]);
      history.replaceState(null, "", window.location.pathname);
      input.value = c;
      show(c);
    }
  }

  // The passkeys page's "Approve a new device" form opens the approval
  // page with the code in the fragment.
  function initApproveForm() {
    var form = $("#approve-device-form");
    if (!form) return;
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var c = $("#approve-device-code").value.trim();
      window.location.assign("/link" + (c ? "#code=" + encodeURIComponent(c) : ""));
    });
  }

  // After a sign-in with another device's passkey: one on this device.
  function initCreateHere() {
    var btn = $("#create-here");
    if (!btn) return;
    btn.addEventListener("click", async function () {
      clearError();
      var done = busy(btn, [btn]);
      try {
        await wk.register({ name: "Passkey on this device" });
        window.location.assign("/account?notice=added");
      } catch (err) {
        done();
        if (err.code !== "aborted") showError(err, { fields: [btn] });
      }
    });
  }

  var page = document.body.dataset.page;
  if (page === "signin") initSignin();
  else if (page === "signup") initSignup();
  else if (page === "recover") initRecover();
  else if (page === "account") { initAccount(); initApproveForm(); initCreateHere(); }
  else if (page === "linknew") initLinkNew();
  else if (page === "link") initLink();
})();
