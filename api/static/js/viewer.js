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

// Words the viewer adds to the shared messages (common.js): zoom controls, states, captions.
const WORDS = {
  zh: { zoomIn: '放大', zoomOut: '缩小', fit: '适合窗口', suspended: '已挂起', version: v => `第${v}版`,
    status: { running: '进行中', suspended: '已挂起', error: '因错误停止', completed: '已完成', terminated: '已终止' } },
  en: { zoomIn: 'Zoom in', zoomOut: 'Zoom out', fit: 'Fit', suspended: 'Suspended', version: v => `v${v}`,
    status: { running: 'running', suspended: 'suspended', error: 'stopped by an error', completed: 'completed',
      terminated: 'terminated' } },
};

function words(lang) {
  const code = (lang || (typeof document !== 'undefined' && document.documentElement.lang) || 'zh');
  return code.startsWith('en') ? WORDS.en : WORDS.zh;
}

function frame(root, t, legendItems) {
  root.classList.add('sanji-viewer');
  root.dataset.state = 'loading';
  const canvas = el('div', { class: 'sanji-viewer-canvas', 'data-role': 'canvas' });
  const legend = el('div', { class: 'sanji-legend', 'data-role': 'legend' });
  setLegend(legend, legendItems);
  const info = el('div', { class: 'sanji-status', 'data-role': 'info' });
  const foot = el('div', { class: 'sanji-viewer-foot' }, info);
  root.replaceChildren(legend, canvas, foot);
  return { canvas, legend, info, foot };
}

function setLegend(legend, items) {
  legend.replaceChildren(...items.map(([cls, label]) => el('span', { class: `sanji-key ${cls}` }, label)));
}

/** Only the pool of process `key` (a file may hold the processes it calls, in other pools). */
export function onlyProcess(xml, key) {
  if (!key || typeof DOMParser === 'undefined') {
    return xml;
  }
  const BPMN = 'http://www.omg.org/spec/BPMN/20100524/MODEL';
  const doc = new DOMParser().parseFromString(xml, 'application/xml');
  if (doc.getElementsByTagName('parsererror').length) {
    return xml;
  }
  const participants = Array.from(doc.getElementsByTagNameNS(BPMN, 'participant'));
  if (participants.length < 2 || !participants.some(p => p.getAttribute('processRef') === key)) {
    return xml;
  }
  const removed = new Set();
  for (const p of participants) {
    const ref = p.getAttribute('processRef');
    if (ref === key) {
      continue;
    }
    removed.add(p.getAttribute('id'));
    p.parentNode.removeChild(p);
    const process = Array.from(doc.getElementsByTagNameNS(BPMN, 'process')).find(e => e.getAttribute('id') === ref);
    if (process) {
      process.querySelectorAll('[id]').forEach(e => removed.add(e.getAttribute('id')));
    }
  }
  for (const flow of Array.from(doc.getElementsByTagNameNS(BPMN, 'messageFlow'))) {
    removed.add(flow.getAttribute('id'));
    flow.parentNode.removeChild(flow);
  }
  const DI = 'http://www.omg.org/spec/BPMN/20100524/DI';
  for (const tag of ['BPMNShape', 'BPMNEdge']) {
    for (const di of Array.from(doc.getElementsByTagNameNS(DI, tag))) {
      if (removed.has(di.getAttribute('bpmnElement'))) {
        di.parentNode.removeChild(di);
      }
    }
  }
  return new XMLSerializer().serializeToString(doc);
}

/** The box as tall as the diagram needs at the box's width (between 220 px and 60% of the
 *  window), so a wide pool does not float in white space. */
function sizeToDiagram(viewer, box) {
  const inner = viewer.get('canvas').viewbox().inner;
  const width = box.clientWidth;
  if (!inner || !inner.width || !width) {
    return;
  }
  const tall = Math.min(window.innerHeight * 0.6, width * (inner.height + 48) / (inner.width + 48));
  box.style.height = `${Math.round(Math.max(220, tall))}px`;
  box.style.minHeight = '0';
  viewer.get('canvas').resized();
}

/** Fit the whole diagram into the box with a margin, so that no shape is cut off. */
export function fitAll(viewer) {
  const canvas = viewer.get('canvas');
  const inner = canvas.viewbox().inner;
  if (!inner || !inner.width || !inner.height) {
    canvas.zoom('fit-viewport', 'auto');
    return;
  }
  const margin = 24;
  const outer = canvas.viewbox().outer;
  const box = { x: inner.x - margin, y: inner.y - margin, width: inner.width + 2 * margin, height: inner.height + 2 * margin };
  // centre the diagram in the box: widen the shorter side to the box's aspect
  const aspect = outer.width / outer.height;
  if (box.width / box.height < aspect) {
    const w = box.height * aspect;
    box.x -= (w - box.width) / 2;
    box.width = w;
  } else {
    const h = box.width / aspect;
    box.y -= (h - box.height) / 2;
    box.height = h;
  }
  canvas.viewbox(box);
}

/** Zoom buttons (the wheel and dragging pan and zoom too) and the bpmn.io logo beside them,
 *  outside the canvas so that it never covers an element. */
function controls(viewer, parts, lang) {
  const w = words(lang);
  const canvas = viewer.get('canvas');
  const step = factor => () => canvas.zoom(canvas.zoom() * factor, 'auto');
  const bar = el('div', { class: 'sanji-zoom', role: 'group' },
    el('button', { type: 'button', class: 'sanji-btn', 'data-zoom': 'in', onclick: step(1.25) }, w.zoomIn),
    el('button', { type: 'button', class: 'sanji-btn', 'data-zoom': 'out', onclick: step(0.8) }, w.zoomOut),
    el('button', { type: 'button', class: 'sanji-btn', 'data-zoom': 'fit', onclick: () => fitAll(viewer) }, w.fit));
  parts.foot.appendChild(bar);
  const logo = parts.canvas.querySelector('.bjs-powered-by');
  if (logo) {
    parts.foot.appendChild(logo);
  }
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

/** An instance: completed, active (or suspended) and failed elements from
 *  GET /process-instances/{id}/diagram, only its own process, fitted to the box. */
export async function showInstance(root, { instanceId, api, lang, highlight: highlightId } = {}) {
  const t = messages(lang);
  const w = words(lang);
  const client = apiClient(api);
  const parts = frame(root, t, []);
  const data = await client.get(`/api/v1/process-instances/${instanceId}/diagram`);
  const viewer = createViewer(parts.canvas);
  await viewer.importXML(onlyProcess(data.xml, data.process_key));
  const suspended = data.status === 'suspended';
  const shown = {
    // a loop back makes an element both completed and active: active wins the colour
    completed: addMarkers(viewer, data.completed.filter(id => !data.active.includes(id) && !data.failed.includes(id)), 'sanji-completed'),
    active: suspended ? [] : addMarkers(viewer, data.active, 'sanji-active'),
    suspended: suspended ? addMarkers(viewer, data.active, 'sanji-suspended') : [],
    failed: addMarkers(viewer, data.failed, 'sanji-failed'),
    highlight: [],
  };
  const overlays = viewer.get('overlays');
  for (const task of data.open_tasks || []) {
    if (findElement(viewer, task.spec_id) && task.assignee) {
      overlays.add(task.spec_id, 'sanji-assignee', { position: { bottom: 4, left: 4 },
        html: `<span class="sanji-badge sanji-badge-assignee">${escapeHTML(task.assignee)}</span>` });
    }
  }
  if (highlightId && findElement(viewer, highlightId)) {
    viewer.get('canvas').addMarker(highlightId, 'sanji-highlight');
    shown.highlight.push(highlightId);
  }
  // one legend for every colour drawn (completed and active always, as the states to expect)
  const keys = [['completed', 'sanji-key-completed', t('completed')],
    ['active', 'sanji-key-active', t('active')], ['suspended', 'sanji-key-suspended', w.suspended],
    ['failed', 'sanji-key-failed', t('failed')], ['highlight', 'sanji-key-highlight', t('highlight')]];
  setLegend(parts.legend, keys.filter(([state]) => shown[state].length || (state === 'completed')
    || (state === 'active' && !suspended)).map(([, cls, label]) => [cls, label]));
  sizeToDiagram(viewer, parts.canvas);
  fitAll(viewer);
  controls(viewer, parts, lang);
  const status = w.status[data.status] || data.status;
  parts.info.textContent = `${data.process_name} ${w.version(data.version)} · ${status}` +
    (data.incident ? ` · ${t('failed')}: ${data.incident.message}` : '');
  root.dataset.state = 'ready';
  root.dataset.active = shown.active.concat(shown.suspended).join(' ');
  root.dataset.suspended = shown.suspended.join(' ');
  root.dataset.completed = shown.completed.join(' ');
  root.dataset.failed = shown.failed.join(' ');
  root.dataset.highlighted = shown.highlight.join(' ');
  return { viewer, data, shown, fitted: true };
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
  await viewer.importXML(onlyProcess(data.xml, key));
  fitAll(viewer);
  controls(viewer, parts, lang);
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
  parts.info.textContent = `${data.name || key} ${words(lang).version(data.version)} · ${data.instances.total} ${t('instances')}`;
  root.dataset.state = 'ready';
  root.dataset.painted = painted.join(' ');
  return { viewer, data, painted };
}

function escapeHTML(text) {
  return String(text).replace(/[&<>"']/g, c => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
}

const SanjiViewer = { createViewer, onlyProcess, fitAll, showInstance, showDefinition, showHeatmap, highlight, mountCompare, moddleExtensions };
window.SanjiViewer = SanjiViewer;
export default SanjiViewer;
