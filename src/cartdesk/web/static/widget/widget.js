/* Cartdesk live chat widget: one <script> tag on the store's site.
 *
 *   <script src="https://support.example.com/widget.js" data-brand="northwind" async></script>
 *
 * Optional, before it: window.CartdeskChat = {user: {id, email, name, hash}} for a logged-in
 * shopper (hash = HMAC-SHA256 of the id, or email, with the brand's identity secret).
 *
 * Plain JavaScript in a shadow root, so the shop's styles and ours never meet. Protocol:
 * src/cartdesk/channels/chat/socket.py. Every message has a client id; unacknowledged ones
 * are resent after a reconnect (the server stores each once), and a reconnect resumes from
 * the last seq seen, so nothing is lost or shown twice.
 */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || window.__cartdeskChat) return;
  window.__cartdeskChat = true;
  var BASE = new URL(script.src).origin;
  var BRAND = script.getAttribute("data-brand") || "";
  var OPTS = window.CartdeskChat || {};
  var KEY = "cartdesk-chat:" + BRAND;
  var PING_MS = 25000, TYPING_IDLE_MS = 4000, TYPING_RESEND_MS = 3000;

  var state = {
    token: null, config: null, visitor: null, ws: null, attempts: 0, cursor: 0, open: false,
    seqs: {}, pending: {}, agentRead: 0, readSent: 0, typingSent: 0, typing: false, unread: 0,
    ping: null, typingTimer: null, connected: false, offlineSent: false
  };

  function store(k, v) { try { if (v == null) localStorage.removeItem(KEY + k); else localStorage.setItem(KEY + k, v); } catch (e) { /* private mode */ } }
  function load(k) { try { return localStorage.getItem(KEY + k); } catch (e) { return null; } }

  function api(path, body, method) {
    var headers = { "Content-Type": "application/json" };
    if (state.token) headers.Authorization = "Bearer " + state.token;
    return fetch(BASE + path, {
      method: method || (body ? "POST" : "GET"), headers: headers, credentials: "omit",
      body: body ? JSON.stringify(body) : undefined
    }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (data) {
        if (!r.ok) { var e = new Error((data.error && data.error.message) || ("HTTP " + r.status)); e.status = r.status; throw e; }
        return data;
      });
    });
  }

  // ---- DOM ------------------------------------------------------------------------------------
  function el(tag, attrs, kids) {
    var n = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "text") n.textContent = attrs[k];
      else if (k.slice(0, 2) === "on") n.addEventListener(k.slice(2), attrs[k]);
      else n.setAttribute(k, attrs[k]);
    });
    (kids || []).forEach(function (c) { if (c) n.appendChild(c); });
    return n;
  }

  var host = el("div", { id: "cartdesk-chat" });
  var root = host.attachShadow({ mode: "open" });
  root.appendChild(el("link", { rel: "stylesheet", href: BASE + "/static/widget/widget.css" }));
  var ui = {};

  function build(cfg) {
    var wrap = ui.wrap = el("div", { "class": "cd pos-" + (cfg.position === "left" ? "left" : "right"), style: "--cd:" + cfg.color });
    ui.badge = el("span", { "class": "badge", hidden: "" });
    ui.bubble = el("button", { "class": "bubble", type: "button", "aria-label": "Open chat with " + cfg.brand.name,
      "aria-expanded": "false", "aria-controls": "cd-panel", onclick: toggle },
      [svg("M4 5h16v10H8l-4 4z"), ui.badge]);
    ui.status = el("p", { "class": "status" });
    ui.close = el("button", { "class": "close", type: "button", "aria-label": "Close chat", onclick: toggle }, [svg("M6 6l12 12M18 6L6 18")]);
    var head = el("header", { "class": "head" }, [
      el("div", {}, [el("h2", { id: "cd-title", text: cfg.brand.name }), ui.status]), ui.close]);
    ui.log = el("div", { "class": "log", role: "log", "aria-live": "polite", "aria-label": "Messages" });
    ui.greeting = el("div", { "class": "msg msg-agent greeting" }, [el("p", { text: cfg.greeting })]);
    ui.log.appendChild(ui.greeting);
    ui.typingRow = el("p", { "class": "typing", hidden: "", "aria-live": "polite" });
    ui.seen = el("p", { "class": "seen", hidden: "", text: "Seen" });
    ui.form = prechat(cfg);
    ui.text = el("textarea", { rows: "1", "aria-label": "Message", placeholder: "Write a message…", maxlength: "5000",
      oninput: onInput, onkeydown: onKey });
    ui.file = el("input", { type: "file", accept: "image/png,image/jpeg,image/gif,image/webp,application/pdf", hidden: "", onchange: onFile });
    ui.attach = el("button", { "class": "icon", type: "button", "aria-label": "Attach an image or PDF",
      onclick: function () { ui.file.click(); } }, [svg("M16 8l-7 7a3 3 0 01-4-4l8-8a2 2 0 013 3l-8 8")]);
    ui.send = el("button", { "class": "send", type: "submit", "aria-label": "Send" }, [svg("M4 12l16-8-6 16-2-6z")]);
    ui.composer = el("form", { "class": "composer", onsubmit: onSend }, [ui.attach, ui.file, ui.text, ui.send]);
    ui.transcript = el("button", { "class": "link", type: "button", hidden: "", onclick: onTranscript, text: "Email me this chat" });
    ui.note = el("p", { "class": "note", role: "status" });
    ui.panel = el("section", { "class": "panel", id: "cd-panel", role: "dialog", "aria-labelledby": "cd-title", hidden: "" },
      [head, ui.log, ui.typingRow, ui.seen, ui.form, ui.composer, el("footer", {}, [ui.note, ui.transcript])]);
    ui.panel.addEventListener("keydown", function (e) { if (e.key === "Escape") toggle(); });
    wrap.appendChild(ui.panel);
    wrap.appendChild(ui.bubble);
    root.appendChild(wrap);
    document.body.appendChild(host);
  }

  function svg(d) {
    var ns = "http://www.w3.org/2000/svg", s = document.createElementNS(ns, "svg"), p = document.createElementNS(ns, "path");
    s.setAttribute("viewBox", "0 0 24 24"); s.setAttribute("aria-hidden", "true");
    p.setAttribute("d", d); s.appendChild(p);
    return s;
  }

  function prechat(cfg) {
    var name = el("input", { name: "name", autocomplete: "name", maxlength: "200" });
    var email = el("input", { name: "email", type: "email", autocomplete: "email", maxlength: "320" });
    var question = el("textarea", { name: "body", rows: "3", maxlength: "5000" });
    var offline = !cfg.online;
    if (offline) { email.required = true; question.required = true; }
    var ask = cfg.prechat || { name: true, email: true };
    var kids = [
      el("p", { "class": "intro", text: offline ? cfg.offline_message : "Tell us who you are, or skip and start typing." }),
      ask.name ? el("label", {}, [el("span", { text: "Name (optional)" }), name]) : null,
      (ask.email || offline) ? el("label", {}, [el("span", { text: offline ? "Email" : "Email (optional)" }), email]) : null
    ];
    if (offline) kids.push(el("label", {}, [el("span", { text: "Your question" }), question]));
    kids.push(el("div", { "class": "row" }, [
      el("button", { "class": "primary", type: "submit", text: offline ? "Send" : "Start chat" }),
      offline ? null : el("button", { "class": "link", type: "button", text: "Skip", onclick: function () { showChat(); ui.text.focus(); } })
    ]));
    return el("form", { "class": "prechat", onsubmit: function (e) {
      e.preventDefault();
      var v = email.value.trim(), n = name.value.trim();
      var done = (v || n) ? api("/widget/api/identify", { email: v || null, name: n || null }).then(function (d) { state.visitor = d.visitor; }) : Promise.resolve();
      done.then(function () {
        if (offline) {
          post(question.value.trim());
          state.offlineSent = true;
          note("Thanks! We'll reply to " + v + " as soon as we're back.");
        }
        showChat();
        ui.text.focus();
      }).catch(function (err) { note(err.message); });
    } }, kids);
  }

  function showChat() { ui.form.hidden = true; ui.composer.hidden = false; refreshTranscript(); }
  function note(text) { ui.note.textContent = text || ""; }
  function refreshTranscript() { ui.transcript.hidden = !(state.visitor && state.visitor.email && Object.keys(state.seqs).length); }

  function statusText(cfg) {
    if (cfg.online) return "Online · usually replies in " + cfg.reply_time;
    if (!cfg.in_business_hours) return "Closed now · we'll reply by email";
    return "Away · we'll reply by email";
  }

  function toggle() {
    state.open = !state.open;
    ui.panel.hidden = !state.open;
    ui.wrap.classList.toggle("is-open", state.open);
    ui.bubble.setAttribute("aria-expanded", String(state.open));
    ui.bubble.setAttribute("aria-label", (state.open ? "Close" : "Open") + " chat with " + state.config.brand.name);
    if (state.open) {
      state.unread = 0; badge();
      (ui.form.hidden ? ui.text : ui.form.querySelector("input")).focus();
      scrollDown(); markRead();
    } else ui.bubble.focus();
    store(":open", state.open ? "1" : null);
  }

  function badge() { ui.badge.hidden = !state.unread; ui.badge.textContent = state.unread > 9 ? "9+" : String(state.unread); }
  function scrollDown() { ui.log.scrollTop = ui.log.scrollHeight; }

  function render(m) {
    if (state.seqs[m.seq]) return;
    state.seqs[m.seq] = m;
    var mine = m.author === "visitor";
    var node = (m.client_id && state.pending[m.client_id] && state.pending[m.client_id].node) || el("div");
    if (m.client_id) delete state.pending[m.client_id];
    node.className = "msg " + (mine ? "msg-me" : "msg-agent");
    node.dataset.seq = m.seq;
    node.replaceChildren();
    if (!mine && m.name) node.appendChild(el("span", { "class": "who", text: m.name }));
    if (m.body && m.body !== "(attachment)") node.appendChild(el("p", { text: m.body }));
    (m.attachments || []).forEach(function (a) {
      var url = BASE + "/widget/api/attachments/" + a.id + "?token=" + encodeURIComponent(state.token);
      node.appendChild(a.content_type.indexOf("image/") === 0
        ? el("img", { src: url, alt: a.filename, "class": "att" })
        : el("a", { href: url, target: "_blank", rel: "noopener", "class": "file", text: a.filename }));
    });
    if (m.via === "email") node.appendChild(el("span", { "class": "via", text: "Also sent by email" }));
    var after = null;
    Array.prototype.some.call(ui.log.querySelectorAll("[data-seq]"), function (n) {
      if (Number(n.dataset.seq) > m.seq) { after = n; return true; } return false;
    });
    if (!node.parentNode || after) ui.log.insertBefore(node, after);
    if (!mine) {
      setTyping(false);
      if (!state.open) { state.unread += 1; badge(); }
    }
    ui.seen.hidden = true;
    scrollDown();
    refreshTranscript();
  }

  function showPending(clientId, body) {
    var node = el("div", { "class": "msg msg-me is-pending" }, [el("p", { text: body || "…" })]);
    ui.log.appendChild(node);
    state.pending[clientId].node = node;
    scrollDown();
  }

  function setTyping(on, name) {
    ui.typingRow.hidden = !on;
    ui.typingRow.textContent = on ? (name || "Someone") + " is typing…" : "";
  }

  function markRead() {
    if (!state.open || document.hidden) return;
    var top = 0;
    Object.keys(state.seqs).forEach(function (s) { if (state.seqs[s].author !== "visitor") top = Math.max(top, Number(s)); });
    if (top > state.readSent) { state.readSent = top; send({ type: "read", seq: top }); }
  }

  function showSeen() {
    var last = 0;
    Object.keys(state.seqs).forEach(function (s) { if (state.seqs[s].author === "visitor") last = Math.max(last, Number(s)); });
    ui.seen.hidden = !(last && state.agentRead >= last);
  }

  // ---- sending ---------------------------------------------------------------------------------
  function uid() { return Date.now().toString(36) + Math.random().toString(36).slice(2, 10); }

  function send(frame) {
    if (state.ws && state.ws.readyState === 1) { state.ws.send(JSON.stringify(frame)); return true; }
    return false;
  }

  function post(body, attachmentIds) {
    var id = uid();
    var frame = { type: "message", client_id: id, body: body || "", attachment_ids: attachmentIds || [] };
    state.pending[id] = { frame: frame };
    showPending(id, body || "(attachment)");
    send(frame);  // or resent after the next connect
  }

  function onSend(e) {
    e.preventDefault();
    var body = ui.text.value.trim();
    if (!body) return;
    ui.text.value = "";
    post(body);
    typing(false);
  }

  function onKey(e) {
    if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); ui.composer.requestSubmit(); }
  }

  function typing(on) {
    var now = Date.now();
    if (on === state.typing && (!on || now - state.typingSent < TYPING_RESEND_MS)) return;
    state.typing = on; state.typingSent = now;
    send({ type: "typing", typing: on });
  }

  function onInput() {
    typing(true);
    clearTimeout(state.typingTimer);
    state.typingTimer = setTimeout(function () { typing(false); }, TYPING_IDLE_MS);
  }

  function onFile() {
    var file = ui.file.files[0];
    ui.file.value = "";
    if (!file) return;
    if (file.size > 10 * 1024 * 1024) { note("Files can be up to 10 MB."); return; }
    var data = new FormData();
    data.append("file", file);
    note("Uploading " + file.name + "…");
    fetch(BASE + "/widget/api/attachments", { method: "POST", body: data, credentials: "omit",
      headers: { Authorization: "Bearer " + state.token } })
      .then(function (r) { return r.json().then(function (d) { if (!r.ok) throw new Error(d.error ? d.error.message : "Upload failed"); return d; }); })
      .then(function (a) { note(""); post("", [a.id]); })
      .catch(function (err) { note(err.message); });
  }

  function onTranscript() {
    api("/widget/api/transcript", {}).then(function (d) { note("Sent to " + d.email + "."); })
      .catch(function (err) { note(err.message); });
  }

  // ---- the socket --------------------------------------------------------------------------------
  function connect() {
    var url = BASE.replace(/^http/, "ws") + "/widget/ws?token=" + encodeURIComponent(state.token) + "&after=" + state.cursor;
    var ws;
    try { ws = new WebSocket(url); } catch (e) { retry(); return; }
    state.ws = ws;
    ws.onopen = function () {
      state.attempts = 0; state.connected = true;
      host.dataset.state = "live";
      send({ type: "page", url: location.href, title: document.title });
      Object.keys(state.pending).forEach(function (id) { send(state.pending[id].frame); });
      state.ping = setInterval(function () { send({ type: "ping" }); }, PING_MS);
    };
    ws.onmessage = function (e) {
      var f; try { f = JSON.parse(e.data); } catch (err) { return; }
      if (f.type === "hello") { state.agentRead = f.agent_read_seq || 0; }
      else if (f.type === "message") { render(f); state.cursor = Math.max(state.cursor, f.seq); markRead(); showSeen(); }
      else if (f.type === "synced") { state.cursor = Math.max(state.cursor, f.seq); showSeen(); }
      else if (f.type === "typing") setTyping(f.typing, f.name);
      else if (f.type === "read") { state.agentRead = Math.max(state.agentRead, f.seq || 0); showSeen(); }
      else if (f.type === "ack") { var p = state.pending[f.client_id]; if (p && p.node) p.node.classList.remove("is-pending"); }
      else if (f.type === "error") {
        note(f.message);
        if (f.client_id && f.code !== "rate_limited") { var q = state.pending[f.client_id]; if (q && q.node) q.node.classList.add("is-failed"); delete state.pending[f.client_id]; }
      }
    };
    ws.onclose = function (e) {
      clearInterval(state.ping);
      state.ws = null; state.connected = false;
      host.dataset.state = "offline";
      if (e.code === 4401) { state.token = null; store(":token", null); start(); return; }
      retry();
    };
  }

  function retry() {
    // Exponential backoff with jitter: a restarted server is not stampeded by every shop's visitors.
    var delay = Math.min(30000, 1000 * Math.pow(2, state.attempts)) * (0.5 + Math.random() / 2);
    state.attempts += 1;
    setTimeout(connect, delay);
  }

  function start() {
    api("/widget/api/session", { brand: BRAND, token: state.token, user: OPTS.user || null, url: location.href, title: document.title })
      .catch(function (err) {
        if (err.status === 401 && state.token) { state.token = null; store(":token", null); return start(); }
        throw err;
      })
      .then(function (d) {
        if (!d) return;
        state.token = d.token; store(":token", d.token);
        state.visitor = d.visitor;
        var first = !state.config;
        state.config = d.config;
        if (!d.config.enabled) return;
        if (first) {
          build(d.config);
          ui.status.textContent = statusText(d.config);
          // A returning visitor goes straight to the chat; a new one sees the short pre-chat form.
          var ask = d.config.prechat || {}, noForm = !ask.name && !ask.email;
          if (d.visitor.conversation_id || ((d.visitor.email || noForm) && d.config.online)) showChat();
          else ui.composer.hidden = true;
          if (load(":open")) toggle();
          document.addEventListener("visibilitychange", markRead);
        }
        connect();
      })
      .catch(function () { setTimeout(start, 5000); });
  }

  state.token = load(":token");
  if (document.body) start(); else document.addEventListener("DOMContentLoaded", start);
})();
