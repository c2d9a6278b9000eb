// The situation dashboard, live: listens to /api/v1/events and swaps in /situation/live after each change.
// Progressive enhancement only: without this file the page is complete, and a reload shows the new state.
(function () {
  "use strict";

  var FRAGMENT_HEADER = "X-Situation-Fragment";

  function pad(n) {
    return (n < 10 ? "0" : "") + n;
  }

  function clock(d) {
    return pad(d.getHours()) + ":" + pad(d.getMinutes()) + ":" + pad(d.getSeconds());
  }

  function start() {
    var container = document.getElementById("situation-live");
    var status = document.getElementById("live-status");
    if (!container || !status || !window.EventSource || !window.fetch || !window.cybercrisisLive) {
      return; // the server-rendered page stays as it is
    }
    var source = container.getAttribute("data-live-src") || "/situation/live";
    var live = null;

    function say(text, state) {
      status.hidden = false;
      status.textContent = text;
      status.setAttribute("data-state", state);
    }

    function updated() {
      say("Live · updated " + clock(new Date()), "live");
    }

    // What the reader had open or focused survives the swap: <details> by id, focus by id or link target.
    function remember() {
      var open = [];
      container.querySelectorAll("details[id]").forEach(function (d) {
        if (d.open) {
          open.push(d.id);
        }
      });
      var active = document.activeElement;
      var focus = null;
      if (active && active !== container && container.contains(active)) {
        if (active.id) {
          focus = "#" + active.id;
        } else if (active.tagName === "SUMMARY" && active.parentNode.id) {
          focus = "#" + active.parentNode.id + " > summary";
        } else if (active.tagName === "A" && active.getAttribute("href")) {
          focus = 'a[href="' + active.getAttribute("href").replace(/["\\]/g, "\\$&") + '"]';
        }
      }
      return { open: open, focus: focus, scroll: window.pageYOffset };
    }

    function restore(state) {
      state.open.forEach(function (id) {
        var d = document.getElementById(id);
        if (d && d.tagName === "DETAILS") {
          d.open = true;
        }
      });
      if (state.focus) {
        var el = container.querySelector(state.focus);
        if (el) {
          el.focus({ preventScroll: true });
        }
      }
      window.scrollTo(window.pageXOffset, state.scroll);
    }

    function refresh(reconnecting) {
      return fetch(source + window.location.search, {
        credentials: "same-origin",
        headers: { Accept: "text/html" },
        cache: "no-store"
      }).then(function (response) {
        if (response.redirected || !response.headers.get(FRAGMENT_HEADER)) {
          throw new Error("signed-out");
        }
        if (!response.ok) {
          throw new Error("HTTP " + response.status);
        }
        return response.text();
      }).then(function (html) {
        var state = remember();
        container.innerHTML = html;
        if (window.cybercrisisLocalTimes) {
          window.cybercrisisLocalTimes(container);
        }
        restore(state);
        if (!reconnecting()) {
          updated();
        }
      }).catch(function (error) {
        if (error && error.message === "signed-out") {
          live.signedOut();
        } else {
          say("Could not update · reload the page", "error");
        }
      });
    }

    live = window.cybercrisisLive({ refresh: refresh, say: say, opened: updated });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
