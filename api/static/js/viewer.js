// The diagram viewer bundle (window.SanjiViewer): bpmn-js NavigatedViewer for instance tracing
// (completed / active / failed elements), a task highlight, the per-definition heatmap and the
// version comparison.
//
//   await SanjiViewer.showInstance(el, { instanceId: 42, highlight: 'unit_review' });
//   await SanjiViewer.showDefinition(el, { key: 'monthly_report', version: 2, highlight: 'write_report' });
//   await SanjiViewer.showHeatmap(el, { key: 'monthly_report', version: 2 });
//   await SanjiViewer.mountCompare(el, { key: 'monthly_report', from: 1, to: 2 });
import NavigatedViewer from 'bpmn-js/lib/NavigatedViewer';

import { mountCompare } from './compare.js';
import { apiClient, el, findElement, focusElement, messages, moddleExtensions, patchModdle } from './common.js';

export function createViewer(container) {
  const viewer = new NavigatedViewer({ container, moddleExtensions });
  patchModdle(viewer.get('moddle'));
  return viewer;
}

function frame(root, t, legendItems) {
  root.classList.add('sanji-viewer');
  root.dataset.state = 'loading';
  const canvas = el('div', { class: 'sanji-viewer-canvas', 'data-role': 'canvas' });
  const legend = el('div', { class: 'sanji-legend', 'data-role': 'legend' },
    legendItems.map(([cls, label]) => el('span', { class: `sanji-key ${cls}` }, label)));
  const info = el('div', { class: 'sanji-status', 'data-role': 'info' });
  root.replaceChildren(legend, canvas, info);
  return { canvas, legend, info };
}

async function render(viewer, xml) {
  const { warnings } = await viewer.importXML(xml);
  viewer.get('canvas').zoom('fit-viewport', 'auto');
  return warnings;
}

function addMarkers(viewer, ids, marker) {
  const canvas = viewer.get('canvas');
  const shown = [];
  for (const id of ids || []) {
    if (findElement(viewer, id)) {
      canvas.addMarker(id, marker);
      shown.push(id);
    }
  }
  return shown;
}

/** Highlight one element (e.g. the task being worked on) and bring it into view. */
export function highlight(viewer, id) {
  if (!findElement(viewer, id)) {
    return false;
  }
  viewer.get('canvas').addMarker(id, 'sanji-highlight');
  focusElement(viewer, id);
  return true;
}

/** An instance: completed, active and failed elements from GET /process-instances/{id}/diagram. */
export async function showInstance(root, { instanceId, api, lang, highlight: highlightId } = {}) {
  const t = messages(lang);
  const client = apiClient(api);
  const parts = frame(root, t, [['sanji-key-completed', t('completed')], ['sanji-key-active', t('active')],
    ['sanji-key-failed', t('failed')]]);
  const data = await client.get(`/api/v1/process-instances/${instanceId}/diagram`);
  const viewer = createViewer(parts.canvas);
  await render(viewer, data.xml);
  const shown = {
    // a loop back makes an element both completed and active: active wins the colour
    completed: addMarkers(viewer, data.completed.filter(id => !data.active.includes(id) && !data.failed.includes(id)), 'sanji-completed'),
    active: addMarkers(viewer, data.active, 'sanji-active'),
    failed: addMarkers(viewer, data.failed, 'sanji-failed'),
  };
  const overlays = viewer.get('overlays');
  for (const task of data.open_tasks || []) {
    if (findElement(viewer, task.spec_id) && task.assignee) {
      overlays.add(task.spec_id, 'sanji-assignee', { position: { bottom: 4, left: 4 },
        html: `<span class="sanji-badge sanji-badge-assignee">${escapeHTML(task.assignee)}</span>` });
    }
  }
  if (highlightId) {
    highlight(viewer, highlightId);
  }
  parts.info.textContent = `${data.process_name} v${data.version} · ${data.status}` +
    (data.incident ? ` · ${t('failed')}: ${data.incident.message}` : '');
  root.dataset.state = 'ready';
  root.dataset.active = shown.active.join(' ');
  root.dataset.completed = shown.completed.join(' ');
  root.dataset.failed = shown.failed.join(' ');
  return { viewer, data, shown };
}

/** A deployed version's diagram, optionally with one element highlighted (the task page). */
export async function showDefinition(root, { key, version, api, lang, highlight: highlightId } = {}) {
  const t = messages(lang);
  const client = apiClient(api);
  const parts = frame(root, t, highlightId ? [['sanji-key-highlight', t('highlight')]] : []);
  const q = version ? `?version=${version}` : '';
  const xml = await client.getText(`/api/v1/process-definitions/${encodeURIComponent(key)}/xml${q}`);
  const viewer = createViewer(parts.canvas);
  await render(viewer, xml);
  const highlighted = highlightId ? highlight(viewer, highlightId) : false;
  root.dataset.state = 'ready';
  root.dataset.highlighted = highlighted ? highlightId : '';
  return { viewer, highlighted };
}

function heatColour(value, max, hue) {
  if (!value || !max) {
    return null;
  }
  const share = value / max;
  const lightness = 90 - Math.round(share * 28); // 90% (few) … 62% (most): labels stay readable
  return `hsl(${hue}, 85%, ${lightness}%)`;
}

/** Per element: instances at it (active) and passed through it (completed), as colour and badges. */
export async function showHeatmap(root, { key, version, api, lang, mode = 'active' } = {}) {
  const t = messages(lang);
  const client = apiClient(api);
  const parts = frame(root, t, [['sanji-key-heat-active', t('heatActive')], ['sanji-key-heat-completed', t('heatCompleted')]]);
  const q = version ? `?version=${version}` : '';
  const data = await client.get(`/api/v1/process-definitions/${encodeURIComponent(key)}/heatmap${q}`);
  const viewer = createViewer(parts.canvas);
  await render(viewer, data.xml);
  const registry = viewer.get('elementRegistry');
  const overlays = viewer.get('overlays');
  const painted = [];
  for (const [id, counts] of Object.entries(data.elements)) {
    const element = registry.get(id);
    if (!element) {
      continue;
    }
    const fill = mode === 'active' && counts.active
      ? heatColour(counts.active, data.max.active, 8)
      : heatColour(counts.completed, data.max.completed, 210);
    const gfx = registry.getGraphics(element);
    const shape = gfx && gfx.querySelector('.djs-visual > :first-child');
    if (fill && shape && !element.waypoints) {
      shape.style.fill = fill;
      painted.push(id);
    }
    const badges = [];
    if (counts.active) {
      badges.push(`<span class="sanji-badge sanji-badge-active" title="${t('heatActive')}">${counts.active}</span>`);
    }
    if (counts.failed) {
      badges.push(`<span class="sanji-badge sanji-badge-error" title="${t('failed')}">${counts.failed}</span>`);
    }
    if (counts.completed) {
      badges.push(`<span class="sanji-badge sanji-badge-completed" title="${t('heatCompleted')}">${counts.completed}</span>`);
    }
    if (badges.length && !element.waypoints) {
      overlays.add(id, 'sanji-heat', { position: { top: -12, left: 0 }, html: `<span class="sanji-heat">${badges.join('')}</span>` });
    }
  }
  parts.info.textContent = `${key} v${data.version} · ${data.instances.total} ${t('instances')}`;
  root.dataset.state = 'ready';
  root.dataset.painted = painted.join(' ');
  return { viewer, data, painted };
}

function escapeHTML(text) {
  return String(text).replace(/[&<>"']/g, c => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
}

const SanjiViewer = { createViewer, showInstance, showDefinition, showHeatmap, highlight, mountCompare, moddleExtensions };
window.SanjiViewer = SanjiViewer;
export default SanjiViewer;
