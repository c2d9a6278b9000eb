// Live pages (the crisis room, My work): listen to /api/v1/events and, after a change the reader may see of a kind
// the page shows (data-live-kinds), fetch the page again (data-live-src) and swap in each part marked data-live
// that changed. Progressive enhancement only: without this file the page
// is complete, and a reload shows the new state.
//
// A part the reader is using is never swapped under them: one with a form they typed in, an open form, or the
// focus in a field. It is swapped at the next change after they leave it (or submit it, which reloads the page).
(function () {
  "use strict";

  // The kinds of object a room shows (the `type` of a change event): the crisis, its moves, decisions and actions,
  // and the incidents, early warnings and reports it lists.
  var KINDS = { crisis: 1, escalation: 1, decision: 1, task: 1, incident: 1, alert: 1, sitrep: 1 };

  function pad(n) {
    return (n < 10 ? "0" : "") + n;
  }

  function clock(d) {
    return pad(d.getHours()) + ":" + pad(d.getMinutes()) + ":" + pad(d.getSeconds());
  }

  function start() {
    var room = document.querySelector("[data-live-room]");
    var status = document.getElementById("live-status");
    if (!room || !status || !window.EventSource || !window.fetch || !window.DOMParser || !window.cybercrisisLive) {
      return;
    }
    var kinds = KINDS;
    if (room.hasAttribute("data-live-kinds")) {
      kinds = {};
      room.getAttribute("data-live-kinds").split(/\s+/).forEach(function (k) {
        kinds[k] = 1;
      });
    }
    // Each part as the server last sent it: what the page shows may differ (times in the reader's zone, the live
    // status), so a change is found by comparing the server's versions.
    var sources = new Map();
    room.querySelectorAll("[data-live]").forEach(function (part) {
      sources.set(part, part.innerHTML);
    });
    var live = null;

    function say(text, state) {
      status.hidden = false;
      status.textContent = text;
      status.setAttribute("data-state", state);
    }

    // Typing in a form marks its part as in use until the page is left.
    room.addEventListener("input", function (event) {
      var part = event.target.closest && event.target.closest("[data-live]");
      if (part) {
        part.setAttribute("data-in-use", "");
      }
    });

    function inUse(part) {
      if (part.hasAttribute("data-in-use")) {
        return true;
      }
      var active = document.activeElement;
      if (active && part.contains(active) && /^(INPUT|SELECT|TEXTAREA)$/.test(active.tagName)) {
        return true;
      }
      return part.querySelector("details[open] form") !== null;
    }

    function swap(html) {
      var fresh = new DOMParser().parseFromString(html, "text/html");
      var kept = 0;
      room.querySelectorAll("[data-live]").forEach(function (part) {
        var next = part.id ? fresh.getElementById(part.id) : null;
        if (!next || next.innerHTML === sources.get(part)) {
          return;
        }
        if (inUse(part)) {
          kept += 1;
          return;
        }
        var open = [];
        part.querySelectorAll("details[id]").forEach(function (d) {
          if (d.open) {
            open.push(d.id);
          }
        });
        var statusNode = part.contains(status) ? status : null;
        sources.set(part, next.innerHTML);
        part.innerHTML = next.innerHTML;
        if (statusNode) {
          // The status line lives in the navigation: keep the element that screen readers follow.
          var placeholder = part.querySelector("#live-status");
          if (placeholder) {
            placeholder.parentNode.replaceChild(statusNode, placeholder);
          }
        }
        open.forEach(function (id) {
          var d = document.getElementById(id);
          if (d && d.tagName === "DETAILS") {
            d.open = true;
          }
        });
        part.setAttribute("data-updated", "");
        window.setTimeout(function () {
          part.removeAttribute("data-updated");
        }, 4000);
      });
      if (window.cybercrisisLocalTimes) {
        window.cybercrisisLocalTimes(room);
      }
      var now = "Live · updated " + clock(new Date());
      say(kept ? now + " · the part you are working in is kept as you left it" : now, "live");
    }

    function refresh() {
      // The room's own address: a refused form shows the room at the address it posted to, which only posts.
      return fetch(room.getAttribute("data-live-src") || window.location.pathname, {
        credentials: "same-origin",
        headers: { Accept: "text/html" },
        cache: "no-store"
      }).then(function (response) {
        if (response.redirected) {
          throw new Error("signed-out");
        }
        if (!response.ok) {
          throw new Error("HTTP " + response.status);
        }
        return response.text();
      }).then(function (html) {
        swap(html);
      }).catch(function (error) {
        if (error && error.message === "signed-out") {
          live.signedOut();
        } else {
          say("Could not update · reload the page", "error");
        }
      });
    }

    live = window.cybercrisisLive({
      refresh: refresh,
      say: say,
      opened: function () {
        say("Live", "live");
      },
      accept: function (event) {
        var kind = "";
        try {
          kind = JSON.parse(event.data).type;
        } catch (e) {
          kind = "";
        }
        return Boolean(kinds[kind]);
      }
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
