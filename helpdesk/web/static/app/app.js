// Shared by every staff page: CSRF for scripts, confirmations, keyboard
// shortcuts and the live event stream. No inline scripts anywhere (CSP).
(function () {
  "use strict";
  var csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";

  function post(url, fields) {
    var body = new URLSearchParams(fields || {});
    return fetch(url, {
      method: "POST", body: body, credentials: "same-origin",
      headers: { "X-CSRF-Token": csrf, "Accept": "application/json" }
    });
  }

  var noticeTimer = null;
  function notice(text) {
    var box = document.getElementById("live-notice");
    if (!box) { return; }
    box.textContent = text;
    box.hidden = false;
    clearTimeout(noticeTimer);
    noticeTimer = setTimeout(function () { box.hidden = true; }, 8000);
  }

  window.tanya = { csrf: csrf, post: post, notice: notice };

  // Forms that discard or merge ask first.
  document.addEventListener("submit", function (e) {
    var form = e.target;
    if (form.dataset && form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
      e.preventDefault();
    }
  });

  function typing(target) {
    var tag = (target && target.tagName) || "";
    return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || (target && target.isContentEditable);
  }

  // "/" jumps to the page's search box; Escape leaves a field.
  document.addEventListener("keydown", function (e) {
    if (e.ctrlKey || e.metaKey || e.altKey) { return; }
    if (e.key === "Escape" && typing(e.target)) { e.target.blur(); return; }
    if (typing(e.target)) { return; }
    if (e.key === "/") {
      var search = document.querySelector("[data-search]");
      if (search) { e.preventDefault(); search.focus(); search.select(); }
    }
  });

  // One stream per tab; the server ends it now and then and the browser
  // reconnects, which also re-checks the session.
  var body = document.body;
  if (!body.dataset.userId || !window.EventSource) { return; }
  var conversation = document.getElementById("conversation");
  var ticketId = conversation ? conversation.dataset.ticketId : "";
  var url = "/live" + (ticketId ? "?ticket=" + encodeURIComponent(ticketId) : "");
  var dot = document.getElementById("live-status");
  var source = new EventSource(url);
  source.onopen = function () { if (dot) { dot.className = "live-dot on"; } };
  source.onerror = function () { if (dot) { dot.className = "live-dot off"; } };
  ["ticket", "viewers"].forEach(function (kind) {
    source.addEventListener(kind, function (msg) {
      var data;
      try { data = JSON.parse(msg.data); } catch (err) { return; }
      document.dispatchEvent(new CustomEvent("tanya:" + kind, { detail: data }));
    });
  });
})();
