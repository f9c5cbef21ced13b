// Ticket workspace: FAQ and canned answers into the reply, reply or note,
// Ctrl+Enter to send, new messages and other consultants shown live.
(function () {
  "use strict";
  var form = document.getElementById("reply-form");
  var text = document.getElementById("reply-text");
  var conversation = document.getElementById("conversation");
  var ticketId = conversation ? conversation.dataset.ticketId : "";
  var me = document.body.dataset.userId;
  var viewers = document.getElementById("viewers");

  function insert(answer) {
    if (!text) { return; }
    var before = text.value.replace(/\s+$/, "");
    text.value = before ? before + "\n\n" + answer : answer;
    text.focus();
    text.setSelectionRange(text.value.length, text.value.length);
    text.dispatchEvent(new Event("input"));
  }

  document.addEventListener("click", function (e) {
    var button = e.target.closest ? e.target.closest("[data-insert]") : null;
    if (button) { insert(button.dataset.insert); }
  });

  var canned = document.getElementById("canned");
  if (canned) {
    canned.addEventListener("change", function () {
      var option = canned.options[canned.selectedIndex];
      if (option && option.dataset.body) { insert(option.dataset.body); }
      canned.selectedIndex = 0;
    });
  }

  // One form, two destinations: a reply goes to the resident, a note stays here.
  var send = document.getElementById("send-button");
  var options = document.getElementById("reply-options");
  function setMode(mode) {
    if (!form) { return; }
    form.action = "/tickets/" + ticketId + "/" + (mode === "note" ? "note" : "reply");
    form.classList.toggle("note-mode", mode === "note");
    if (send) { send.textContent = mode === "note" ? send.dataset.labelNote : send.dataset.labelReply; }
    if (options) {
      Array.prototype.forEach.call(options.querySelectorAll("select[name]"), function (s) {
        s.disabled = mode === "note";
      });
    }
  }
  Array.prototype.forEach.call(document.querySelectorAll("[data-mode]"), function (radio) {
    radio.addEventListener("change", function () { if (radio.checked) { setMode(radio.value); } });
    if (radio.checked) { setMode(radio.value); }
  });

  var sending = false;
  if (form) {
    form.addEventListener("submit", function (e) {
      if (sending) { e.preventDefault(); return; }
      sending = true;
      if (send) { send.disabled = true; }
    });
  }
  if (text) {
    text.addEventListener("keydown", function (e) {
      if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) {
        e.preventDefault();
        if (form.requestSubmit) { form.requestSubmit(); } else { form.submit(); }
      }
    });
  }
  document.addEventListener("keydown", function (e) {
    var tag = (e.target && e.target.tagName) || "";
    if (e.key === "r" && !e.ctrlKey && !e.metaKey && !/INPUT|TEXTAREA|SELECT/.test(tag) && text) {
      e.preventDefault();
      text.focus();
    }
  });

  // New messages arrive as server-rendered pieces (escaped and sanitised there).
  var loading = false;
  function fetchNew() {
    if (!conversation || loading) { return; }
    loading = true;
    fetch("/tickets/" + ticketId + "/messages?after=" + (conversation.dataset.lastId || "0"),
      { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.text() : ""; })
      .then(function (html) {
        if (!html.trim()) { return; }
        var holder = document.createElement("div");
        holder.innerHTML = html;
        Array.prototype.forEach.call(holder.querySelectorAll("article.msg"), function (node) {
          if (document.getElementById(node.id)) { return; }
          node.classList.add("fresh");
          conversation.appendChild(node);
          conversation.dataset.lastId = node.dataset.messageId;
        });
      })
      .finally(function () { loading = false; });
  }

  document.addEventListener("tanya:ticket", function (e) {
    var ev = e.detail;
    if (String(ev.ticket_id) !== String(ticketId)) { return; }
    if (ev.kind === "message.received" || ev.kind === "message.queued" || ev.kind === "note.added") {
      fetchNew();
    }
    if (ev.kind === "message.queued" && ev.actor_user_id && String(ev.actor_user_id) !== String(me)) {
      window.tanya.notice((ev.actor_name || "?") + " " + (viewers ? viewers.dataset.replied : ""));
    }
  });

  document.addEventListener("tanya:viewers", function (e) {
    if (!viewers || String(e.detail.ticket_id) !== String(ticketId)) { return; }
    var others = (e.detail.viewers || []).filter(function (v) { return String(v.id) !== String(me); });
    var names = others.map(function (v) { return v.name; }).join(", ");
    viewers.textContent = names ? viewers.dataset.label + " " + names : "";
    viewers.classList.toggle("alert", !!names);
    viewers.classList.toggle("warn", !!names);
  });
})();
