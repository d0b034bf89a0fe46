/* Sanji web: attachment fields of task forms (templates/_form.html, widget "attachment").
 *
 * A chosen or dropped file is uploaded at once to POST /api/v1/attachments (the session cookie and
 * the page's CSRF token), with a progress bar; the answer's id becomes a hidden input named by the
 * field's path, which the form submits (api/web/formrender.py `parse`). "移除" drops a file before
 * submitting. Without JavaScript the plain file control (`_upload:<path>`) posts with the form.
 * Delegated on the document, so rows added to repeating groups work too.
 */
(function () {
  "use strict";

  var zh = (document.documentElement.lang || "zh").indexOf("en") !== 0;
  var T = zh
    ? { remove: "移除", failed: "上传失败：", wait: "请等文件上传完成后再提交。", uploading: "正在上传" }
    : { remove: "Remove", failed: "Upload failed: ", wait: "Wait until the files are uploaded.", uploading: "Uploading" };

  function size(n) {
    if (n < 1024) { return n + " B"; }
    if (n < 1024 * 1024) { return (n / 1024).toFixed(1) + " KB"; }
    return (n / 1024 / 1024).toFixed(1) + " MB";
  }

  function csrf() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : "";
  }

  function item(name, bytes) {
    var li = document.createElement("li");
    var label = document.createElement("span");
    label.className = "file-name";
    label.textContent = name;
    var info = document.createElement("span");
    info.className = "muted small";
    info.textContent = " " + size(bytes) + " ";
    var remove = document.createElement("button");
    remove.type = "button";
    remove.className = "link danger";
    remove.setAttribute("data-remove-file", "");
    remove.textContent = T.remove;
    li.appendChild(label);
    li.appendChild(info);
    li.appendChild(remove);
    return li;
  }

  function upload(field, file) {
    var form = field.closest("form");
    var list = field.querySelector("[data-attached]");
    if (field.getAttribute("data-multiple") !== "true") {
      list.innerHTML = "";
    }
    var li = item(file.name, file.size);
    var bar = document.createElement("progress");
    bar.max = 100;
    bar.value = 0;
    bar.setAttribute("aria-label", T.uploading + " " + file.name);
    li.insertBefore(bar, li.lastChild);
    li.setAttribute("data-uploading", "");
    list.appendChild(li);
    var body = new FormData();
    body.append("file", file, file.name);
    var xhr = new XMLHttpRequest();
    xhr.open("POST", form.getAttribute("data-upload-url"));
    xhr.setRequestHeader("X-CSRFToken", csrf());
    xhr.setRequestHeader("Accept", "application/json");
    xhr.upload.addEventListener("progress", function (e) {
      if (e.lengthComputable) { bar.value = Math.round(100 * e.loaded / e.total); }
    });
    xhr.addEventListener("loadend", function () {
      li.removeAttribute("data-uploading");
      var data = null;
      try { data = JSON.parse(xhr.responseText); } catch (err) { data = null; }
      if (xhr.status === 201 && data && data.id) {
        bar.remove();
        var input = document.createElement("input");
        input.type = "hidden";
        input.name = field.getAttribute("data-attachment-field");
        input.value = data.id;
        li.setAttribute("data-attachment-id", data.id);
        li.appendChild(input);
      } else {
        bar.remove();
        li.classList.add("error");
        li.setAttribute("role", "alert");
        li.insertBefore(document.createTextNode(T.failed + ((data && data.message) || xhr.status) + " "), li.lastChild);
      }
    });
    xhr.send(body);
  }

  function take(field, files) {
    var many = field.getAttribute("data-multiple") === "true";
    for (var i = 0; i < files.length && (many || i < 1); i++) {
      upload(field, files[i]);
    }
  }

  document.addEventListener("change", function (e) {
    var input = e.target;
    var field = input.closest && input.closest("[data-attachment-field]");
    if (!field || input.type !== "file" || !input.files || !input.files.length) { return; }
    take(field, input.files);
    input.value = "";  // uploaded: the form must not post the file again
  });

  document.addEventListener("click", function (e) {
    var button = e.target.closest && e.target.closest("[data-remove-file]");
    if (button && button.closest("[data-attachment-field]")) {
      button.closest("li").remove();
    }
  });

  ["dragenter", "dragover"].forEach(function (type) {
    document.addEventListener(type, function (e) {
      var zone = e.target.closest && e.target.closest("[data-dropzone]");
      if (zone) { e.preventDefault(); zone.classList.add("dragging"); }
    });
  });
  document.addEventListener("dragleave", function (e) {
    var zone = e.target.closest && e.target.closest("[data-dropzone]");
    if (zone) { zone.classList.remove("dragging"); }
  });
  document.addEventListener("drop", function (e) {
    var zone = e.target.closest && e.target.closest("[data-dropzone]");
    if (!zone) { return; }
    e.preventDefault();
    zone.classList.remove("dragging");
    if (e.dataTransfer && e.dataTransfer.files.length) {
      take(zone.closest("[data-attachment-field]"), e.dataTransfer.files);
    }
  });

  document.addEventListener("submit", function (e) {
    if (e.target.querySelector && e.target.querySelector("[data-attachment-field] [data-uploading]")) {
      e.preventDefault();
      window.alert(T.wait);
    }
  }, true);
})();
