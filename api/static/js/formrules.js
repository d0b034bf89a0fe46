/* Conditional rules of a task form shown before submit (api/web/formrules.py puts them on the
   fields as data-required-when): the red * of a field appears while its condition holds, e.g.
   整改要求 once 即知即改 is chosen. The server checks the same rules on submit. */
(function () {
  "use strict";

  function parentPath(path) {
    var i = path.lastIndexOf("/");
    return i < 0 ? "" : path.slice(0, i);
  }

  function valuesOf(form, name) {
    var out = [];
    form.querySelectorAll("[name]").forEach(function (el) {
      if (el.getAttribute("name") !== name || el.closest("template")) { return; }
      if (el.type === "radio" || el.type === "checkbox") {
        if (el.checked) { out.push(el.value); }
      } else if (el.type !== "hidden" || el.value !== "") {
        if (el.value !== "") { out.push(el.value); }
      }
    });
    return out;
  }

  function holds(form, base, cond) {
    var ok = (cond.all || []).every(function (test) {
      var name = base ? base + "/" + test.field : test.field;
      var values = valuesOf(form, name);
      if (test.filled) { return values.length > 0; }
      return values.some(function (v) { return (test["in"] || []).indexOf(v) >= 0; });
    });
    return cond.negate ? !ok : ok;
  }

  function update(form) {
    form.querySelectorAll("[data-required-when]").forEach(function (rule) {
      if (rule.closest("template")) { return; }
      var el = rule.parentElement;  // the field's container (data-field)
      var conds;
      try { conds = JSON.parse(rule.getAttribute("data-required-when")); } catch (e) { return; }
      var base = parentPath(el.getAttribute("data-field") || "");
      var on = conds.some(function (c) { return holds(form, base, c); });
      var mark = el.querySelector(":scope > label [data-req-when], :scope > legend [data-req-when], :scope > .label [data-req-when]");
      if (mark) { mark.hidden = !on; }
      el.setAttribute("data-required-now", on ? "true" : "false");
      el.querySelectorAll(":scope > input, :scope > select, :scope > textarea").forEach(function (c) {
        if (on) { c.setAttribute("aria-required", "true"); } else { c.removeAttribute("aria-required"); }
      });
    });
  }

  function forms() {
    var out = [];
    document.querySelectorAll("[data-required-when]").forEach(function (el) {
      var form = el.closest("form");
      if (form && out.indexOf(form) < 0) { out.push(form); }
    });
    return out;
  }

  function init() {
    forms().forEach(function (form) {
      update(form);
      form.addEventListener("change", function () { update(form); });
      form.addEventListener("input", function () { update(form); });
      form.addEventListener("click", function () { window.setTimeout(function () { update(form); }, 0); });
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
