// Settings > API Keys: sends the forms to /api/keys with fetch() and shows a new key once.
// No framework, no inline code (the page's CSP allows scripts from this origin only).
// The plaintext key lives only in the panel's field, emptied when the panel closes or the
// page is left; it is never written to the URL, storage, the console or the list.
"use strict";
(function () {
  var meta = document.querySelector('meta[name="csrf-token"]');
  var csrf = meta ? meta.getAttribute("content") : "";
  var $ = function (id) { return document.getElementById(id); };

  // One JSON call to the API with the page's CSRF token; resolves to {status, body}.
  function call(method, path, body) {
    return fetch(path, {
      method: method,
      credentials: "same-origin",
      cache: "no-store",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: body === undefined ? undefined : JSON.stringify(body)
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (json) {
        return { status: response.status, body: json };
      });
    });
  }

  function problem(result) {
    var d = result.body && result.body.error_description;
    return d ? String(d) : "The request failed (" + result.status + "). Reload the page and try again.";
  }

  function showError(el, text) {
    el.textContent = text;
    el.hidden = !text;
  }

  // `2026-12-05 20:16 UTC`, as the server renders dates.
  function date(secs, none) {
    if (secs === null || secs === undefined) { return none; }
    var iso = new Date(secs * 1000).toISOString();
    return iso.slice(0, 10) + " " + iso.slice(11, 16) + " UTC";
  }

  // Adds a key the API returned to the list (text only: nothing is parsed as HTML).
  function addRow(key) {
    var table = $("keys");
    if (!table || !key) { return; }
    var row = document.createElement("tr");
    row.setAttribute("data-id", key.id);
    var name = document.createElement("th");
    name.scope = "row";
    name.textContent = key.name;
    row.appendChild(name);
    var code = document.createElement("code");
    code.textContent = key.display;
    var cells = [code, key.permissions.join(", "), date(key.created_at, "—"),
      date(key.last_used_at, "Never"), date(key.expires_at, "Never")];
    cells.forEach(function (content) {
      var td = document.createElement("td");
      if (typeof content === "string") { td.textContent = content; } else { td.appendChild(content); }
      row.appendChild(td);
    });
    var status = document.createElement("span");
    status.className = "status " + key.status;
    status.textContent = key.status === "active" ? "Active" : key.status;
    var statusCell = document.createElement("td");
    statusCell.appendChild(status);
    row.appendChild(statusCell);
    var actions = document.createElement("td");
    actions.className = "actions";
    [["rotate", "Rotate"], ["revoke danger", "Revoke"]].forEach(function (b, i) {
      var button = document.createElement("button");
      button.type = "button";
      button.className = b[0];
      button.setAttribute("data-id", key.id);
      button.setAttribute("data-name", key.name);
      button.setAttribute("data-display", key.display);
      button.textContent = b[1];
      var hint = document.createElement("span");
      hint.className = "sr-only";
      hint.textContent = " " + key.name;
      button.appendChild(hint);
      if (i) { actions.appendChild(document.createTextNode(" ")); }
      actions.appendChild(button);
    });
    row.appendChild(actions);
    table.tBodies[0].appendChild(row);
    table.parentNode.hidden = false;
    var empty = $("no-keys");
    if (empty) { empty.hidden = true; }
  }

  // The once-only panel.
  var panel = $("once");
  var field = $("once-key");
  function showOnce(secret, name) {
    field.value = secret;
    $("once-name").textContent = name ? "(" + name + ")" : "";
    $("copy-status").textContent = "";
    panel.hidden = false;
    panel.focus();
    field.select();
  }
  function forget() {
    if (field) { field.value = ""; }
  }
  if (panel) {
    $("copy").addEventListener("click", function () {
      var done = function () { $("copy-status").textContent = "Copied to the clipboard."; };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(field.value).then(done, function () {
          field.select();
          $("copy-status").textContent = "Copy failed: the key is selected, press Ctrl+C (or ⌘C).";
        });
      } else {
        field.select();
        $("copy-status").textContent = document.execCommand("copy")
          ? "Copied to the clipboard." : "The key is selected: press Ctrl+C (or ⌘C).";
      }
    });
    $("once-done").addEventListener("click", function () {
      forget();
      panel.hidden = true;
      window.location.reload();
    });
    // Leaving the page (or putting it in the back-forward cache) drops the key.
    window.addEventListener("pagehide", forget);
    window.addEventListener("beforeunload", forget);
  }

  // Create.
  var form = $("create-form");
  if (form) {
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var error = $("create-error");
      var name = $("key-name").value.trim();
      var scopes = Array.prototype.map.call(
        form.querySelectorAll('input[name="scopes"]:checked'), function (c) { return c.value; });
      if (!name) { showError(error, "Enter a name for the key."); $("key-name").focus(); return; }
      if (!scopes.length) { showError(error, "Choose at least one permission."); return; }
      showError(error, "");
      var ttl = $("key-expiry").value;
      var button = form.querySelector('button[type="submit"]');
      button.disabled = true;
      call("POST", "/api/keys", { name: name, scopes: scopes, ttl_days: ttl ? Number(ttl) : null })
        .then(function (result) {
          button.disabled = false;
          if (result.status !== 201) { showError(error, problem(result)); return; }
          form.reset();
          addRow(result.body.key);
          showOnce(result.body.secret, result.body.key && result.body.key.name);
        }, function () {
          button.disabled = false;
          showError(error, "The server cannot be reached. Try again.");
        });
    });
  }

  // Revoke and rotate, behind a confirmation dialog.
  var dialog = $("confirm");
  var pending = null;
  function ask(kind, button) {
    pending = { kind: kind, id: button.getAttribute("data-id"), name: button.getAttribute("data-name") };
    var display = button.getAttribute("data-display");
    var rotate = kind === "rotate";
    $("confirm-h").textContent = (rotate ? "Rotate " : "Revoke ") + "“" + pending.name + "”?";
    $("confirm-text").textContent = rotate
      ? "A new key with the same permissions is created and shown once. The old key (" + display + ") keeps working for the time you choose, then stops."
      : "Applications using " + display + " will be refused from now on. This cannot be undone.";
    $("grace-row").hidden = !rotate;
    $("confirm-ok").textContent = rotate ? "Rotate key" : "Revoke key";
    showError($("confirm-error"), "");
    dialog.showModal();
    $("confirm-cancel").focus();
  }
  if (dialog) {
    document.addEventListener("click", function (event) {
      var target = event.target.closest ? event.target.closest("button.revoke, button.rotate") : null;
      if (target) { ask(target.classList.contains("rotate") ? "rotate" : "revoke", target); }
    });
    $("confirm-cancel").addEventListener("click", function () { pending = null; dialog.close(); });
    $("confirm-ok").addEventListener("click", function () {
      if (!pending) { return; }
      var ok = $("confirm-ok");
      ok.disabled = true;
      var path = "/api/keys/" + encodeURIComponent(pending.id) + "/" + pending.kind;
      var body = pending.kind === "rotate" ? { grace_seconds: Number($("grace").value) } : {};
      var name = pending.name;
      call("POST", path, body).then(function (result) {
        ok.disabled = false;
        var expected = pending && pending.kind === "rotate" ? 201 : 200;
        if (result.status !== expected) { showError($("confirm-error"), problem(result)); return; }
        var rotated = pending.kind === "rotate";
        pending = null;
        dialog.close();
        if (rotated) { showOnce(result.body.secret, name); } else { window.location.reload(); }
      }, function () {
        ok.disabled = false;
        showError($("confirm-error"), "The server cannot be reached. Try again.");
      });
    });
  }
})();
