// Compare two deployed versions: the server computes the difference (engine/diff.py), the two
// diagrams are shown side by side with added (to), removed (from), changed (both) and moved
// elements coloured, and a table lists every changed field.
import NavigatedViewer from 'bpmn-js/lib/NavigatedViewer';

import { apiClient, el, findElement, focusElement, messages, moddleExtensions, patchModdle } from './common.js';
import { fieldLabel, kindLabel } from './kinds.js';

function viewerIn(container) {
  const viewer = new NavigatedViewer({ container, moddleExtensions });
  patchModdle(viewer.get('moddle'));
  return viewer;
}

function mark(viewer, ids, marker) {
  const canvas = viewer.get('canvas');
  const done = [];
  for (const id of ids) {
    if (findElement(viewer, id)) {
      canvas.addMarker(id, marker);
      done.push(id);
    }
  }
  return done;
}

function show(value) {
  if (value === null || value === undefined) {
    return '—';
  }
  return typeof value === 'string' ? value : JSON.stringify(value);
}

export async function mountCompare(root, { key, from, to, api, lang } = {}) {
  const t = messages(lang);
  const client = api && api.get ? api : apiClient(api);
  root.classList.add('sanji-compare');
  root.dataset.state = 'loading';
  const q = new URLSearchParams();
  if (from) q.set('from', from);
  if (to) q.set('to', to);
  const diff = await client.get(`/api/v1/process-definitions/${encodeURIComponent(key)}/diff?${q}`);
  const base = `/api/v1/process-definitions/${encodeURIComponent(key)}/xml?version=`;
  const [xmlFrom, xmlTo] = await Promise.all([client.getText(base + diff.from.version), client.getText(base + diff.to.version)]);

  const left = el('div', { class: 'sanji-compare-canvas', 'data-role': 'from' });
  const right = el('div', { class: 'sanji-compare-canvas', 'data-role': 'to' });
  const legend = el('div', { class: 'sanji-legend' },
    el('span', { class: 'sanji-key sanji-key-added' }, t('added')), el('span', { class: 'sanji-key sanji-key-removed' }, t('removed')),
    el('span', { class: 'sanji-key sanji-key-changed' }, t('changed')), el('span', { class: 'sanji-key sanji-key-moved' }, t('moved')));
  const table = el('table', { class: 'sanji-diff-table', 'data-role': 'changes' });
  root.replaceChildren(
    el('h3', {}, `${t('compareTitle')}: ${t('version')} ${diff.from.version} → ${t('version')} ${diff.to.version}`), legend,
    el('div', { class: 'sanji-compare-panes' },
      el('figure', {}, el('figcaption', {}, `${t('version')} ${diff.from.version}`), left),
      el('figure', {}, el('figcaption', {}, `${t('version')} ${diff.to.version}`), right)),
    table);

  const vFrom = viewerIn(left);
  const vTo = viewerIn(right);
  await Promise.all([vFrom.importXML(xmlFrom), vTo.importXML(xmlTo)]);
  vFrom.get('canvas').zoom('fit-viewport', 'auto');
  vTo.get('canvas').zoom('fit-viewport', 'auto');

  const changedIds = diff.changed.map(c => c.id);
  const marked = {
    added: mark(vTo, diff.added.map(e => e.id), 'sanji-diff-added'),
    removed: mark(vFrom, diff.removed.map(e => e.id), 'sanji-diff-removed'),
    changed: [...new Set([...mark(vFrom, changedIds, 'sanji-diff-changed'), ...mark(vTo, changedIds, 'sanji-diff-changed')])],
    moved: mark(vTo, diff.layout_changed.filter(id => !changedIds.includes(id)), 'sanji-diff-moved'),
  };

  const rows = [el('tr', {}, el('th', {}, t('element')), el('th', {}, t('field')), el('th', {}, t('before')), el('th', {}, t('after')))];
  const link = (e, viewer) => el('button', { type: 'button', class: 'sanji-link', onclick: () => focusElement(viewer, e.id) },
    e.name ? `${e.name}（${kindLabel(e.type, lang)}）` : kindLabel(e.type, lang));
  for (const e of diff.added) {
    rows.push(el('tr', { class: 'sanji-row-added', dataset: { elementId: e.id } }, el('td', {}, link(e, vTo)), el('td', {}, t('added')), el('td', {}, '—'), el('td', {}, e.name || kindLabel(e.type, lang))));
  }
  for (const e of diff.removed) {
    rows.push(el('tr', { class: 'sanji-row-removed', dataset: { elementId: e.id } }, el('td', {}, link(e, vFrom)), el('td', {}, t('removed')), el('td', {}, e.name || kindLabel(e.type, lang)), el('td', {}, '—')));
  }
  for (const e of diff.changed) {
    e.changes.forEach((c, i) => rows.push(el('tr', { class: 'sanji-row-changed', dataset: { elementId: e.id } },
      el('td', {}, i === 0 ? link(e, vTo) : ''), el('td', {}, fieldLabel(c.field, lang)), el('td', {}, c.field === 'type' ? kindLabel(c.from, lang) : show(c.from)),
      el('td', {}, c.field === 'type' ? kindLabel(c.to, lang) : show(c.to)))));
  }
  if (rows.length === 1) {
    rows.push(el('tr', {}, el('td', { colspan: 4 }, t('noChanges'))));
  }
  table.replaceChildren(...rows);
  root.dataset.state = 'ready';
  return { diff, marked, viewers: { from: vFrom, to: vTo } };
}
