/* Sanji web: the little JavaScript the pages need (no framework, nothing from a CDN).
 *
 * - sanji.api(method, path, body): same-origin fetch of the JSON API with the session cookie
 *   and the page's CSRF token (the API enforces CSRF for session-authenticated calls);
 * - repeating groups of the form renderer: add and remove rows (api/templates/_form.html);
 * - data-confirm on buttons: ask before submitting.
 */
(function () {
  "use strict";

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  function api(method, path, body) {
    var options = {
      method: method,
      credentials: "same-origin",
      headers: { "Accept": "application/json", "X-CSRFToken": csrfToken() }
    };
    if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    return fetch(path, options).then(function (response) {
      var type = response.headers.get("Content-Type") || "";
      var parsed = type.indexOf("json") >= 0 ? response.json() : response.text();
      return parsed.then(function (data) {
        if (!response.ok) {
          var error = new Error((data && data.message) || response.statusText);
          error.status = response.status;
          error.body = data;
          throw error;
        }
        return data;
      });
    });
  }

  window.sanji = { api: api, csrfToken: csrfToken };

  /* ---- the header menu on a phone: one button opens every menu item and tool ------------------ */

  document.documentElement.classList.add("js");
  function menu() {
    var toggle = document.getElementById("menu-toggle");
    var bar = toggle && toggle.closest(".topbar");
    if (!bar) { return; }
    // what waits (待办, 通知, 公告…) shows on the closed menu too: the sum of the items' badges
    var waiting = 0;
    bar.querySelectorAll("#main-nav .badge").forEach(function (b) { waiting += parseInt(b.textContent, 10) || 0; });
    if (waiting) {
      var sum = document.createElement("span");
      sum.className = "badge";
      sum.id = "menu-badge";
      sum.textContent = String(waiting);
      toggle.appendChild(sum);
    }
    toggle.addEventListener("click", function () {
      var open = !bar.classList.contains("nav-open");
      bar.classList.toggle("nav-open", open);
      toggle.setAttribute("aria-expanded", open ? "true" : "false");
    });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", menu);
  } else {
    menu();
  }

  /* ---- repeating groups ---------------------------------------------------------------------- */

  var ROW = "__i__";
  var ATTRS = ["name", "id", "for", "aria-describedby", "aria-labelledby", "data-field", "data-repeat", "data-error-for", "data-attachment-field"];

  function idOf(path) {
    return "f-" + path.split("/").join("-");
  }

  function replaceAll(text, from, to) {
    return text.split(from).join(to);
  }

  // Give the row template of `repeat` (path P) the index n: "P/__i__/x" -> "P/n/x" (ids alike).
  function instantiate(repeat, n) {
    var path = repeat.getAttribute("data-repeat");
    var template = repeat.querySelector(":scope > template");
    var fragment = template.content.cloneNode(true);
    var fromPath = path + "/" + ROW, toPath = path + "/" + n;
    var fromId = idOf(path) + "-" + ROW, toId = idOf(path) + "-" + n;
    fragment.querySelectorAll("*").forEach(function (el) {
      ATTRS.forEach(function (attr) {
        var value = el.getAttribute(attr);
        if (value !== null && value.indexOf(ROW) >= 0) {
          el.setAttribute(attr, replaceAll(replaceAll(value, fromPath, toPath), fromId, toId));
        }
      });
      if (el.tagName === "TEMPLATE") {  // nested repeating groups: their templates too
        el.content.querySelectorAll("*").forEach(function (inner) {
          ATTRS.forEach(function (attr) {
            var value = inner.getAttribute(attr);
            if (value !== null) {
              inner.setAttribute(attr, replaceAll(replaceAll(value, fromPath, toPath), fromId, toId));
            }
          });
        });
      }
    });
    return fragment;
  }

  function rowsOf(repeat) {
    return Array.prototype.filter.call(repeat.querySelector(":scope > .rows").children, function (el) {
      return el.hasAttribute("data-row");
    });
  }

  function nextIndex(repeat) {
    var path = repeat.getAttribute("data-repeat") + "/";
    var max = -1;
    repeat.querySelectorAll("[name]").forEach(function (el) {
      var name = el.getAttribute("name");
      if (name.indexOf(path) === 0) {
        var n = parseInt(name.slice(path.length).split("/")[0], 10);
        if (!isNaN(n) && n > max) { max = n; }
      }
    });
    var known = parseInt(repeat.getAttribute("data-next") || "0", 10);
    return Math.max(max + 1, known);
  }

  function renumber(repeat) {
    var rows = rowsOf(repeat);
    rows.forEach(function (row, i) {
      var label = row.querySelector("[data-row-no]");
      if (label) { label.textContent = String(i + 1); }
    });
    var max = parseInt(repeat.getAttribute("data-max") || "", 10);
    var min = parseInt(repeat.getAttribute("data-min") || "0", 10);
    var add = repeat.querySelector(":scope > [data-add-row]");
    if (add) { add.disabled = !isNaN(max) && rows.length >= max; }
    rows.forEach(function (row) {
      var remove = row.querySelector(":scope > .row-head [data-remove-row]");
      if (remove) { remove.disabled = rows.length <= min; }
    });
  }

  document.addEventListener("click", function (event) {
    var add = event.target.closest("[data-add-row]");
    if (add) {
      var repeat = add.closest("[data-repeat]");
      var n = nextIndex(repeat);
      repeat.setAttribute("data-next", String(n + 1));
      var fragment = instantiate(repeat, n);
      var row = fragment.querySelector("[data-row]");
      repeat.querySelector(":scope > .rows").appendChild(fragment);
      renumber(repeat);
      var first = row && row.querySelector("input, select, textarea");
      if (first) { first.focus(); }
      return;
    }
    var remove = event.target.closest("[data-remove-row]");
    if (remove) {
      var group = remove.closest("[data-repeat]");
      remove.closest("[data-row]").remove();
      renumber(group);
    }
  });

  document.addEventListener("click", function (event) {
    var button = event.target.closest("button[data-confirm]");
    if (button && !window.confirm(button.getAttribute("data-confirm"))) {
      event.preventDefault();
    }
  }, true);

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-repeat]").forEach(renumber);
    var firstError = document.querySelector(".has-error input, .has-error select, .has-error textarea");
    if (firstError) { firstError.focus({ preventScroll: false }); }
  });
})();
