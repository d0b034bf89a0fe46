// The BPMN modeler bundle (window.SanjiModeler): bpmn-js Modeler + properties panel + the
// Sanji properties group, with validate / deploy / download / compare against the Sanji API.
//
//   const m = await SanjiModeler.mount(document.getElementById('modeler'), {
//     key: 'quarterly_tasks',        // open the latest deployed version (or `version: 3`, or `xml: '...'`)
//     api: { headers: { Authorization: 'Bearer …' } },   // default: session cookie + <meta name="csrf-token">
//     lang: 'zh',                    // or 'en'
//   });
//   await m.validate(); await m.deploy(); m.download(); await m.compare(1, 2);
import Modeler from 'bpmn-js/lib/Modeler';
import {
  BpmnPropertiesPanelModule,
  BpmnPropertiesProviderModule,
} from 'bpmn-js-properties-panel';

import TokenSimulationModule from 'bpmn-js-token-simulation';

import SanjiPropertiesModule, { TASK_ENTRY_HOOKS, getSpiffProperty, setSpiffProperty } from './properties.jsx';
import { mountCompare } from './compare.js';
import {
  apiClient, downloadText, el, findElement, focusElement, hasDiagram, language, messages, moddleExtensions, patchModdle,
} from './common.js';
import { translateModule } from './modeler-i18n.js';
import { lintConfig, lintModule } from './modeler-lint.js';
import { localizeTitles, zoomToProcess } from './modeler-view.js';
import TemplatesModule, { TIER_LANE_NAMES, createTemplateShape, templateCatalogue } from './modeler-templates.js';
import './sanji-modeler.css';

// The modeler's own words (common.js holds those it shares with the viewer).
const WORDS = {
  zh: {
    simulate: '模拟运行', simulateHelp: '在画布上让令牌走一遍流程，检查改过的图，不会部署也不会保存',
    confirmTitle: '确认部署', confirmLead: '部署后，下面这些流程会生成新版本，新发起的实例将使用新版本；正在运行的实例继续使用原版本：',
    confirmUnchanged: '以下流程没有变化，不生成新版本：', confirmOk: '确认部署', confirmCancel: '取消',
    newVersion: '新版本 v{n}', firstVersion: '首次部署 v1', nothingNew: '与已部署的版本相同，无需部署', cancelled: '已取消部署',
  },
  en: {
    simulate: 'Simulate', simulateHelp: 'Play tokens through the diagram on the canvas: nothing is deployed or saved',
    confirmTitle: 'Deploy?', confirmLead: 'These processes get a new version; new instances use it, running ones keep theirs:',
    confirmUnchanged: 'Unchanged, no new version:', confirmOk: 'Deploy', confirmCancel: 'Cancel',
    newVersion: 'new version v{n}', firstVersion: 'first version v1', nothingNew: 'Identical to the deployed versions: nothing to deploy',
    cancelled: 'Deploy cancelled',
  },
};

function words(lang) {
  const table = WORDS[language(lang)];
  return (key, vars = {}) => Object.entries(vars).reduce((text, [k, v]) => text.replace(`{${k}}`, v), table[key] || key);
}

// A new diagram: one pool with the three tier lanes (docs/bpmn-conventions.md), so that the steps the
// owner draws are offered to a tier at once; the start event in the group's lane.
const TIER_LANES = ['lane_group', 'lane_unit', 'lane_branch'].map((id, i) => ({ id, name: TIER_LANE_NAMES[i] }));
const LANE_HEIGHT = 160;
const lanesXml = TIER_LANES.map((l, i) => `      <bpmn:lane id="${l.id}" name="${l.name}">${i === 0
  ? '<bpmn:flowNodeRef>start</bpmn:flowNodeRef>' : ''}</bpmn:lane>`).join('\n');
const laneShapes = TIER_LANES.map((l, i) => `      <bpmndi:BPMNShape id="${l.id}_di" bpmnElement="${l.id}" isHorizontal="true">`
  + `<dc:Bounds x="150" y="${80 + i * LANE_HEIGHT}" width="1170" height="${LANE_HEIGHT}" /></bpmndi:BPMNShape>`).join('\n');
export const EMPTY = `<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" xmlns:dc="http://www.omg.org/spec/DD/20100524/DC" xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="Definitions_new" targetNamespace="http://sanji.example/bpmn">
  <bpmn:collaboration id="Collaboration_new">
    <bpmn:participant id="Participant_new" name="新流程" processRef="new_process" />
  </bpmn:collaboration>
  <bpmn:process id="new_process" name="新流程" isExecutable="true">
    <bpmn:laneSet id="LaneSet_new">
${lanesXml}
    </bpmn:laneSet>
    <bpmn:startEvent id="start" name="开始" />
  </bpmn:process>
  <bpmndi:BPMNDiagram id="BPMNDiagram_1">
    <bpmndi:BPMNPlane id="BPMNPlane_1" bpmnElement="Collaboration_new">
      <bpmndi:BPMNShape id="Participant_new_di" bpmnElement="Participant_new" isHorizontal="true"><dc:Bounds x="120" y="80" width="1200" height="${3 * LANE_HEIGHT}" /></bpmndi:BPMNShape>
${laneShapes}
      <bpmndi:BPMNShape id="start_di" bpmnElement="start"><dc:Bounds x="200" y="${80 + LANE_HEIGHT / 2 - 18}" width="36" height="36" /></bpmndi:BPMNShape>
    </bpmndi:BPMNPlane>
  </bpmndi:BPMNDiagram>
</bpmn:definitions>`;

/** A bare bpmn-js Modeler with our moddle extension; with `properties`, the whole editor:
 *  properties panel and Sanji group, lint on the canvas, token simulation. */
export function createModeler({ canvas, properties, config = {}, keyboard = true } = {}) {
  const modeler = new Modeler({
    container: canvas,
    keyboard: { bind: !!keyboard },  // diagram-js 15 binds to the canvas (bindTo is gone)
    propertiesPanel: properties
      ? { parent: properties, layout: { groups: { general: { open: true }, sanji: { open: true } } } }
      : undefined,
    linting: properties ? { bpmnlint: lintConfig(config), active: true } : undefined,
    additionalModules: [
      translateModule(config.lang),
      ...(properties
        ? [BpmnPropertiesPanelModule, BpmnPropertiesProviderModule, SanjiPropertiesModule, lintModule, TokenSimulationModule,
          TemplatesModule]
        : []),
    ],
    moddleExtensions,
    sanji: config,
  });
  patchModdle(modeler.get('moddle'));
  if (properties) {
    // a lint run still pending when the modeler is destroyed must not draw on the dead canvas
    const linting = modeler.get('linting');
    modeler.on('diagram.destroy', () => { linting._lintStart = null; });
  }
  return modeler;
}

/** Mount the whole editor (toolbar, canvas, properties panel, problem list) into `root`. */
export async function mount(root, options = {}) {
  const t = messages(options.lang);
  const w = words(options.lang);
  const api = apiClient(options.api);
  let key = options.key || null;
  let version = options.version || null;
  let problems = [];
  let markers = [];

  root.classList.add('sanji-modeler');
  root.dataset.state = 'loading';
  const status = el('div', { class: 'sanji-status', role: 'status', 'aria-live': 'polite' }, t('loading'));
  const buttons = {
    validate: el('button', { type: 'button', class: 'sanji-btn', 'data-action': 'validate' }, t('validate')),
    deploy: el('button', { type: 'button', class: 'sanji-btn sanji-btn-primary', 'data-action': 'deploy' }, t('deploy')),
    download: el('button', { type: 'button', class: 'sanji-btn', 'data-action': 'download' }, t('download')),
    undo: el('button', { type: 'button', class: 'sanji-btn', 'data-action': 'undo', title: t('undo') }, '↶'),
    redo: el('button', { type: 'button', class: 'sanji-btn', 'data-action': 'redo', title: t('redo') }, '↷'),
    fit: el('button', { type: 'button', class: 'sanji-btn', 'data-action': 'fit', title: t('fit') }, '⤢'),
    simulate: el('button', { type: 'button', class: 'sanji-btn', 'data-action': 'simulate', 'aria-pressed': 'false',
      title: w('simulateHelp') }, w('simulate')),
  };
  const fromSelect = el('select', { class: 'sanji-select', 'data-role': 'compare-from', 'aria-label': t('from') });
  const toSelect = el('select', { class: 'sanji-select', 'data-role': 'compare-to', 'aria-label': t('to') });
  const compareButton = el('button', { type: 'button', class: 'sanji-btn', 'data-action': 'compare' }, t('compare'));
  const compareBar = el('span', { class: 'sanji-compare-bar', hidden: true }, fromSelect, '→', toSelect, compareButton);
  const toolbar = el('div', { class: 'sanji-toolbar' }, buttons.validate, buttons.deploy, buttons.download,
    buttons.undo, buttons.redo, buttons.fit, buttons.simulate, compareBar);
  const canvasEl = el('div', { class: 'sanji-canvas', 'data-role': 'canvas' });
  const propertiesEl = el('div', { class: 'sanji-properties', 'data-role': 'properties' });
  const problemList = el('ol', { class: 'sanji-problems', 'data-role': 'problems' });
  const problemBox = el('section', { class: 'sanji-problem-box', hidden: true }, el('h3', {}, t('problems')), problemList);
  const compareBox = el('section', { class: 'sanji-compare-box', 'data-role': 'compare', hidden: true });
  const confirmBox = el('dialog', { class: 'sanji-confirm', 'data-role': 'confirm-deploy', 'aria-labelledby': 'sanji-confirm-title' });
  root.replaceChildren(toolbar, status, el('div', { class: 'sanji-workspace' }, canvasEl, propertiesEl), problemBox, compareBox,
    confirmBox);

  let config = { lang: options.lang };
  try {
    config = { ...(await api.get('/api/v1/modeler/config')), lang: options.lang };
  } catch (err) {
    // the editor still works without the form list and tier names
  }
  try {  // the called process is chosen among the deployed ones (and the pools of the file)
    const deployed = await api.get('/api/v1/process-definitions?per_page=500');
    config.processes = (deployed.items || []).map(d => ({ key: d.key, name: d.name }));
  } catch (err) {
    config.processes = [];
  }
  const modeler = createModeler({ canvas: canvasEl, properties: propertiesEl, config });
  // the palette sits in a strip of its own left of the drawing (sanji-modeler.css): follow its width
  const paletteStrip = () => {
    const wide = !!canvasEl.querySelector('.djs-palette.two-column.open');
    if (canvasEl.classList.contains('sanji-palette-wide') !== wide) {
      canvasEl.classList.toggle('sanji-palette-wide', wide);
      modeler.get('canvas').resized();
    }
  };
  modeler.on('palette.changed', paletteStrip);
  paletteStrip();
  modeler.on('tokenSimulation.toggleMode', ({ active }) => {
    buttons.simulate.setAttribute('aria-pressed', active ? 'true' : 'false');
    root.dataset.simulating = active ? 'true' : 'false';
  });
  localizeTitles(canvasEl, options.lang);
  localizeTitles(propertiesEl, options.lang, '[title]');

  function setStatus(text, kind = 'info') {
    status.textContent = text;
    status.dataset.kind = kind;
  }

  function clearProblems() {
    const canvas = modeler.get('canvas');
    const overlays = modeler.get('overlays');
    for (const id of markers) {
      if (findElement(modeler, id)) {
        canvas.removeMarker(id, 'sanji-error');
        canvas.removeMarker(id, 'sanji-warning');
      }
    }
    overlays.remove({ type: 'sanji-error' });
    markers = [];
    problems = [];
    problemList.replaceChildren();
    problemBox.hidden = true;
  }

  /** Mark the elements named by server-side problems and list every problem (click → select). */
  function showProblems(list) {
    clearProblems();
    problems = list || [];
    const canvas = modeler.get('canvas');
    const overlays = modeler.get('overlays');
    const counted = {};
    const onlyWarnings = {}; // deploy-check warnings (severity 'warning'): marked, but the deploy goes through
    for (const p of problems) {
      const known = !!findElement(modeler, p.element_id);
      const warning = p.severity === 'warning';
      if (known && !counted[p.element_id]) {
        markers.push(p.element_id);
      }
      if (known) {
        counted[p.element_id] = (counted[p.element_id] || 0) + 1;
        onlyWarnings[p.element_id] = (onlyWarnings[p.element_id] ?? true) && warning;
      }
      const where = [p.element_id ? `${t('element')} ${p.element_id}` : null, p.line ? `${t('line')} ${p.line}` : null]
        .filter(Boolean).join(', ');
      const item = el('li', { class: warning ? 'sanji-problem sanji-problem-warning' : 'sanji-problem',
        dataset: { elementId: p.element_id || '', severity: p.severity || 'error', code: p.code || '' } },
        warning ? `${t('warning')} ` : '',
        known
          ? el('button', { type: 'button', class: 'sanji-link', title: t('selectElement'), onclick: () => focusElement(modeler, p.element_id) }, where)
          : el('span', { class: 'sanji-where' }, where),
        where ? ': ' : '', p.message);
      problemList.append(item);
    }
    for (const [id, n] of Object.entries(counted)) {
      const kind = onlyWarnings[id] ? 'warning' : 'error';
      canvas.addMarker(id, `sanji-${kind}`);
      try {
        overlays.add(id, 'sanji-error', { position: { top: -10, right: 10 },
          html: `<span class="sanji-badge sanji-badge-${kind}" title="${n}">!</span>` });
      } catch (e) {
        // an element without graphics (e.g. on a collapsed plane) keeps its marker only
      }
    }
    problemBox.hidden = problems.length === 0;
  }

  async function open(xml) {
    clearProblems();
    compareBox.hidden = true;
    root.dataset.state = 'loading';
    let warnings = [];
    try {
      const result = await modeler.importXML(xml);
      warnings = result.warnings || [];
      paletteStrip();
      zoomToProcess(modeler, key);
      const edited = key && (modeler.getDefinitions().get('rootElements') || []).find(e => e.id === key);
      const title = key ? `${(edited && edited.get('name')) || key}${version ? ' · v' + version : ''}` : '';
      setStatus(warnings.length ? t('importWarnings', { n: warnings.length }) : title,
        warnings.length ? 'warning' : 'info');
    } catch (err) {
      if (!hasDiagram(xml) && modeler.getDefinitions()) {
        setStatus(t('noDiagram'), 'warning');
        root.dataset.state = 'no-diagram';
        return { warnings: [err.message] };
      }
      setStatus(`${t('error')}: ${err.message}`, 'error');
      root.dataset.state = 'error';
      throw err;
    }
    root.dataset.state = 'ready';
    if (warnings.length) {
      // e.g. an extension element the modeler does not know: it would not survive saving
      showProblems(warnings.map(w => ({ element_id: (w.element && w.element.id) || null, line: null,
        message: String(w.message).split('\n')[0] })));
    }
    root.dataset.importWarnings = String(warnings.length);
    return { warnings: warnings.map(w => w.message) };
  }

  async function getXML() {
    const { xml } = await modeler.saveXML({ format: true });
    return xml;
  }

  async function validate() {
    const xml = await getXML();
    const { data } = await api.postXML(`/api/v1/process-definitions/validate?filename=${encodeURIComponent(filename())}`, xml);
    const warnings = data.warnings || [];
    if (data.valid) {
      showProblems(warnings);
      setStatus(warnings.length ? t('validWithWarnings', { n: warnings.length }) : t('valid'), warnings.length ? 'warning' : 'ok');
    } else {
      showProblems(data.errors.concat(warnings));
      setStatus(t('invalid', { n: data.errors.length }), 'error');
    }
    root.dataset.validated = data.valid ? 'valid' : 'invalid';
    return data;
  }

  /** 部署: check first, then ask, listing every process of the file that gets a new version. */
  async function requestDeploy() {
    const data = await validate();
    if (!data.valid) {
      return null;
    }
    const plan = data.processes || [];
    const fresh = plan.filter(p => p.new_version);
    if (!fresh.length) {
      setStatus(w('nothingNew'), 'ok');
      return null;
    }
    const ok = await ask(plan);
    if (!ok) {
      setStatus(w('cancelled'), 'info');
      return null;
    }
    return deploy();
  }

  function ask(plan) {
    const item = p => el('li', { dataset: { key: p.key } }, el('strong', {}, p.name || p.key), ' · ',
      p.new_version ? (p.current_version ? w('newVersion', { n: p.new_version }) : w('firstVersion')) : `v${p.current_version}`);
    const fresh = plan.filter(p => p.new_version);
    const same = plan.filter(p => !p.new_version);
    const ok = el('button', { type: 'button', class: 'sanji-btn sanji-btn-primary', 'data-action': 'confirm-deploy' }, w('confirmOk'));
    const cancel = el('button', { type: 'button', class: 'sanji-btn', 'data-action': 'cancel-deploy' }, w('confirmCancel'));
    confirmBox.replaceChildren(...[
      el('h3', { id: 'sanji-confirm-title' }, w('confirmTitle')),
      el('p', {}, w('confirmLead')),
      el('ul', { 'data-role': 'new-versions' }, fresh.map(item)),
      same.length ? el('p', {}, w('confirmUnchanged')) : null,
      same.length ? el('ul', { 'data-role': 'unchanged' }, same.map(item)) : null,
      el('div', { class: 'sanji-confirm-actions' }, cancel, ok),
    ].filter(Boolean));
    return new Promise(resolve => {
      const done = (value) => {
        confirmBox.close();
        resolve(value);
      };
      ok.addEventListener('click', () => done(true));
      cancel.addEventListener('click', () => done(false));
      confirmBox.addEventListener('cancel', () => resolve(false), { once: true });
      confirmBox.showModal();
      cancel.focus();
    });
  }

  async function deploy() {
    const xml = await getXML();
    try {
      const { status: code, data } = await api.postXML(`/api/v1/process-definitions?filename=${encodeURIComponent(filename())}`, xml);
      showProblems(data.warnings || []);
      const what = data.definitions.map(d => `${d.key} v${d.version}`).join(', ');
      setStatus(code === 201 ? t('deployed', { what }) : t('unchanged'), 'ok');
      const main = data.definitions.find(d => d.key === key) || data.definitions[0];
      if (main) {
        key = main.key;
        version = main.version;
        await loadVersions();
      }
      root.dataset.deployed = what;
      if (options.onDeployed) {
        options.onDeployed(data);
      }
      return data;
    } catch (err) {
      const details = err.payload && Array.isArray(err.payload.details) ? err.payload.details : [];
      showProblems(details.filter(d => d && typeof d === 'object' && 'message' in d));
      setStatus(`${t('error')}: ${err.message}`, 'error');
      throw err;
    }
  }

  function filename() {
    return `${key || 'diagram'}.bpmn`;
  }

  async function download() {
    downloadText(filename(), await getXML());
  }

  async function loadVersions() {
    if (!key) {
      compareBar.hidden = true;
      return;
    }
    try {
      const page = await api.get(`/api/v1/process-definitions/${encodeURIComponent(key)}/versions?per_page=500`);
      const versions = page.items.map(d => d.version);
      compareBar.hidden = versions.length < 2;
      const fill = (select, selected) => select.replaceChildren(...versions.map(v =>
        el('option', { value: v, selected: v === selected }, `${t('version')} ${v}`)));
      fill(fromSelect, versions[1]);
      fill(toSelect, versions[0]);
    } catch (err) {
      compareBar.hidden = true;
    }
  }

  async function compare(from, to) {
    from = from || Number(fromSelect.value);
    to = to || Number(toSelect.value);
    compareBox.hidden = false;
    return mountCompare(compareBox, { key, from, to, api, lang: options.lang });
  }

  buttons.validate.addEventListener('click', () => validate().catch(err => setStatus(`${t('error')}: ${err.message}`, 'error')));
  buttons.deploy.addEventListener('click', () => requestDeploy().catch(err => setStatus(`${t('error')}: ${err.message}`, 'error')));
  buttons.simulate.addEventListener('click', () => modeler.get('toggleMode').toggleMode());
  buttons.download.addEventListener('click', () => download());
  buttons.undo.addEventListener('click', () => modeler.get('commandStack').undo());
  buttons.redo.addEventListener('click', () => modeler.get('commandStack').redo());
  buttons.fit.addEventListener('click', () => modeler.get('canvas').zoom('fit-viewport', 'auto'));
  compareButton.addEventListener('click', () => compare().catch(err => setStatus(`${t('error')}: ${err.message}`, 'error')));

  let xml = options.xml;
  if (!xml && key) {
    const q = version ? `?version=${version}` : '';
    xml = await api.getText(`/api/v1/process-definitions/${encodeURIComponent(key)}/xml${q}`);
    if (!version) {
      try {
        version = (await api.get(`/api/v1/process-definitions/${encodeURIComponent(key)}`)).version;
      } catch (err) {
        version = null;
      }
    }
  }
  await open(xml || EMPTY);
  await loadVersions();

  return {
    modeler, open, getXML, validate, deploy, requestDeploy, download, compare, showProblems, clearProblems,
    get key() { return key; }, get version() { return version; }, get problems() { return problems; },
  };
}

const SanjiModeler = {
  mount, createModeler, mountCompare, getSpiffProperty, setSpiffProperty, moddleExtensions, patchModdle, TASK_ENTRY_HOOKS,
  createTemplateShape, templateCatalogue,
};
window.SanjiModeler = SanjiModeler;
export default SanjiModeler;
