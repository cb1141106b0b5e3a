/* Progressive enhancement only: every flow works without this file.
   - sends the CSRF token with htmx requests
   - announces what changed after a swap through the page's live region
   - keeps focus sensible after swaps, and on an error summary */
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  function announce(root) {
    var live = document.getElementById("live-region");
    var source = root && root.querySelector ? root.querySelector("[data-announce]") : null;
    if (!live || !source) { return; }
    live.textContent = "";
    window.setTimeout(function () { live.textContent = source.getAttribute("data-announce"); }, 50);
  }

  function visibleHeading(root) {
    var headings = root.querySelectorAll ? root.querySelectorAll("h2[tabindex='-1'], h2") : [];
    for (var i = 0; i < headings.length; i++) {
      if (!headings[i].closest(".visually-hidden")) { return headings[i]; }
    }
    return null;
  }

  document.addEventListener("DOMContentLoaded", function () {
    var summary = document.querySelector("[data-autofocus]");
    if (summary) { summary.focus(); }
  });

  // An error summary link puts focus in its field and shows the field's question
  // (label, or legend for radios) above it, not just the bare input.
  document.addEventListener("click", function (event) {
    var link = event.target.closest ? event.target.closest(".error-summary a[href^='#']") : null;
    var field = link ? document.getElementById(link.getAttribute("href").slice(1)) : null;
    if (!field) { return; }
    event.preventDefault();
    var fieldset = field.closest("fieldset");
    var legend = fieldset ? fieldset.querySelector("legend") : null;
    var label = field.labels && field.labels.length ? field.labels[0] : null;
    var question = field.type === "radio" && legend ? legend : (label || legend);
    (question || field).scrollIntoView();
    field.focus({ preventScroll: true });
    var box = field.getBoundingClientRect();
    if (box.bottom > window.innerHeight) { field.scrollIntoView({ block: "nearest" }); }
  });

  document.addEventListener("htmx:configRequest", function (event) {
    var meta = document.querySelector('meta[name="csrf-token"]');
    if (meta) { event.detail.headers["X-CSRFToken"] = meta.getAttribute("content"); }
  });

  // ux-F22: a disclosure the person opened while the swap was on its way ("Pay only
  // part of it now?") stays open, and keeps focus on its summary, after the swap.
  var openBefore = null;
  document.addEventListener("htmx:beforeSwap", function (event) {
    var target = event.detail.target;
    openBefore = [];
    if (!target || !target.querySelectorAll) { return; }
    Array.prototype.forEach.call(target.querySelectorAll("details[open]"), function (box) {
      openBefore.push({ name: box.className, focused: box.contains(document.activeElement) });
    });
  });

  function reopen(swapped) {
    (openBefore || []).forEach(function (was) {
      if (!was.name) { return; }
      var box = swapped.querySelector("details." + was.name.split(" ").join("."));
      if (!box) { return; }
      box.open = true;
      var summary = box.querySelector("summary");
      if (was.focused && summary) { summary.focus(); }
    });
    openBefore = null;
  }

  document.addEventListener("htmx:afterSwap", function (event) {
    var target = event.detail.target;
    var swapped = target && target.isConnected ? target : document.getElementById(target && target.id);
    if (swapped && swapped.querySelector) { reopen(swapped); }
    announce(swapped || document);
    // Focus stays on the control the customer used (WCAG 3.2.2); if the swap
    // removed it, move to the updated region's heading instead of losing it.
    // A heading that is only there for screen readers (.visually-hidden, such as a
    // table's title) is never the place: focus would be invisible (issue 35 a11y-5).
    if (!document.activeElement || document.activeElement === document.body) {
      var place = swapped && visibleHeading(swapped);
      if (!place && swapped && swapped !== document) { place = swapped; }
      if (place) { place.setAttribute("tabindex", "-1"); place.focus(); }
    }
  });

  // htmx 2 does not swap 4xx/5xx answers: fall back to a normal page load so the
  // server's own (translated) page is shown instead of nothing happening.
  document.addEventListener("htmx:responseError", function (event) {
    var path = event.detail.pathInfo && event.detail.pathInfo.finalRequestPath;
    if (path) { window.location.assign(path); }
  });
  document.addEventListener("htmx:sendError", function (event) {
    var path = event.detail.pathInfo && event.detail.pathInfo.finalRequestPath;
    if (path) { window.location.assign(path); }
  });
})();
