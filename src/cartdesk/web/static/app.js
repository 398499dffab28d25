/* Cartdesk agent app: live updates, presence, keyboard shortcuts and small comforts.
 *
 * Plain JavaScript, no build step. The server renders every piece of HTML; this file
 * only decides *when* to ask for it again (htmx does the asking and swapping) and
 * keeps the WebSocket at /realtime/ws open.
 *
 * Realtime protocol (see src/cartdesk/realtime/routes.py):
 *   server → client  {type:"event", event:{verb, conversation_id, actor, ...}}
 *                    {type:"presence", conversation_id, viewers:[{user_id, name, initials, typing}]}
 *                    {type:"pong"}
 *   client → server  {type:"view"|"leave", conversation_id}, {type:"typing", conversation_id, typing}, {type:"ping"}
 */
(function () {
  "use strict";

  const body = document.body;
  const me = Number(body.dataset.userId);
  const $ = (selector, root) => (root || document).querySelector(selector);
  const $$ = (selector, root) => Array.from((root || document).querySelectorAll(selector));

  const VIEW_HEARTBEAT_MS = 10000; // the server forgets a viewer after 30 s without one
  const PING_MS = 25000;
  const TYPING_IDLE_MS = 4000; // "stopped typing" after this long without a keystroke
  const TYPING_RESEND_MS = 5000; // the server drops a typing flag after 10 s
  const REFRESH_DEBOUNCE_MS = 250; // one reply is several events: fetch once

  function conversationId() {
    const page = $("#conversation-page");
    return page ? Number(page.dataset.conversationId) : null;
  }

  // ---- small UI helpers ------------------------------------------------------------------

  function toast(text, kind) {
    const box = $("#toasts");
    if (!box) return;
    const el = document.createElement("div");
    el.className = "toast" + (kind ? " toast-" + kind : "");
    el.textContent = text;
    box.appendChild(el);
    dismissLater(el);
  }

  function dismissLater(el) {
    setTimeout(() => {
      el.classList.add("is-leaving");
      setTimeout(() => el.remove(), 300);
    }, 5000);
  }

  // The same hue the server picks (templating.avatar_hue), so a person keeps one colour.
  function hue(text) {
    let h = 0;
    for (let i = 0; i < text.length; i++) h = (Math.imul(h, 31) + text.charCodeAt(i)) >>> 0;
    return h % 360;
  }

  function avatar(viewer, size) {
    const el = document.createElement("span");
    el.className = "avatar " + size + (viewer.typing ? " is-typing" : "");
    el.style.setProperty("--hue", hue(viewer.name));
    el.textContent = viewer.initials;
    el.title = viewer.name + (viewer.typing ? " is typing" : " is viewing");
    return el;
  }

  function relTime(iso, now) {
    const then = new Date(iso);
    const s = (now - then) / 1000;
    if (s < 60) return "now";
    if (s < 3600) return Math.floor(s / 60) + "m";
    if (s < 86400) return Math.floor(s / 3600) + "h";
    if (s < 172800) return "Yesterday";
    if (s < 604800) return Math.floor(s / 86400) + "d";
    const opts = { month: "short", day: "numeric", timeZone: "UTC" };
    if (then.getUTCFullYear() !== now.getUTCFullYear()) opts.year = "numeric";
    return then.toLocaleDateString("en-US", opts);
  }

  function refreshTimes() {
    const now = new Date();
    $$("time[data-rel]").forEach((t) => { t.textContent = relTime(t.getAttribute("datetime"), now); });
  }

  // ---- the thread: keep the newest message in view ----------------------------------------

  function threadNearBottom() {
    const thread = $("#thread");
    return !thread || thread.scrollHeight - thread.scrollTop - thread.clientHeight < 160;
  }

  function scrollThreadToBottom() {
    const thread = $("#thread");
    if (thread) thread.scrollTop = thread.scrollHeight;
  }

  function messageIds() {
    return new Set($$("#thread [data-message-id]").map((m) => m.dataset.messageId));
  }

  // ---- refreshing parts of the page (htmx does the request and the swap) -------------------

  const refresh = { timer: null, running: false, again: false, loadedMore: false };

  function scheduleRefresh() {
    clearTimeout(refresh.timer);
    refresh.timer = setTimeout(runRefresh, REFRESH_DEBOUNCE_MS);
  }

  function runRefresh() {
    if (refresh.running) { refresh.again = true; return; }
    // An agent's own action (status, assign, reply …) is in flight: its response swaps the
    // same parts of the page, and two swaps of one part racing can leave it twice. Wait for
    // it; its commit sends an event that asks for this refresh again anyway.
    if (document.querySelector(".htmx-request")) { scheduleRefresh(); return; }
    const request = refreshRequest();
    if (!request) return;
    refresh.running = true;
    const stickToBottom = threadNearBottom();
    const before = messageIds();
    htmx.ajax("GET", request.url, request.context).then(() => {
      $$("#thread [data-message-id]").forEach((m) => {
        if (!before.has(m.dataset.messageId)) m.classList.add("is-new");
      });
      if (stickToBottom) scrollThreadToBottom();
      applyPresence();
      restoreSelection();
    }).finally(() => {
      refresh.running = false;
      if (refresh.again) { refresh.again = false; scheduleRefresh(); }
    });
  }

  function refreshRequest() {
    const id = conversationId();
    if (id) {
      return {
        url: "/conversations/" + id,
        context: { target: "#thread", select: "#thread", swap: "outerHTML", selectOOB: "#conv-head,#conv-side,#view-nav" },
      };
    }
    if ($("#inbox-results") && !refresh.loadedMore) {
      return {
        url: location.pathname + location.search,
        context: { target: "#inbox-results", select: "#inbox-results", swap: "outerHTML", selectOOB: "#view-nav" },
      };
    }
    if ($("#view-nav")) {
      return { url: location.pathname + location.search, context: { target: "#view-nav", select: "#view-nav", swap: "outerHTML" } };
    }
    return null;
  }

  function onEvent(event) {
    // Other scripts (chat-agent.js) react to events without a socket of their own.
    document.dispatchEvent(new CustomEvent("cartdesk:event", { detail: event }));
    if (event.verb === "chat.routed" && event.data && event.data.assignee_id === me) {
      toast("A new chat was assigned to you.");
    }
    const id = conversationId();
    const relevant = event.conversation_id != null || event.subject_type === "conversation";
    if (!relevant) return;
    if (id && event.conversation_id !== id && !$("#view-nav")) return;
    scheduleRefresh();
  }

  // ---- presence: who else is looking, who is typing -----------------------------------------

  // The server sends who views what right after connecting, then every change.
  const presence = new Map(); // conversation id → viewers

  function others(id) {
    return (presence.get(id) || []).filter((v) => v.user_id !== me);
  }

  function names(list) {
    const first = list.map((v) => v.name.split(" ")[0]);
    if (first.length === 1) return first[0];
    if (first.length === 2) return first[0] + " and " + first[1];
    return first[0] + " and " + (first.length - 1) + " others";
  }

  function renderConversationPresence() {
    const box = $("#presence");
    const id = conversationId();
    if (!box || !id) return;
    const viewers = others(id);
    if (!viewers.length) { box.hidden = true; box.replaceChildren(); return; }
    const typing = viewers.filter((v) => v.typing);
    const looking = viewers.filter((v) => !v.typing);
    const stack = document.createElement("span");
    stack.className = "presence-avatars";
    viewers.forEach((v) => stack.appendChild(avatar(v, "avatar-xs")));
    const text = document.createElement("span");
    text.className = "presence-text";
    const parts = [];
    if (typing.length) parts.push([names(typing), typing.length === 1 ? " is typing" : " are typing", true]);
    if (looking.length) parts.push([names(looking), looking.length === 1 ? " is viewing" : " are viewing", false]);
    parts.forEach(([who, verb, dots], i) => {
      if (i) text.append(" · ");
      const strong = document.createElement("strong");
      strong.textContent = who;
      text.append(strong, verb + (dots ? "…" : ""));
      if (dots) {
        const d = document.createElement("span");
        d.className = "typing-dots";
        d.innerHTML = "<i></i><i></i><i></i>";
        text.append(d);
      }
    });
    box.replaceChildren(stack, text);
    box.hidden = false;
  }

  function renderRowPresence() {
    $$(".conv-row[data-conversation-id]").forEach((row) => {
      const slot = $("[data-viewers]", row);
      if (!slot) return;
      const viewers = others(Number(row.dataset.conversationId));
      slot.replaceChildren(...viewers.map((v) => avatar(v, "avatar-xs")));
      slot.title = viewers.length ? names(viewers) + (viewers.length === 1 ? " is" : " are") + " looking at this" : "";
    });
  }

  function applyPresence() {
    const stick = threadNearBottom(); // the bar takes room from the thread: keep the newest message in view
    renderConversationPresence();
    renderRowPresence();
    if (stick) scrollThreadToBottom();
  }

  function onPresence(frame) {
    presence.set(frame.conversation_id, frame.viewers || []);
    applyPresence();
  }

  // ---- the socket ----------------------------------------------------------------------------

  const live = { ws: null, attempts: 0, ping: null, view: null, everConnected: false, typing: false, typingSent: 0, typingIdle: null };

  function setLiveState(state, title) {
    const dot = $("#live-status");
    if (!dot) return;
    dot.dataset.state = state;
    dot.title = title;
  }

  function send(frame) {
    if (live.ws && live.ws.readyState === WebSocket.OPEN) live.ws.send(JSON.stringify(frame));
  }

  function connect() {
    const url = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/realtime/ws";
    let ws;
    try { ws = new WebSocket(url); } catch (e) { reconnectLater(); return; }
    live.ws = ws;
    ws.addEventListener("open", () => {
      const missedSome = live.everConnected;
      live.attempts = 0;
      live.everConnected = true;
      setLiveState("live", "Live: changes appear as they happen");
      live.ping = setInterval(() => send({ type: "ping" }), PING_MS);
      // A reconnect: the server is about to send the whole current presence, and
      // viewers who left while we were away would otherwise linger.
      if (missedSome) { presence.clear(); applyPresence(); }
      startViewing();
      if (missedSome) scheduleRefresh(); // we were away: catch up on what happened meanwhile
    });
    ws.addEventListener("message", (message) => {
      let frame;
      try { frame = JSON.parse(message.data); } catch (e) { return; }
      if (frame.type === "event" && frame.event) onEvent(frame.event);
      else if (frame.type === "presence") onPresence(frame);
    });
    ws.addEventListener("close", (close) => {
      clearInterval(live.ping);
      clearInterval(live.view);
      live.ws = null;
      if (close.code === 4401) { // the session ended (signed out elsewhere, expired)
        location.href = "/login?next=" + encodeURIComponent(location.pathname + location.search);
        return;
      }
      setLiveState("offline", "Offline: reconnecting…");
      reconnectLater();
    });
  }

  function reconnectLater() {
    // Exponential backoff with jitter, so a restarted server is not stampeded.
    const delay = Math.min(30000, 1000 * Math.pow(2, live.attempts)) * (0.5 + Math.random() / 2);
    live.attempts += 1;
    setTimeout(connect, delay);
  }

  function startViewing() {
    const id = conversationId();
    clearInterval(live.view);
    if (!id) return;
    send({ type: "view", conversation_id: id });
    live.view = setInterval(() => send({ type: "view", conversation_id: id }), VIEW_HEARTBEAT_MS);
  }

  function setTyping(typing) {
    const id = conversationId();
    if (!id) return;
    const now = Date.now();
    if (typing === live.typing && (!typing || now - live.typingSent < TYPING_RESEND_MS)) return;
    live.typing = typing;
    live.typingSent = now;
    send({ type: "typing", conversation_id: id, typing: typing });
  }

  function onComposerInput() {
    setTyping(true);
    clearTimeout(live.typingIdle);
    live.typingIdle = setTimeout(() => setTyping(false), TYPING_IDLE_MS);
  }

  window.addEventListener("pagehide", () => {
    const id = conversationId();
    if (id) {
      if (live.typing) send({ type: "typing", conversation_id: id, typing: false });
      send({ type: "leave", conversation_id: id });
    }
  });

  // ---- composer ------------------------------------------------------------------------------

  function composer() { return $("#composer"); }

  function setComposerKind(kind) {
    const form = composer();
    if (!form) return false;
    const radio = $('input[name="kind"][value="' + kind + '"]', form);
    if (!radio || radio.disabled) return false;
    radio.checked = true;
    updatePlaceholder();
    $("textarea", form).focus();
    return true;
  }

  function updatePlaceholder() {
    const form = composer();
    if (!form) return;
    const area = $("textarea", form);
    const note = $('input[name="kind"][value="note"]', form);
    area.placeholder = note && note.checked ? area.dataset.placeholderNote : area.dataset.placeholderReply;
  }

  document.addEventListener("input", (e) => {
    if (e.target.matches("#composer textarea")) onComposerInput();
  });
  document.addEventListener("change", (e) => {
    if (e.target.matches('#composer input[name="kind"]')) { updatePlaceholder(); $("#composer textarea").focus(); }
  });
  document.addEventListener("focusout", (e) => {
    if (e.target.matches("#composer textarea") && !e.target.value.trim()) setTyping(false);
  });

  // ---- htmx glue -----------------------------------------------------------------------------

  document.addEventListener("htmx:beforeSwap", (e) => {
    // A refused move (409, 422, …) comes back as the page with the reason inline: show it.
    if (e.detail.xhr.getResponseHeader("X-Cartdesk-Inline")) {
      e.detail.shouldSwap = true;
      e.detail.isError = false;
    }
  });

  document.addEventListener("htmx:afterRequest", (e) => {
    const elt = e.detail.elt;
    if (elt && elt.id === "composer" && e.detail.xhr.status === 200) {
      const kind = ($('input[name="kind"]:checked', elt) || {}).value;
      elt.reset();
      if (kind) setComposerKind(kind);
      clearTimeout(live.typingIdle);
      setTyping(false);
      scrollThreadToBottom();
    }
    if (elt && elt.closest && elt.closest("#load-more")) refresh.loadedMore = true;
  });

  document.addEventListener("htmx:afterSettle", () => {
    updatePlaceholder();
    applyPresence();
    refreshTimes();
  });

  document.addEventListener("htmx:oobAfterSwap", (e) => {
    if (e.detail.target && e.detail.target.id === "thread") scrollThreadToBottom();
  });

  document.addEventListener("htmx:responseError", (e) => {
    const header = e.detail.xhr.getResponseHeader("X-Message");
    toast(header ? decodeURIComponent(header) : "Something went wrong (" + e.detail.xhr.status + "). Try again.", "error");
  });

  document.addEventListener("htmx:sendError", () => {
    toast("Can't reach Cartdesk. Check your connection and try again.", "error");
  });

  document.addEventListener("htmx:pushedIntoHistory", () => { refresh.loadedMore = false; });

  // ---- keyboard --------------------------------------------------------------------------------

  let selected = null; // id of the keyboard-selected inbox row
  let pendingG = false;

  function rows() { return $$(".conv-row[data-conversation-id]"); }

  function select(row) {
    rows().forEach((r) => r.classList.toggle("is-selected", r === row));
    if (!row) { selected = null; return; }
    selected = row.dataset.conversationId;
    row.scrollIntoView({ block: "nearest" });
  }

  function restoreSelection() {
    if (!selected) return;
    const row = $('.conv-row[data-conversation-id="' + selected + '"]');
    if (row) row.classList.add("is-selected");
  }

  function move(step) {
    const list = rows();
    if (!list.length) return;
    const index = list.findIndex((r) => r.classList.contains("is-selected"));
    const next = index < 0 ? (step > 0 ? 0 : list.length - 1) : Math.min(list.length - 1, Math.max(0, index + step));
    select(list[next]);
  }

  function clickShortcut(key) {
    const button = $('[data-shortcut="' + key + '"]');
    if (button && !button.disabled) { button.click(); return true; }
    return false;
  }

  function openHelp() {
    const dialog = $("#shortcuts-help");
    if (dialog && !dialog.open) dialog.showModal();
  }

  document.addEventListener("keydown", (e) => {
    const target = e.target;
    if ((e.ctrlKey || e.metaKey) && e.key === "Enter" && target.closest && target.closest("[data-composer]")) {
      e.preventDefault();
      const form = target.closest("form");
      if ($("textarea", form).value.trim()) form.requestSubmit();
      return;
    }
    if (e.key === "Escape") {
      if (target.matches && target.matches("input, textarea, select")) target.blur();
      body.classList.remove("sidebar-open");
      return;
    }
    const editing = target.closest && target.closest("input, textarea, select, [contenteditable], dialog");
    if (editing || e.ctrlKey || e.metaKey || e.altKey || e.defaultPrevented) return;

    if (pendingG) {
      pendingG = false;
      if (e.key === "i") { location.href = "/"; return; }
      if (e.key === "c") { location.href = "/customers"; return; }
    }
    let handled = true;
    switch (e.key) {
      case "?": openHelp(); break;
      case "/": { const search = $("[data-search]"); if (search) { search.focus(); search.select(); } else handled = false; break; }
      case "j": move(1); break;
      case "k": move(-1); break;
      case "Enter": {
        const row = $(".conv-row.is-selected a");
        if (row) location.href = row.href; else handled = false;
        break;
      }
      case "r": handled = setComposerKind("reply"); break;
      case "n": handled = setComposerKind("note"); break;
      case "s": handled = clickShortcut("s"); break;
      case "a": handled = clickShortcut("a"); break;
      case "g": pendingG = true; setTimeout(() => { pendingG = false; }, 1200); break;
      default: handled = false;
    }
    if (handled) e.preventDefault();
  });

  // ---- clicks ------------------------------------------------------------------------------------

  document.addEventListener("click", (e) => {
    const toggle = e.target.closest("[data-toggle-sidebar]");
    if (toggle) { body.classList.toggle("sidebar-open"); return; }
    const dismiss = e.target.closest("[data-dismiss]");
    if (dismiss) { dismiss.closest(".notice").remove(); return; }
    if (e.target.closest("[data-open-help]")) { openHelp(); return; }
    const row = e.target.closest("tr[data-href]");
    if (row && !e.target.closest("a")) location.href = row.dataset.href;
    const menu = $(".rail-me[open]");
    if (menu && !e.target.closest(".rail-me")) menu.open = false;
  });

  // ---- start ---------------------------------------------------------------------------------------

  $$("#toasts .toast").forEach(dismissLater);
  scrollThreadToBottom();
  updatePlaceholder();
  applyPresence();
  refreshTimes();
  setInterval(refreshTimes, 30000);
  connect();
})();
