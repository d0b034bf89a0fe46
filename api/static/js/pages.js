/* Sanji web: mounts the diagram bundles (docs/frontend.md) on the server-rendered pages.
 *
 * Served as it is (not bundled), after vendor/viewer.js or vendor/modeler.js. Each page marks
 * where a diagram goes with data attributes; nothing is inline, so the pages keep their CSP.
 *
 *   <div data-sanji-modeler data-key="K" data-version="N">        the modeler (library)
 *   <div data-sanji-definition data-key="K" data-version="N">     a version's diagram
 *   <div data-sanji-instance data-instance-id="ID">                an instance's states
 *   <div data-sanji-heatmap data-key="K" data-version="N" data-mode="active|completed">
 *   <div data-sanji-compare data-key="K" data-from="N" data-to="M">
 *   <div id="diagram" data-bpmn-url=… data-highlight="EL" data-instance-id="ID">   the task page
 *
 * Each root ends with data-state="ready" or "error" (the bundles' convention).
 */
(function () {
  "use strict";

  function lang() {
    return (document.documentElement.lang || "zh").indexOf("en") === 0 ? "en" : "zh";
  }

  function num(value) {
    return value ? Number(value) : undefined;
  }

  function failed(root, err) {
    root.dataset.state = "error";
    var p = document.createElement("p");
    p.className = "error";
    p.setAttribute("role", "alert");
    p.textContent = (lang() === "en" ? "The diagram could not be shown: " : "无法显示流程图：") + (err && err.message ? err.message : String(err));
    root.appendChild(p);
  }

  function run(root, work) {
    window.sanjiPages = window.sanjiPages || [];
    var done = work.then(function (result) { return result; }, function (err) { failed(root, err); throw err; });
    window.sanjiPages.push(done.catch(function () {}));
    return done;
  }

  /* A file with several pools (a process and the processes it calls): show the pool of `key`;
   * with `focus`, a readable stretch of it around that element (wide pools get small otherwise). */
  function zoomToProcess(result, key, focus) {
    var viewer = result && result.viewer;
    if (!viewer || !key) { return result; }
    var registry = viewer.get("elementRegistry");
    var canvas = viewer.get("canvas");
    var pools = registry.filter(function (e) { return e.type === "bpmn:Participant"; });
    var pool = pools.filter(function (e) {
      var ref = e.businessObject && e.businessObject.processRef;
      return ref && ref.id === key;
    })[0];
    var box = pool && pools.length > 1
      ? { x: pool.x - 20, y: pool.y - 20, width: pool.width + 40, height: pool.height + 40 }
      : null;
    var el = focus ? registry.get(focus) : null;
    if (el && !el.waypoints) {
      var area = box || canvas.getActiveLayer().getBBox();
      var width = Math.min(area.width, 900);
      var left = Math.max(area.x, Math.min(el.x + el.width / 2 - width / 2, area.x + area.width - width));
      box = { x: left, y: area.y, width: width, height: area.height };
    }
    if (box) {
      canvas.viewbox(box);
    }
    return result;
  }

  function mountModeler(root) {
    if (!window.SanjiModeler) { return; }
    var key = root.dataset.key || undefined;
    var notice = document.getElementById("deployed");
    var dirty = false;
    window.addEventListener("beforeunload", function (event) {
      if (dirty) { event.preventDefault(); event.returnValue = ""; }
    });
    run(root, window.SanjiModeler.mount(root, {
      key: key,
      version: num(root.dataset.version),
      lang: lang(),
      onDeployed: function (data) {
        dirty = false;
        if (!notice || !data || !data.definitions || !data.definitions.length) { return; }
        var main = data.definitions.filter(function (d) { return d.key === key; })[0] || data.definitions[0];
        notice.querySelector("[data-role=text]").textContent = (root.dataset.deployedText || "") + " " +
          data.definitions.map(function (d) { return d.name + " v" + d.version; }).join("、");
        notice.querySelector("[data-role=link]").href = (root.dataset.libraryUrl || "/processes") + "/" +
          encodeURIComponent(main.key) + "?version=" + main.version;
        notice.hidden = false;
        notice.dataset.version = String(main.version);
        notice.dataset.key = main.key;
      }
    }).then(function (ctl) {
      window.sanjiModeler = ctl;
      ctl.modeler.on("commandStack.changed", function () { dirty = true; });
      return ctl;
    }));
  }

  function mountViewers() {
    var V = window.SanjiViewer;
    if (!V) { return; }
    document.querySelectorAll("[data-sanji-definition]").forEach(function (root) {
      run(root, V.showDefinition(root, { key: root.dataset.key, version: num(root.dataset.version),
                                         highlight: root.dataset.highlight || undefined, lang: lang() })
        .then(function (r) { return zoomToProcess(r, root.dataset.key); }));
    });
    document.querySelectorAll("[data-sanji-instance]").forEach(function (root) {
      // only the instance's own process, fitted to the box (the viewer pans and zooms)
      run(root, V.showInstance(root, { instanceId: root.dataset.instanceId, highlight: root.dataset.highlight || undefined,
                                       lang: lang() }));
    });
    document.querySelectorAll("[data-sanji-heatmap]").forEach(function (root) {
      run(root, V.showHeatmap(root, { key: root.dataset.key, version: num(root.dataset.version),
                                      mode: root.dataset.mode || "active", lang: lang() }));
    });
    document.querySelectorAll("[data-sanji-compare]").forEach(function (root) {
      run(root, V.mountCompare(root, { key: root.dataset.key, from: num(root.dataset.from), to: num(root.dataset.to),
                                       lang: lang() }));
    });
    // the task page: this instance's diagram with the task highlighted (else the definition's)
    var task = document.querySelector("#diagram[data-bpmn-url]");
    if (task) {
      var highlight = task.dataset.highlight || undefined;
      var work = task.dataset.instanceId
        ? V.showInstance(task, { instanceId: task.dataset.instanceId, highlight: highlight, lang: lang() })
            .catch(function () {
              return V.showDefinition(task, { key: task.dataset.key, version: num(task.dataset.version),
                                              highlight: highlight, lang: lang() });
            })
        : V.showDefinition(task, { key: task.dataset.key, version: num(task.dataset.version), highlight: highlight,
                                   lang: lang() });
      run(task, work.then(function (result) {
        if (!result.fitted) { zoomToProcess(result, task.dataset.key, highlight); }
        task.dataset.highlighted = highlight && task.querySelector('.djs-element.sanji-highlight') ? highlight : "";
        return result;
      }));
    }
  }

  function start() {
    document.querySelectorAll("[data-sanji-modeler]").forEach(mountModeler);
    mountViewers();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
