/* Sanji web: draws the dashboard's charts (templates/dashboard.html, api/web/dashboard.py).
 *
 * Served as it is (not bundled), after vendor/charts.js (window.SanjiCharts). Each chart is
 *
 *   <div data-sanji-chart data-url="/api/v1/dashboard/findings?year=2027&quarter=1">
 *
 * whose URL answers { categories, series: [{ key, name, data }], columns, column_labels, rows }
 * (api/rest/dashboard.py). The chart is drawn as stacked bars, its rows as a table in the card's
 * <div data-chart-table="ID">. Each root ends with data-state="ready" (data-total = the sum of
 * its series) or "error". Nothing inline, so the page keeps the web Content-Security-Policy.
 */
(function () {
  "use strict";

  var MESSAGES = {
    zh: { failed: "无法加载图表：", empty: "本期暂无数据", nobundle: "图表组件未安装（make setup）" },
    en: { failed: "The chart could not be loaded: ", empty: "No data in this period", nobundle: "The chart bundle is not installed (make setup)" }
  };

  function t(key) {
    var lang = (document.documentElement.lang || "zh").indexOf("en") === 0 ? "en" : "zh";
    return MESSAGES[lang][key];
  }

  function note(root, text, cls) {
    var p = document.createElement("p");
    p.className = cls || "muted small chart-note";
    p.textContent = text;
    root.parentNode.insertBefore(p, root.nextSibling);
    return p;
  }

  function table(holder, data) {
    if (!holder) { return; }
    var tbl = document.createElement("table");
    tbl.className = "compact";
    var head = tbl.createTHead().insertRow();
    var keep = [];
    data.columns.forEach(function (col, i) {
      if (col === "unit_id") { return; }
      keep.push(col);
      var th = document.createElement("th");
      th.textContent = (data.column_labels || data.columns)[i];
      head.appendChild(th);
    });
    var labels = {};
    data.series.forEach(function (s) { labels[s.key] = s.name; });
    var body = tbl.createTBody();
    data.rows.forEach(function (row) {
      var tr = body.insertRow();
      keep.forEach(function (col) {
        var value = row[col];
        if (col === "tier") { value = labels[value] || value; }
        if (typeof value === "number" && /_rate$/.test(col)) { value = (value * 100).toFixed(1) + "%"; }
        tr.insertCell().textContent = value === null || value === undefined ? "" : String(value);
      });
    });
    holder.replaceChildren(tbl);
  }

  /* Stacked bars; a scrolling legend (eight clue states fit on a phone); long unit names wrap. */
  function option(data) {
    return {
      tooltip: { trigger: "axis", confine: true },
      legend: { type: "scroll", bottom: 0 },
      grid: { left: 8, right: 16, top: 16, bottom: 40, containLabel: true },
      xAxis: { type: "category", data: data.categories,
               axisLabel: { interval: 0, width: 84, overflow: "break", hideOverlap: true } },
      yAxis: { type: "value", minInterval: 1 },
      series: data.series.map(function (s) {
        return { type: "bar", stack: "total", name: s.name, data: s.data, emphasis: { focus: "series" } };
      })
    };
  }

  function draw(root) {
    root.dataset.state = "loading";
    if (!window.SanjiCharts) {
      root.dataset.state = "error";
      note(root, t("nobundle"), "error");
      return Promise.resolve();
    }
    return fetch(root.dataset.url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        return response.json().then(function (body) {
          if (!response.ok) { throw new Error(body.message || response.statusText); }
          return body;
        });
      })
      .then(function (data) {
        var total = 0;
        data.series.forEach(function (s) { s.data.forEach(function (n) { total += n; }); });
        window.SanjiCharts.render(root, option(data));
        table(document.querySelector('[data-chart-table="' + root.id + '"]'), data);
        if (!total) { note(root, t("empty")); }
        root.dataset.total = String(total);
        root.dataset.state = "ready";
      })
      .catch(function (err) {
        root.dataset.state = "error";
        note(root, t("failed") + (err && err.message ? err.message : String(err)), "error");
      });
  }

  function start() {
    var roots = Array.prototype.slice.call(document.querySelectorAll("[data-sanji-chart]"));
    window.sanjiCharts = Promise.all(roots.map(draw));
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
