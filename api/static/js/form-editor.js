// The form editor (issue 15, api/web/forms.py): CodeMirror 6 over a form's JSON, problems of the
// server's check on their line, a live preview rendered by the task page's own renderer (POST
// /forms/preview), deploy as a new version (POST /api/v1/forms). Mounts itself on
// <div data-sanji-form-editor data-key=… data-check-url=… data-deploy-url=… data-preview-url=…>
// (no inline script: the page keeps its CSP). The root ends with data-state="ready"; after a
// deploy data-deployed="N"; data-problems counts the problems shown.
import { EditorState } from '@codemirror/state';
import { EditorView, highlightActiveLine, keymap, lineNumbers } from '@codemirror/view';
import { defaultKeymap, history, historyKeymap, indentWithTab } from '@codemirror/commands';
import { bracketMatching, defaultHighlightStyle, ensureSyntaxTree, indentOnInput, syntaxHighlighting } from '@codemirror/language';
import { json } from '@codemirror/lang-json';
import { lintGutter, setDiagnostics } from '@codemirror/lint';

import { apiClient } from './common.js';

const VALUES = new Set(['Object', 'Array', 'String', 'Number', 'True', 'False', 'Null']);

/** The text range of a JSON pointer (`['properties', 'name', 'type']`) in the document: the
 * property named by the last segment (or the array item), else the deepest part that exists. */
export function locate(state, segments) {
  const tree = ensureSyntaxTree(state, state.doc.length, 2000);
  if (!tree) { return { from: 0, to: 0 }; }
  let node = tree.topNode.firstChild;
  while (node && !VALUES.has(node.name)) { node = node.nextSibling; }
  let hit = node;
  for (const seg of segments) {
    let next = null;
    if (node && node.name === 'Object') {
      for (let c = node.firstChild; c; c = c.nextSibling) {
        if (c.name !== 'Property' || !c.firstChild) { continue; }
        let name;
        try { name = JSON.parse(state.sliceDoc(c.firstChild.from, c.firstChild.to)); } catch (e) { continue; }
        if (name === seg) {
          hit = c;
          next = c.lastChild;
          while (next && !VALUES.has(next.name)) { next = next.prevSibling; }
          break;
        }
      }
    } else if (node && node.name === 'Array') {
      let i = 0;
      for (let c = node.firstChild; c; c = c.nextSibling) {
        if (!VALUES.has(c.name)) { continue; }
        if (String(i) === seg) { hit = c; next = c; break; }
        i += 1;
      }
    }
    if (!next) { break; }
    node = next;
  }
  return hit ? { from: hit.from, to: hit.to } : { from: 0, to: 0 };
}

/** A problem of the API (`{field, message, line?, column?}`) as a range of the document. */
export function rangeOf(state, detail) {
  if (detail.line) {
    const line = state.doc.line(Math.min(Math.max(1, detail.line), state.doc.lines));
    const pos = Math.min(line.from + Math.max(0, (detail.column || 1) - 1), line.to);
    return { from: pos, to: Math.min(pos + 1, state.doc.length) };
  }
  const field = String(detail.field || '');
  const segments = field === 'schema' || field === '' ? [] : field.replace(/^schema\//, '').split('/');
  return locate(state, segments);
}

function mount(root) {
  const api = apiClient();
  const text = (name, n) => (root.dataset[name] || '').replace('{n}', n);
  const source = root.querySelector('textarea');
  const preview = document.getElementById('form-preview');
  const list = document.getElementById('form-problems');
  const status = root.querySelector('[data-role="status"]');
  let timer = null;

  const view = new EditorView({
    parent: source.parentNode,
    state: EditorState.create({
      doc: source.value,
      extensions: [
        lineNumbers(), history(), highlightActiveLine(), bracketMatching(), indentOnInput(),
        syntaxHighlighting(defaultHighlightStyle, { fallback: true }), json(), lintGutter(),
        keymap.of([...defaultKeymap, ...historyKeymap, indentWithTab]),
        EditorView.updateListener.of((u) => { if (u.docChanged) { schedulePreview(); } }),
      ],
    }),
  });
  source.hidden = true;

  function say(message) { status.textContent = message; }

  function showProblems(details) {
    const state = view.state;
    const found = (details || []).map((d) => ({ d, range: rangeOf(state, d) }));
    view.dispatch(setDiagnostics(state, found.map(({ d, range }) => (
      { from: range.from, to: range.to, severity: 'error', message: d.message || String(d.field) }))));
    list.textContent = '';
    for (const { d, range } of found) {
      const li = document.createElement('li');
      const line = state.doc.lineAt(range.from).number;
      li.dataset.line = String(line);
      li.textContent = `${text('textLine', line)}：${d.message || ''}`;
      li.addEventListener('click', () => {
        view.dispatch({ selection: { anchor: range.from }, scrollIntoView: true });
        view.focus();
      });
      list.appendChild(li);
    }
    list.hidden = found.length === 0;
    root.dataset.problems = String(found.length);
  }

  function problemsOf(err) {
    const payload = err && err.payload;
    if (payload && Array.isArray(payload.problems)) { return payload.problems; }
    if (payload && Array.isArray(payload.details) && payload.details.length) { return payload.details; }
    return null;
  }

  async function post(url, body) {
    const response = await fetch(url, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json', 'X-CSRFToken': csrf(), 'X-CSRF-Token': csrf() },
      body: JSON.stringify(body),
    });
    return response;
  }

  function csrf() {
    const meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : '';
  }

  async function renderPreview() {
    const response = await post(root.dataset.previewUrl, { schema: view.state.doc.toString() });
    if (response.ok) {
      preview.innerHTML = await response.text();  // our server's template (escaped by Jinja)
      showProblems([]);
      root.dataset.previewed = String(Number(root.dataset.previewed || 0) + 1);
      return true;
    }
    const payload = await response.json().catch(() => ({}));
    showProblems(payload.problems || payload.details || []);
    return false;
  }

  function schedulePreview() {
    clearTimeout(timer);
    timer = setTimeout(() => { renderPreview().catch((e) => say(`${text('textFailed')} ${e.message}`)); }, 600);
  }

  async function check() {
    try {
      await api.postJSON(root.dataset.checkUrl, { schema: view.state.doc.toString() });
      showProblems([]);
      say(text('textOk'));
      return true;
    } catch (err) {
      const found = problemsOf(err);
      if (found) { showProblems(found); } else { say(`${text('textFailed')} ${err.message}`); }
      return false;
    }
  }

  async function deploy() {
    try {
      const r = await api.postJSON(root.dataset.deployUrl, { key: root.dataset.key, schema: view.state.doc.toString() });
      showProblems([]);
      say(text(r.status === 201 ? 'textDeployed' : 'textUnchanged', r.data.version));
      root.dataset.deployed = String(r.data.version);
      const message = { type: 'sanji-form-deployed', key: r.data.key, version: r.data.version, title: r.data.title };
      if (window.opener) { window.opener.postMessage(message, window.location.origin); }
      return r.data;
    } catch (err) {
      const found = problemsOf(err);
      if (found) { showProblems(found); }
      say(`${text('textFailed')} ${err.message}`);
      return null;
    }
  }

  root.querySelector('[data-action="check"]').addEventListener('click', check);
  root.querySelector('[data-action="preview"]').addEventListener('click', () => renderPreview());
  root.querySelector('[data-action="deploy"]').addEventListener('click', deploy);
  const editor = { view, check, deploy, preview: renderPreview,
    getText: () => view.state.doc.toString(),
    setText: (value) => view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: value } }) };
  window.SanjiFormEditor = editor;
  renderPreview().finally(() => { root.dataset.state = 'ready'; });
  return editor;
}

function start() {
  for (const root of document.querySelectorAll('[data-sanji-form-editor]')) { mount(root); }
}

if (document.readyState === 'loading') { document.addEventListener('DOMContentLoaded', start); } else { start(); }
