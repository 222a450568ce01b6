// scantrace console: a little JavaScript on top of pages that work without it.
// - a loading indicator while a page or a form is on its way (the tracer can take seconds);
// - a confirmation before an irreversible form (data-confirm);
// - a page waiting for work elsewhere reloads itself (data-refresh).
// No inline script anywhere: the Content-Security-Policy allows only this file.
(function () {
  "use strict";
  var banner = null;
  function busy() {
    if (!banner) { banner = document.getElementById("loading"); }
    if (banner) { banner.hidden = false; }
    document.body.classList.add("busy");
  }
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) { event.preventDefault(); return; }
    busy();
  });
  document.addEventListener("click", function (event) {
    var link = event.target.closest ? event.target.closest("a[href]") : null;
    if (!link || link.hasAttribute("download") || event.ctrlKey || event.metaKey || event.shiftKey) { return; }
    if (link.origin === window.location.origin) { busy(); }
  });
  // a page waiting for work elsewhere (a case being traced) reloads itself: data-refresh="s"
  var waiting = document.querySelector("[data-refresh]");
  if (waiting) {
    var seconds = parseFloat(waiting.getAttribute("data-refresh")) || 2;
    window.setTimeout(function () { window.location.reload(); }, seconds * 1000);
  }
  // back from the browser's cache: the page is there, no longer loading
  window.addEventListener("pageshow", function () {
    if (banner) { banner.hidden = true; }
    document.body.classList.remove("busy");
  });
})();
