// Progressive enhancement only: every page works without this file.
(function () {
  "use strict";

  document.documentElement.classList.add("js");

  // Times in the reader's chosen zone (their account's setting, on <body data-time-zone>): every
  // <time datetime="...T..."> is rewritten in it, with the recorded UTC time kept in its title. Without a zone, or
  // without this script, times stay in UTC as the server wrote them. Live parts call it again after a swap.
  function localTimes(root) {
    var zone = document.body && document.body.getAttribute("data-time-zone");
    if (!zone || !window.Intl) {
      return;
    }
    var format;
    try {
      format = new Intl.DateTimeFormat("en-GB", {
        timeZone: zone, year: "numeric", month: "2-digit", day: "2-digit",
        hour: "2-digit", minute: "2-digit", hourCycle: "h23", timeZoneName: "short"
      });
    } catch (e) {
      return; // a zone this browser does not know: UTC stays
    }
    (root || document).querySelectorAll("time[datetime]").forEach(function (el) {
      var value = el.getAttribute("datetime");
      if (el.hasAttribute("data-local") || value.indexOf("T") < 0) {
        return;
      }
      var moment = new Date(value);
      if (isNaN(moment.getTime())) {
        return;
      }
      var parts = {};
      format.formatToParts(moment).forEach(function (p) { parts[p.type] = p.value; });
      var utc = moment.toISOString().slice(0, 16).replace("T", " ") + " UTC";
      el.title = utc;
      el.textContent = parts.year + "-" + parts.month + "-" + parts.day + " " + parts.hour + ":" + parts.minute +
        " " + (parts.timeZoneName || zone);
      el.setAttribute("data-local", "");
    });
  }
  window.cybercrisisLocalTimes = localTimes;

  // Live pages (the dashboard, the crisis room, My work) share this: the event stream, bursts of changes debounced
  // into one refresh, one refresh at a time, and what the status line says when the stream drops or ends.
  // `o.refresh()` returns a promise; `o.say(text, state)` writes the status; `o.opened()` runs when the stream is
  // first up; `o.accept(event)` (optional) says whether a change concerns the page. Returns {signedOut}.
  var DEBOUNCE_MS = 300; // changes come in bursts (a move and its decision): one refresh for the burst
  var MAX_WAIT_MS = 2000; // ...but a steady stream of changes still refreshes this often
  window.cybercrisisLive = function (o) {
    var timer = null;
    var firstChange = 0;
    var inFlight = false;
    var again = false;
    var broken = false;
    var stream = null;

    function run() {
      timer = null;
      firstChange = 0;
      if (inFlight) {
        again = true; // one more once this one is in
        return;
      }
      inFlight = true;
      Promise.resolve(o.refresh(function () { return broken; })).catch(function () {}).then(function () {
        inFlight = false;
        if (again) {
          again = false;
          schedule();
        }
      });
    }

    function schedule() {
      var now = Date.now();
      if (!firstChange) {
        firstChange = now;
      }
      if (timer !== null) {
        window.clearTimeout(timer);
      }
      timer = window.setTimeout(run, Math.max(0, Math.min(DEBOUNCE_MS, firstChange + MAX_WAIT_MS - now)));
    }

    function signedOut() {
      if (stream) {
        stream.close();
      }
      o.say("Signed out · reload the page to sign in again", "error");
    }

    stream = new EventSource("/api/v1/events");
    stream.addEventListener("open", function () {
      if (broken) {
        // The browser resumed after Last-Event-ID: what was missed arrives as changes. Refresh anyway, in case
        // the stream could not reach back that far.
        broken = false;
        schedule();
      } else {
        o.opened();
      }
    });
    stream.addEventListener("change", function (event) {
      if (!o.accept || o.accept(event)) {
        schedule();
      }
    });
    stream.addEventListener("end", signedOut);
    stream.addEventListener("error", function () {
      if (stream.readyState === EventSource.CLOSED) {
        o.say("Live updates stopped · reload the page", "error");
      } else {
        broken = true;
        o.say("Reconnecting…", "reconnecting");
      }
    });
    return { signedOut: signedOut };
  };
  document.addEventListener("DOMContentLoaded", function () { localTimes(document); });

  // Phones: the navigation folds behind its "Menu" button.
  document.addEventListener("DOMContentLoaded", function () {
    var toggle = document.querySelector(".nav-toggle");
    var nav = document.getElementById("main-nav");
    if (!toggle || !nav) {
      return;
    }
    toggle.hidden = false;
    toggle.addEventListener("click", function () {
      var open = !nav.classList.contains("open");
      nav.classList.toggle("open", open);
      toggle.setAttribute("aria-expanded", open ? "true" : "false");
    });
  });

  // Organisation pickers (<select multiple data-picker>, options with data-search): type to find organisations by
  // name, country, type or community ("DE csirt", "cyclone"); a click adds or removes one (no Ctrl needed); the
  // chosen ones are listed with a button each to remove them; "Choose all shown" takes every match.
  function picker(select) {
    var field = select.parentNode;
    var help = document.getElementById(select.id + "-help");
    if (help && /Ctrl/.test(help.textContent)) {
      help.textContent = "Click an organisation to add or remove it; several may be chosen.";
    }
    var box = document.createElement("input");
    box.type = "search";
    box.className = "picker-filter";
    box.id = select.id + "-filter";
    box.setAttribute("autocomplete", "off");
    var label = document.createElement("label");
    label.htmlFor = box.id;
    label.className = "picker-label";
    label.textContent = "Find by name, country, type or community";
    var all = document.createElement("button");
    all.type = "button";
    all.className = "small picker-all";
    all.textContent = "Choose all shown";
    var status = document.createElement("p");
    status.className = "help picker-status";
    status.setAttribute("aria-live", "polite");
    var chosen = document.createElement("ul");
    chosen.className = "picker-chosen";
    chosen.setAttribute("aria-label", "Chosen");
    var bar = document.createElement("div");
    bar.className = "picker-bar";
    bar.appendChild(label);
    bar.appendChild(box);
    bar.appendChild(all);
    field.insertBefore(bar, select);
    field.insertBefore(status, select.nextSibling);
    field.insertBefore(chosen, status.nextSibling);
    var options = Array.prototype.slice.call(select.options);
    var meta = {};
    try {
      meta = JSON.parse(select.getAttribute("data-picker") || "{}");
    } catch (e) {
      meta = {};
    }
    function country(o) { return (meta[o.value] || [""])[0]; }
    function words(o) { return ((meta[o.value] || ["", ""])[1] || o.textContent).toLowerCase(); }
    // A two-letter word that is a country code of the list means that country ("de" is Germany, not "Defence").
    var codes = {};
    options.forEach(function (o) { codes[country(o)] = true; });

    function render() {
      var shown = options.filter(function (o) { return !o.hidden; }).length;
      var picked = options.filter(function (o) { return o.selected; });
      status.textContent = shown + " shown · " + picked.length + " chosen";
      chosen.innerHTML = "";
      picked.forEach(function (o) {
        var item = document.createElement("li");
        var remove = document.createElement("button");
        remove.type = "button";
        remove.className = "small chip";
        remove.textContent = o.textContent.split(" — ")[0] + " ×";
        remove.setAttribute("aria-label", "Remove " + o.textContent);
        remove.addEventListener("click", function () {
          o.selected = false;
          render();
        });
        item.appendChild(remove);
        chosen.appendChild(item);
      });
    }
    box.addEventListener("input", function () {
      var typed = box.value.toLowerCase().split(/\s+/).filter(Boolean);
      options.forEach(function (o) {
        // Each word must start a word of the organisation's names, country, type or communities.
        var hay = words(o).split(/[^\p{L}\p{N}]+/u);
        o.hidden = !typed.every(function (w) {
          if (w.length === 2 && codes[w]) {
            return country(o) === w;
          }
          return hay.some(function (h) { return h.indexOf(w) === 0; });
        });
      });
      render();
    });
    all.addEventListener("click", function () {
      options.forEach(function (o) {
        if (!o.hidden) {
          o.selected = true;
        }
      });
      render();
    });
    select.addEventListener("mousedown", function (event) {
      var option = event.target;
      if (option && option.tagName === "OPTION") {
        event.preventDefault(); // a click adds or removes this one, and keeps the others
        option.selected = !option.selected;
        select.focus();
        render();
      }
    });
    select.addEventListener("change", render);
    render();
  }
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("select[multiple][data-picker]").forEach(picker);
  });

  // The header's dropdowns (<details>): one open at a time, closed by a click elsewhere or Escape.
  function closeMenus(except) {
    document.querySelectorAll(".top details[open]").forEach(function (d) {
      if (d !== except) {
        d.open = false;
      }
    });
  }
  document.addEventListener("click", function (event) {
    var inside = event.target.closest && event.target.closest(".top details");
    closeMenus(inside);
  });

  // Keyboard shortcuts, listed in the dialog that "?" opens: "/" search, "g" then a letter to go to a page.
  var GO = { w: "/my-work", s: "/situation", c: "/crises", i: "/incidents", e: "/alerts" };
  var pendingG = 0;
  function shortcuts() {
    var dialog = document.getElementById("shortcuts");
    if (dialog && dialog.showModal && !dialog.open) {
      closeMenus(null);
      dialog.showModal();
    }
  }
  document.addEventListener("click", function (event) {
    if (event.target.closest && event.target.closest("[data-shortcuts-open]")) {
      shortcuts();
    }
  });
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape") {
      var open = document.querySelector(".top details[open]");
      if (open) {
        open.open = false;
        open.querySelector("summary").focus();
      }
      return;
    }
    if (event.ctrlKey || event.metaKey || event.altKey) {
      return;
    }
    var target = event.target;
    if (target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName))) {
      return;
    }
    if (event.key === "?") {
      event.preventDefault();
      shortcuts();
    } else if (event.key === "g") {
      pendingG = Date.now();
    } else if (pendingG && Date.now() - pendingG < 1500 && GO[event.key]) {
      pendingG = 0;
      window.location.assign(GO[event.key]);
    } else {
      pendingG = 0;
    }
  });

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form || !form.getAttribute) {
      return;
    }
    // Ask before destructive form posts (delete, revoke): <form data-confirm="...">.
    var message = form.getAttribute("data-confirm");
    if (message && !window.confirm(message)) {
      event.preventDefault();
      return;
    }
    // Filter forms (GET): leave empty fields out of the URL, so that shared links stay short.
    if (form.hasAttribute("data-drop-empty") && form.method.toLowerCase() === "get") {
      var kept = new URLSearchParams();
      new FormData(form).forEach(function (value, key) {
        if (value !== "") {
          kept.append(key, value);
        }
      });
      event.preventDefault();
      var query = kept.toString();
      window.location.assign(form.action + (query ? "?" + query : ""));
    }
  });

  // Taxonomy pickers: show the description of the chosen value (<select data-describe="id-of-help">).
  document.addEventListener("change", function (event) {
    var el = event.target;
    if (!el || el.tagName !== "SELECT" || !el.hasAttribute("data-describe")) {
      return;
    }
    var target = document.getElementById(el.getAttribute("data-describe"));
    var option = el.options[el.selectedIndex];
    if (target && option) {
      target.textContent = option.getAttribute("data-description") || "";
    }
  });

  // Secrets shown once: select the whole value on focus, and offer a copy button.
  document.addEventListener("focusin", function (event) {
    var el = event.target;
    if (el && el.hasAttribute && el.hasAttribute("data-select-on-focus")) {
      el.select();
    }
  });

  document.addEventListener("DOMContentLoaded", function () {
    if (!navigator.clipboard) {
      return;
    }
    document.querySelectorAll("button[data-copy]").forEach(function (button) {
      var target = document.getElementById(button.getAttribute("data-copy"));
      if (!target) {
        return;
      }
      button.hidden = false;
      button.addEventListener("click", function () {
        navigator.clipboard.writeText(target.value).then(function () {
          button.textContent = "Copied";
        }, function () {
          target.select();
        });
      });
    });
  });

  // "/" puts the cursor in the header's search box, unless the reader is typing somewhere already.
  document.addEventListener("keydown", function (event) {
    if (event.key !== "/" || event.ctrlKey || event.metaKey || event.altKey) {
      return;
    }
    var target = event.target;
    var typing = target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName));
    var box = document.getElementById("global-search");
    if (!typing && box) {
      event.preventDefault();
      box.focus();
    }
  });

  // Counts in the navigation kept fresh from the API (<span data-live-count="/api/v1/...">, whose JSON has
  // `count`): My work's badge. Read when the page loads, every minute, and when the tab is shown again.
  var counters = document.querySelectorAll("[data-live-count]");
  function refreshCounts() {
    counters.forEach(function (badge) {
      fetch(badge.getAttribute("data-live-count"), { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (response) { return response.ok ? response.json() : null; })
        .then(function (body) {
          if (!body || typeof body.count !== "number") {
            return;
          }
          badge.querySelector("[data-count]").textContent = String(body.count);
          badge.hidden = body.count === 0;
        })
        .catch(function () { /* offline for a moment: keep what is shown */ });
    });
  }
  if (counters.length) {
    refreshCounts();
    window.setInterval(refreshCounts, 60000);
    document.addEventListener("visibilitychange", function () {
      if (!document.hidden) {
        refreshCounts();
      }
    });
  }
})();
