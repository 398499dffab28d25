/* Live chat in the agent app: availability in the rail, a sound for new chat messages
 * (opt-in, per browser), and the agents' read receipt when a chat is on screen.
 * app.js keeps the page live (it refreshes the inbox and the thread on every event);
 * this file only looks at what those refreshes bring. */
(function () {
  "use strict";
  var SOUND_KEY = "cartdesk:chat-sound";
  var lastUnread = null;
  var readPosted = 0;

  function csrf() {
    try { return JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRF-Token"]; } catch (e) { return ""; }
  }

  function totalUnread() {
    return Array.prototype.reduce.call(document.querySelectorAll(".chat-unread"), function (n, el) {
      return n + (Number(el.textContent) || 0);
    }, 0);
  }

  function beep() {
    try {
      var ctx = new (window.AudioContext || window.webkitAudioContext)();
      var osc = ctx.createOscillator(), gain = ctx.createGain();
      osc.frequency.value = 880;
      gain.gain.setValueAtTime(0.08, ctx.currentTime);
      gain.gain.exponentialRampToValueAtTime(0.0001, ctx.currentTime + 0.25);
      osc.connect(gain); gain.connect(ctx.destination);
      osc.start(); osc.stop(ctx.currentTime + 0.25);
    } catch (e) { /* no audio: the badge still shows */ }
  }

  function checkUnread() {
    var total = totalUnread();
    if (lastUnread !== null && total > lastUnread && localStorage.getItem(SOUND_KEY) === "1") beep();
    lastUnread = total;
  }

  function markRead() {
    var card = document.getElementById("chat-card");
    if (!card || document.hidden) return;
    var latest = Number(card.dataset.latestSeq), read = Number(card.dataset.agentReadSeq);
    if (latest <= read || latest <= readPosted) return;
    readPosted = latest;
    fetch("/api/v1/chat/conversations/" + card.dataset.conversationId + "/read", {
      method: "POST", credentials: "same-origin", headers: { "X-CSRF-Token": csrf() }
    });
  }

  function showAvailability() {
    var form = document.getElementById("availability");
    var me = document.querySelector(".rail-me > summary");
    if (!form || !me || !form.dataset.availability) return;
    me.dataset.availability = form.dataset.availability;
    var sound = form.querySelector("[data-chat-sound]");
    if (sound) sound.checked = localStorage.getItem(SOUND_KEY) === "1";
  }

  document.addEventListener("change", function (e) {
    if (e.target.matches && e.target.matches("[data-chat-sound]")) {
      localStorage.setItem(SOUND_KEY, e.target.checked ? "1" : "0");
      if (e.target.checked) beep();
    }
  });
  // Routing handed me a chat: the same sound as a new message (when the agent opted in).
  document.addEventListener("cartdesk:event", function (e) {
    var event = e.detail || {};
    var me = Number(document.body.dataset.userId);
    if (event.verb === "chat.routed" && event.data && event.data.assignee_id === me
        && localStorage.getItem(SOUND_KEY) === "1") beep();
  });
  document.addEventListener("htmx:afterSettle", function () { checkUnread(); markRead(); showAvailability(); });
  document.addEventListener("visibilitychange", markRead);
  checkUnread();
  markRead();
})();
