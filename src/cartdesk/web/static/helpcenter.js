/* Help center: the article view beacon and small touches for search as you type. No build step. */
(function () {
  "use strict";

  function csrf() {
    try { return JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRF-Token"] || ""; }
    catch (e) { return ""; }
  }

  // Count a view once the page is actually shown to a person (not prerendered, not a crawler
  // that skips scripts); the search that led here, if any, is credited with the click.
  function sendView() {
    var article = document.querySelector("[data-view-url]");
    if (!article || article.dataset.viewSent) return;
    article.dataset.viewSent = "1";
    var body = new URLSearchParams();
    body.set("q", article.dataset.query || "");
    fetch(article.dataset.viewUrl, {
      method: "POST", body: body, credentials: "same-origin", keepalive: true,
      headers: { "X-CSRF-Token": csrf() },
    }).catch(function () {});
  }

  function onReady() {
    if (document.visibilityState === "visible") sendView();
    else document.addEventListener("visibilitychange", function () {
      if (document.visibilityState === "visible") sendView();
    });
    // Escape clears the instant results; an empty box shows none.
    document.addEventListener("keydown", function (e) {
      if (e.key !== "Escape") return;
      var box = document.querySelector(".hc-instant");
      if (box) box.innerHTML = "";
    });
    document.addEventListener("input", function (e) {
      if (e.target && e.target.id === "hc-q" && !e.target.value.trim()) {
        var box = document.querySelector(".hc-instant");
        if (box) box.innerHTML = "";
      }
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", onReady);
  else onReady();
})();
