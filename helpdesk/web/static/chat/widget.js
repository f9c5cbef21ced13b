/*
 * Tanya PTSP web chat widget.
 *
 * Embed on any page with one tag:
 *   <script src="https://HOST/widget.js" defer></script>
 * With data-mode="page" and an element #tanya-chat-root the chat fills that
 * element instead of floating (the /chat page does this).
 *
 * Plain JavaScript, no build step. Every piece of text from a resident, a
 * consultant or the FAQ is put into the page with textContent (or as the text
 * of a link whose address is checked to be http/https), never parsed as HTML.
 * The widget lives in a shadow root so the host page's styles and ours do not
 * mix.
 */
(function () {
  "use strict";

  var script = document.currentScript;
  if (!script || window.__tanyaPtspChat) { return; }
  window.__tanyaPtspChat = true;

  var BASE = script.src.replace(/widget\.js(?:[?#].*)?$/, "");
  var SOCKET_URL = BASE.replace(/^http/, "ws") + "chat/ws";
  var STORE_KEY = "tanya-ptsp-chat:" + BASE;
  var PAGE_MODE = script.getAttribute("data-mode") === "page";

  var T = {
    title: "Tanya PTSP",
    subtitle: "Konsultasi perizinan & nonperizinan · 1500164",
    open: "Tanya PTSP",
    close: "Tutup obrolan",
    placeholder: "Ketik pertanyaan Anda...",
    send: "Kirim",
    attach: "Lampirkan berkas",
    removeFile: "Hapus lampiran",
    connecting: "Menghubungkan...",
    reconnecting: "Koneksi terputus. Menghubungkan ulang...",
    online: "Terhubung",
    offline: "Anda sedang luring. Pesan akan dikirim saat tersambung.",
    sending: "Mengirim...",
    failed: "Gagal terkirim",
    suggestTitle: "Mungkin ini jawaban yang Anda cari:",
    suggestHint: "Belum terjawab? Kirim pertanyaan Anda ke petugas.",
    profile: "Data diri (opsional)",
    name: "Nama",
    contact: "Email atau nomor HP",
    save: "Simpan",
    saved: "Tersimpan. Data ini dikirim bersama pesan berikutnya.",
    welcome: "Halo! Silakan tulis pertanyaan Anda tentang perizinan atau nonperizinan. " +
      "Petugas kami akan membalas di sini.",
    you: "Anda",
    agent: "Petugas PTSP",
    bot: "Asisten otomatis",
    ticket: "Nomor tiket: ",
    fileType: "Jenis berkas tidak diterima.",
    fileSize: "Berkas terlalu besar.",
    tooLong: "Pesan terlalu panjang.",
  };

  var limits = {
    max_message_chars: 2000,
    attachment_max_bytes: 5242880,
    attachment_types: ["image/png", "image/jpeg", "application/pdf"],
  };

  // -- durable state: the token, the profile, unsent messages -----------------
  function load() {
    try {
      var raw = window.localStorage.getItem(STORE_KEY);
      var data = raw ? JSON.parse(raw) : {};
      return (data && typeof data === "object") ? data : {};
    } catch (e) {
      return {};
    }
  }
  var state = load();
  state.pending = Array.isArray(state.pending) ? state.pending : [];
  state.profile = state.profile || {};
  function save() {
    try {
      // Attachments stay in memory only: localStorage is small.
      var copy = {
        token: state.token || null, profile: state.profile, profileSent: state.profileSent || "",
        open: !!state.open,
        pending: state.pending.filter(function (m) { return !m.attachment; }),
      };
      window.localStorage.setItem(STORE_KEY, JSON.stringify(copy));
    } catch (e) { /* private mode: the chat still works for this page view */ }
  }

  function newId() {
    var bytes = new Uint8Array(12);
    window.crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) {
      return ("0" + b.toString(16)).slice(-2);
    }).join("");
  }

  // -- DOM helpers (text only) -------------------------------------------------
  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    return node;
  }

  var URL_RE = /\bhttps?:\/\/[^\s<>"']+[^\s<>"'.,;:!?)]/g;

  // Consultants and FAQ answers often carry links; make those clickable, the
  // rest stays text. Residents' words are never linkified.
  function appendText(parent, text, linkify) {
    if (!linkify) { parent.textContent = text; return; }
    var last = 0;
    text.replace(URL_RE, function (match, offset) {
      parent.appendChild(document.createTextNode(text.slice(last, offset)));
      var link = el("a", "tpc-link", match);
      try {
        var url = new URL(match);
        if (url.protocol === "http:" || url.protocol === "https:") {
          link.href = url.href;
          link.target = "_blank";
          link.rel = "noopener noreferrer";
        }
      } catch (e) { /* left as plain text in an <a> without href */ }
      parent.appendChild(link);
      last = offset + match.length;
      return match;
    });
    parent.appendChild(document.createTextNode(text.slice(last)));
  }

  function timeOf(iso) {
    var d = new Date(iso);
    if (isNaN(d.getTime())) { return ""; }
    try {
      return d.toLocaleTimeString("id-ID", {
        hour: "2-digit", minute: "2-digit", timeZone: "Asia/Jakarta",
      });
    } catch (e) {
      return d.toLocaleTimeString();
    }
  }

  // -- building the widget -----------------------------------------------------
  var host = PAGE_MODE ? document.getElementById("tanya-chat-root") : null;
  if (!host) {
    PAGE_MODE = false;
    host = el("div");
    host.id = "tanya-ptsp-chat";
    document.body.appendChild(host);
  }
  var root = host.attachShadow ? host.attachShadow({ mode: "open" }) : host;
  var css = el("link");
  css.rel = "stylesheet";
  css.href = BASE + "chat/widget.css";
  root.appendChild(css);

  var frame = el("div", "tpc-frame" + (PAGE_MODE ? " tpc-inline" : " tpc-floating"));
  root.appendChild(frame);

  var launcher = null;
  if (!PAGE_MODE) {
    launcher = el("button", "tpc-launcher", T.open);
    launcher.type = "button";
    launcher.setAttribute("aria-expanded", "false");
    frame.appendChild(launcher);
  }

  var panel = el("section", "tpc-panel");
  panel.setAttribute("aria-label", T.title);
  panel.hidden = !PAGE_MODE;
  frame.appendChild(panel);

  var header = el("header", "tpc-header");
  var heading = el("div", "tpc-heading");
  heading.appendChild(el("strong", "tpc-title", T.title));
  heading.appendChild(el("span", "tpc-subtitle", T.subtitle));
  var ticketLine = el("span", "tpc-ticket");
  heading.appendChild(ticketLine);
  header.appendChild(heading);
  if (!PAGE_MODE) {
    var closer = el("button", "tpc-close", "×");
    closer.type = "button";
    closer.setAttribute("aria-label", T.close);
    closer.addEventListener("click", function () { toggle(false); });
    header.appendChild(closer);
  }
  panel.appendChild(header);

  var status = el("div", "tpc-status", T.connecting);
  status.setAttribute("role", "status");
  status.setAttribute("aria-live", "polite");
  panel.appendChild(status);

  var log = el("div", "tpc-log");
  log.setAttribute("role", "log");
  log.setAttribute("aria-live", "polite");
  log.appendChild(el("div", "tpc-line tpc-bot tpc-welcome", T.welcome));
  panel.appendChild(log);

  var suggestions = el("div", "tpc-suggestions");
  suggestions.hidden = true;
  panel.appendChild(suggestions);

  var details = el("details", "tpc-profile");
  details.appendChild(el("summary", null, T.profile));
  var nameInput = el("input", "tpc-input-name");
  nameInput.type = "text";
  nameInput.maxLength = 100;
  nameInput.placeholder = T.name;
  nameInput.setAttribute("aria-label", T.name);
  nameInput.autocomplete = "name";
  var contactInput = el("input", "tpc-input-contact");
  contactInput.type = "text";
  contactInput.maxLength = 120;
  contactInput.placeholder = T.contact;
  contactInput.setAttribute("aria-label", T.contact);
  var saveProfile = el("button", "tpc-save", T.save);
  saveProfile.type = "button";
  details.appendChild(nameInput);
  details.appendChild(contactInput);
  details.appendChild(saveProfile);
  panel.appendChild(details);
  nameInput.value = state.profile.name || "";
  contactInput.value = state.profile.email || state.profile.phone || "";

  var form = el("form", "tpc-form");
  var fileChip = el("div", "tpc-file");
  fileChip.hidden = true;
  var input = el("textarea", "tpc-input");
  input.rows = 2;
  input.placeholder = T.placeholder;
  input.setAttribute("aria-label", T.placeholder);
  var fileInput = el("input", "tpc-file-input");
  fileInput.type = "file";
  fileInput.hidden = true;
  var attach = el("button", "tpc-attach", "📎");
  attach.type = "button";
  attach.title = T.attach;
  attach.setAttribute("aria-label", T.attach);
  var sendButton = el("button", "tpc-send", T.send);
  sendButton.type = "submit";
  form.appendChild(fileChip);
  form.appendChild(input);
  form.appendChild(fileInput);
  form.appendChild(attach);
  form.appendChild(sendButton);
  panel.appendChild(form);

  // -- the conversation ----------------------------------------------------------
  var lastSeq = 0;
  var seen = {};
  var pendingNodes = {};
  var chosenFile = null;

  function scrollDown() { log.scrollTop = log.scrollHeight; }

  function lineNode(kind, text, meta, linkify) {
    var node = el("div", "tpc-line tpc-" + kind);
    if (meta) { node.appendChild(el("div", "tpc-meta", meta)); }
    var body = el("div", "tpc-text");
    appendText(body, text, linkify);
    node.appendChild(body);
    return node;
  }

  function firstPending() {
    return log.querySelector(".tpc-pending");
  }

  function disableOldButtons() {
    var buttons = log.querySelectorAll(".tpc-choice");
    for (var i = 0; i < buttons.length; i++) { buttons[i].disabled = true; }
  }

  function showLine(f) {
    if (typeof f.seq !== "number" || seen[f.seq]) { return; }
    seen[f.seq] = true;
    if (f.seq > lastSeq) { lastSeq = f.seq; }
    var kind = f.from === "resident" ? "resident" : (f.from === "bot" ? "bot" : "agent");
    var who = kind === "resident" ? T.you : (kind === "bot" ? T.bot : (f.author || T.agent));
    var node = lineNode(kind, f.text || "", who + " · " + timeOf(f.at), kind !== "resident");
    node.setAttribute("data-seq", String(f.seq));
    (f.attachments || []).forEach(function (a) {
      node.appendChild(el("div", "tpc-attachment", "📄 " + a.name));
    });
    if (kind === "resident") { disableOldButtons(); }
    if (f.buttons && f.buttons.length) {
      var row = el("div", "tpc-buttons");
      f.buttons.forEach(function (b) {
        var choice = el("button", "tpc-choice", b.label);
        choice.type = "button";
        choice.addEventListener("click", function () { choose(b, row); });
        row.appendChild(choice);
      });
      node.appendChild(row);
    }
    var mine = f.id && pendingNodes[f.id];
    if (mine) {
      log.replaceChild(node, mine);
      delete pendingNodes[f.id];
      dropPending(f.id);
    } else {
      var before = firstPending();
      if (before) { log.insertBefore(node, before); } else { log.appendChild(node); }
    }
    scrollDown();
  }

  function showPending(msg) {
    var text = msg.text || (msg.attachment ? "📄 " + msg.attachment.name : "");
    var node = lineNode("resident", text, T.you + " · " + T.sending, false);
    node.classList.add("tpc-pending");
    pendingNodes[msg.id] = node;
    log.appendChild(node);
    scrollDown();
  }

  function markFailed(id, reason) {
    var node = pendingNodes[id];
    dropPending(id);
    if (!node) { return; }
    node.classList.remove("tpc-pending");
    node.classList.add("tpc-failed");
    var meta = node.querySelector(".tpc-meta");
    if (meta) { meta.textContent = T.failed + ": " + reason; }
    delete pendingNodes[id];
  }

  function dropPending(id) {
    state.pending = state.pending.filter(function (m) { return m.id !== id; });
    save();
  }

  // -- the socket -------------------------------------------------------------------
  var socket = null;
  var ready = false;
  var attempt = 0;
  var retryTimer = null;
  var pingTimer = null;
  var resendTimer = null;
  var started = false;

  function setStatus(text, kind) {
    status.textContent = text;
    status.className = "tpc-status" + (kind ? " tpc-status-" + kind : "");
  }

  function connect() {
    started = true;
    if (socket) { return; }
    clearTimeout(retryTimer);
    setStatus(attempt ? T.reconnecting : T.connecting, "wait");
    var ws;
    try {
      ws = new WebSocket(SOCKET_URL);
    } catch (e) {
      scheduleReconnect();
      return;
    }
    socket = ws;
    ws.onopen = function () {
      ws.send(JSON.stringify({ type: "hello", token: state.token || null, after: lastSeq }));
    };
    ws.onmessage = function (event) {
      var f;
      try { f = JSON.parse(event.data); } catch (e) { return; }
      if (f && typeof f === "object") { handle(f); }
    };
    ws.onclose = function () {
      if (socket === ws) { socket = null; }
      ready = false;
      clearInterval(pingTimer);
      scheduleReconnect();
    };
  }

  function scheduleReconnect() {
    clearTimeout(retryTimer);
    // Exponential backoff with jitter, so a restarted server is not stormed.
    var delay = Math.min(30000, 1000 * Math.pow(2, attempt)) * (0.5 + Math.random() / 2);
    attempt += 1;
    setStatus(navigator.onLine === false ? T.offline : T.reconnecting, "wait");
    retryTimer = setTimeout(connect, delay);
  }

  function sendFrame(f) {
    if (!ready || !socket) { return false; }
    socket.send(JSON.stringify(f));
    return true;
  }

  function handle(f) {
    if (f.type === "ready") {
      if (f.token) { state.token = f.token; save(); }
      if (f.limits) { limits = f.limits; }
      ready = true;
      attempt = 0;
      setStatus(T.online, "ok");
      setTicket(f.ticket);
      clearInterval(pingTimer);
      // Proxies close quiet connections; a ping now and then keeps it open.
      pingTimer = setInterval(function () { sendFrame({ type: "ping" }); }, 25000);
      resendPending();
    } else if (f.type === "message") {
      showLine(f);
    } else if (f.type === "ack") {
      setTicket(f.ticket);
      var msg = state.pending.filter(function (m) { return m.id === f.id; })[0];
      if (msg && msg.profile) { state.profileSent = JSON.stringify(msg.profile); }
      if (pendingNodes[f.id]) {
        var meta = pendingNodes[f.id].querySelector(".tpc-meta");
        if (meta) { meta.textContent = T.you; }
      }
      dropPending(f.id);
    } else if (f.type === "error") {
      handleError(f);
    }
  }

  function handleError(f) {
    if (f.code === "bad_token") {
      // A token this server cannot use: start a fresh conversation.
      state.token = null;
      save();
      return;
    }
    if (f.id && pendingNodes[f.id]) {
      if (f.code === "rate_limited" || f.code === "server_error") {
        setStatus(f.message, "warn");
        clearTimeout(resendTimer);
        var wait = f.code === "rate_limited" ? (f.retry_after || 5) : 5;
        resendTimer = setTimeout(resendPending, wait * 1000);
        return;
      }
      markFailed(f.id, f.message);
      return;
    }
    setStatus(f.message || T.failed, "warn");
  }

  function resendPending() {
    // The server recognises a resend by its id, so sending twice stores once.
    state.pending.forEach(function (msg) {
      if (!pendingNodes[msg.id]) { showPending(msg); }
      sendFrame(msg);
    });
  }

  function setTicket(number) {
    ticketLine.textContent = number ? T.ticket + number : "";
  }

  function choose(button, row) {
    var buttons = row.querySelectorAll("button");
    for (var i = 0; i < buttons.length; i++) { buttons[i].disabled = true; }
    var ok = sendFrame({ type: "button", id: newId(), label: button.label, data: button.data });
    if (!ok) {
      for (var j = 0; j < buttons.length; j++) { buttons[j].disabled = false; }
      setStatus(T.reconnecting, "wait");
    }
  }

  // -- writing ----------------------------------------------------------------------
  function currentProfile() {
    var profile = {};
    var name = nameInput.value.trim();
    var contact = contactInput.value.trim();
    if (name) { profile.name = name; }
    if (contact.indexOf("@") >= 0) { profile.email = contact; } else if (contact) {
      profile.phone = contact;
    }
    return profile;
  }

  saveProfile.addEventListener("click", function () {
    state.profile = currentProfile();
    save();
    setStatus(T.saved, "ok");
    details.open = false;
  });

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = input.value.trim();
    if (!text && !chosenFile) { return; }
    if (text.length > limits.max_message_chars) {
      setStatus(T.tooLong + " (" + text.length + "/" + limits.max_message_chars + ")", "warn");
      return;
    }
    var msg = { type: "message", id: newId(), text: text };
    var profileText = JSON.stringify(state.profile || {});
    if (profileText !== "{}" && profileText !== state.profileSent) {
      msg.profile = state.profile;
    }
    if (chosenFile) { msg.attachment = chosenFile; }
    state.pending.push(msg);
    save();
    showPending(msg);
    input.value = "";
    clearFile();
    hideSuggestions();
    if (!sendFrame(msg) && !socket) { connect(); }
  });

  input.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit ? form.requestSubmit() : sendButton.click();
    }
  });

  attach.addEventListener("click", function () {
    fileInput.accept = (limits.attachment_types || []).join(",");
    fileInput.click();
  });

  fileInput.addEventListener("change", function () {
    var file = fileInput.files && fileInput.files[0];
    fileInput.value = "";
    if (!file) { return; }
    if ((limits.attachment_types || []).indexOf(file.type) < 0) {
      setStatus(T.fileType, "warn");
      return;
    }
    if (file.size > limits.attachment_max_bytes) {
      setStatus(T.fileSize, "warn");
      return;
    }
    var reader = new FileReader();
    reader.onload = function () {
      var data = String(reader.result || "");
      chosenFile = { name: file.name, type: file.type, data: data.slice(data.indexOf(",") + 1) };
      fileChip.textContent = "";
      fileChip.appendChild(el("span", "tpc-file-name", "📄 " + file.name));
      var remove = el("button", "tpc-file-remove", "×");
      remove.type = "button";
      remove.setAttribute("aria-label", T.removeFile);
      remove.addEventListener("click", clearFile);
      fileChip.appendChild(remove);
      fileChip.hidden = false;
    };
    reader.readAsDataURL(file);
  });

  function clearFile() {
    chosenFile = null;
    fileChip.textContent = "";
    fileChip.hidden = true;
  }

  // -- FAQ answers while typing: the first chance to answer without a consultant --
  var suggestTimer = null;
  var suggestRound = 0;
  var lastQuery = "";

  input.addEventListener("input", function () {
    clearTimeout(suggestTimer);
    suggestTimer = setTimeout(suggest, 350);
  });

  function suggest() {
    var query = input.value.trim();
    if (query.length < 4) { hideSuggestions(); lastQuery = ""; return; }
    if (query === lastQuery) { return; }
    lastQuery = query;
    var round = ++suggestRound;
    var url = BASE + "api/v1/suggest?limit=3&q=" + encodeURIComponent(query.slice(0, 500));
    window.fetch(url, { credentials: "omit" })
      .then(function (response) { return response.ok ? response.json() : []; })
      .then(function (list) {
        if (round === suggestRound && input.value.trim() === query) { showSuggestions(list); }
      })
      .catch(function () { /* suggestions are a bonus; the chat works without them */ });
  }

  function showSuggestions(list) {
    suggestions.textContent = "";
    if (!Array.isArray(list) || !list.length) { suggestions.hidden = true; return; }
    suggestions.appendChild(el("div", "tpc-suggest-title", T.suggestTitle));
    list.forEach(function (item) {
      var entry = el("details", "tpc-suggestion");
      entry.appendChild(el("summary", "tpc-suggest-question", item.question));
      var answer = el("div", "tpc-suggest-answer");
      appendText(answer, String(item.answer || ""), true);
      entry.appendChild(answer);
      suggestions.appendChild(entry);
    });
    suggestions.appendChild(el("div", "tpc-suggest-hint", T.suggestHint));
    suggestions.hidden = false;
  }

  function hideSuggestions() {
    suggestRound += 1;
    suggestions.hidden = true;
    suggestions.textContent = "";
  }

  // -- opening and closing ----------------------------------------------------------
  function toggle(open) {
    panel.hidden = !open;
    state.open = open;
    save();
    if (launcher) {
      launcher.setAttribute("aria-expanded", open ? "true" : "false");
      launcher.hidden = open;
    }
    if (open) {
      if (!started) { connect(); }
      input.focus();
    }
  }

  if (launcher) {
    launcher.addEventListener("click", function () { toggle(true); });
  }

  window.addEventListener("online", function () {
    if (started && !socket) { attempt = 0; connect(); }
  });

  if (PAGE_MODE) {
    connect();
  } else if (state.open && state.token) {
    toggle(true);
  }
})();
