// Homeward: refresh the live parts of a page without a full reload.
// A region marked data-live-url is re-fetched every data-live-seconds (default 20) and its
// HTML replaced. A region is left alone while someone is typing in it or has a form open,
// so a half-written resolution note is never wiped.
// Two banners: "alerts may be delayed" follows the server's word on the background jobs
// (each fragment carries it), and "not updated" appears once no refresh has succeeded for
// over a minute (a failed fetch, or one that never answers).
(function () {
  "use strict";

  var STALE_AFTER_MS = 60 * 1000;
  var lastFresh = Date.now();

  function banner(selector, show) {
    var element = document.querySelector(selector);
    if (element) {
      element.hidden = !show;
    }
  }

  function watchFreshness() {
    banner("[data-refresh-banner]", Date.now() - lastFresh > STALE_AFTER_MS);
  }

  function busy(region) {
    // Someone working inside the region (focus on a field or a button) keeps it still:
    // replacing it would drop their place, which matters most to keyboard users.
    var active = document.activeElement;
    if (active && active !== document.body && region.contains(active)) {
      return true;
    }
    if (region.querySelector("details[open]")) {
      return true;
    }
    var fields = region.querySelectorAll("textarea");
    for (var i = 0; i < fields.length; i += 1) {
      if (fields[i].value.trim() !== "") {
        return true;
      }
    }
    return false;
  }

  // Screen readers hear a one-line summary when it changes, not the whole table every time.
  function announce(region) {
    var line = document.querySelector("[data-live-announce]");
    var source = region.querySelector("[data-summary]");
    if (!line || !source) {
      return;
    }
    var summary = source.getAttribute("data-summary");
    if (summary !== region.getAttribute("data-last-summary")) {
      region.setAttribute("data-last-summary", summary);
      line.textContent = summary;
    }
  }

  function status(text) {
    var line = document.querySelector("[data-live-status]");
    if (!line) {
      return;
    }
    line.textContent = text;
    line.hidden = text === "";
  }

  function refresh(region) {
    if (busy(region)) {
      // Held still on purpose, not failing: someone is working in it.
      lastFresh = Date.now();
      return;
    }
    fetch(region.getAttribute("data-live-url"), {
      credentials: "same-origin",
      cache: "no-store",
      headers: { "X-Homeward-Fragment": "1" }
    }).then(function (response) {
      if (response.status === 401) {
        // Signed out or deactivated: the full page goes to the sign-in form.
        window.location.reload();
        return null;
      }
      if (!response.ok) {
        throw new Error("refresh failed");
      }
      return response.text();
    }).then(function (html) {
      if (html === null || busy(region)) {
        return;
      }
      region.innerHTML = html;
      lastFresh = Date.now();
      watchFreshness();
      var jobs = region.querySelector("[data-jobs-stale]");
      if (jobs) {
        banner("[data-jobs-banner]", jobs.getAttribute("data-jobs-stale") === "1");
      }
      status("");
      announce(region);
    }).catch(function () {
      status("Could not refresh: the figures below may be out of date.");
    });
  }

  function start() {
    // A form shown again with errors: move focus to its summary, so a screen reader reads
    // what went wrong and a keyboard user's next Tab reaches the first link to a field.
    var problems = document.querySelector("[data-error-summary]");
    if (problems) {
      problems.focus();
    }
    var regions = document.querySelectorAll("[data-live-url]");
    if (regions.length > 0) {
      window.setInterval(watchFreshness, 5000);
    }
    Array.prototype.forEach.call(regions, function (region) {
      var seconds = Number(region.getAttribute("data-live-seconds")) || 20;
      var first = region.querySelector("[data-summary]");
      if (first) {
        region.setAttribute("data-last-summary", first.getAttribute("data-summary"));
      }
      window.setInterval(function () { refresh(region); }, seconds * 1000);
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
}());
