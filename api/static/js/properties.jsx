// The "三级联动 / Sanji" group of the properties panel: what the engine reads beyond plain BPMN
// (docs/bpmn-conventions.md). Standard groups (name, documentation, timers, messages,
// multi-instance cardinality) stay as bpmn-js-properties-panel renders them.
import { getBusinessObject, is, isAny } from 'bpmn-js/lib/util/ModelUtil';
import {
  Group, SelectEntry, TextAreaEntry, TextFieldEntry,
  isSelectEntryEdited, isTextAreaEntryEdited, isTextFieldEntryEdited,
} from '@bpmn-io/properties-panel';
import { useService } from 'bpmn-js-properties-panel';

import { messages } from './common.js';
import { FormLinks } from './form-link.jsx';

const HUMAN = ['bpmn:UserTask', 'bpmn:ManualTask'];
const PROPERTY_TYPES = 'spiffworkflow:Properties';

// ---- model helpers -----------------------------------------------------------------------

function extensionValues(bo) {
  const ext = bo.get('extensionElements');
  return ext ? ext.get('values') : [];
}

function propertiesElement(bo) {
  return extensionValues(bo).find(v => is(v, PROPERTY_TYPES));
}

export function getSpiffProperty(bo, name) {
  const props = propertiesElement(bo);
  const prop = props && props.get('properties').find(p => p.get('name') === name);
  return prop ? prop.get('value') : undefined;
}

/** Commands that make sure `bo` has bpmn:extensionElements; returns [commands, extensionElements]. */
function ensureExtensions(element, bo, bpmnFactory) {
  let ext = bo.get('extensionElements');
  if (ext) {
    return [[], ext];
  }
  ext = bpmnFactory.create('bpmn:ExtensionElements', { values: [] });
  ext.$parent = bo;
  return [[{ cmd: 'element.updateModdleProperties', context: { element, moddleElement: bo, properties: { extensionElements: ext } } }], ext];
}

export function setSpiffProperty(element, name, value, bpmnFactory, commandStack) {
  const bo = getBusinessObject(element);
  const [commands, ext] = ensureExtensions(element, bo, bpmnFactory);
  let props = ext.get('values').find(v => is(v, PROPERTY_TYPES));
  const empty = value === undefined || value === null || value === '';
  if (!props) {
    if (empty) {
      return;
    }
    props = bpmnFactory.create(PROPERTY_TYPES, { properties: [] });
    props.$parent = ext;
    commands.push({ cmd: 'element.updateModdleProperties', context: { element, moddleElement: ext, properties: { values: [...ext.get('values'), props] } } });
  }
  const list = props.get('properties');
  const existing = list.find(p => p.get('name') === name);
  if (empty) {
    if (!existing) {
      return;
    }
    commands.push({ cmd: 'element.updateModdleProperties', context: { element, moddleElement: props, properties: { properties: list.filter(p => p !== existing) } } });
  } else if (existing) {
    commands.push({ cmd: 'element.updateModdleProperties', context: { element, moddleElement: existing, properties: { value } } });
  } else {
    const prop = bpmnFactory.create('spiffworkflow:Property', { name, value });
    prop.$parent = props;
    commands.push({ cmd: 'element.updateModdleProperties', context: { element, moddleElement: props, properties: { properties: [...list, prop] } } });
  }
  commandStack.execute('properties-panel.multi-command-executor', commands);
}

function getBodyExtension(bo, type) {
  const found = extensionValues(bo).find(v => is(v, type));
  return found ? found.get('value') : undefined;
}

function setBodyExtension(element, type, value, bpmnFactory, commandStack) {
  const bo = getBusinessObject(element);
  const [commands, ext] = ensureExtensions(element, bo, bpmnFactory);
  const values = ext.get('values');
  const existing = values.find(v => is(v, type));
  if (!value) {
    if (existing) {
      commands.push({ cmd: 'element.updateModdleProperties', context: { element, moddleElement: ext, properties: { values: values.filter(v => v !== existing) } } });
    }
  } else if (existing) {
    commands.push({ cmd: 'element.updateModdleProperties', context: { element, moddleElement: existing, properties: { value } } });
  } else {
    const node = bpmnFactory.create(type, { value });
    node.$parent = ext;
    commands.push({ cmd: 'element.updateModdleProperties', context: { element, moddleElement: ext, properties: { values: [...values, node] } } });
  }
  if (commands.length) {
    commandStack.execute('properties-panel.multi-command-executor', commands);
  }
}

/** The lane a flow node lies in (innermost), from the lanes' flowNodeRef lists. */
export function laneOf(bo) {
  let lanes = bo.get('lanes');
  if (lanes && lanes.length) {
    return lanes[lanes.length - 1];
  }
  // lanes are a derived (non-serialized) reference: fall back to searching the process
  let process = bo.$parent;
  while (process && !is(process, 'bpmn:Process')) {
    process = process.$parent;
  }
  let found;
  const walk = (laneSet) => {
    for (const lane of (laneSet && laneSet.get('lanes')) || []) {
      if ((lane.get('flowNodeRef') || []).includes(bo)) {
        found = lane;
      }
      walk(lane.get('childLaneSet'));
    }
  };
  for (const laneSet of (process && process.get('laneSets')) || []) {
    walk(laneSet);
  }
  return found;
}

export function tierOf(name, laneTiers) {
  return laneTiers[(name || '').trim()];
}

// ---- entries -----------------------------------------------------------------------------

function useT() {
  const config = useService('config.sanji', false) || {};
  return messages(config.lang);
}

function PropertyText({ element, id, name, label, description, area }) {
  const bpmnFactory = useService('bpmnFactory');
  const commandStack = useService('commandStack');
  const debounce = useService('debounceInput');
  const bo = getBusinessObject(element);
  const props = {
    element, id, label, description, debounce,
    getValue: () => getSpiffProperty(bo, name) || '',
    setValue: (value) => setSpiffProperty(element, name, value ? value : undefined, bpmnFactory, commandStack),
  };
  return area ? <TextAreaEntry {...props} rows={3} monospace /> : <TextFieldEntry {...props} />;
}

function FormSelect({ element, id }) {
  const bpmnFactory = useService('bpmnFactory');
  const commandStack = useService('commandStack');
  const config = useService('config.sanji', false) || {};
  const t = useT();
  const bo = getBusinessObject(element);
  const forms = (config.forms || []).map(f => f.filename);
  return <SelectEntry
    element={element} id={id} label={`${t('form')} (formJsonSchemaFilename)`}
    getValue={() => getSpiffProperty(bo, 'formJsonSchemaFilename') || ''}
    setValue={(value) => setSpiffProperty(element, 'formJsonSchemaFilename', value || undefined, bpmnFactory, commandStack)}
    getOptions={() => {
      const current = getSpiffProperty(bo, 'formJsonSchemaFilename');
      const options = [{ value: '', label: t('noForm') }];
      for (const f of config.forms || []) {
        options.push({ value: f.filename, label: f.title ? `${f.filename} · ${f.title}` : f.filename });
      }
      if (current && !forms.includes(current)) {
        options.push({ value: current, label: `${current} ${t('unknownForm')}` });
      }
      return options;
    }} />;
}

function TierInfo({ element, id }) {
  const config = useService('config.sanji', false) || {};
  const t = useT();
  const bo = getBusinessObject(element);
  const laneTiers = config.lane_tiers || {};
  let text;
  let ok = true;
  if (is(element, 'bpmn:Lane')) {
    const tier = tierOf(bo.get('name'), laneTiers);
    text = tier ? `${t('laneTier')}: ${t('tiers')[tier] || tier}` : t('noTier');
    ok = !!tier;
  } else {
    const lane = laneOf(bo);
    const tier = lane && tierOf(lane.get('name'), laneTiers);
    text = !lane ? t('notInLane') : tier ? `${t('offeredTo')}: ${t('tiers')[tier] || tier} · ${lane.get('name')}` : t('noTier');
    ok = !!tier;
  }
  return <div class="bio-properties-panel-entry sanji-tier-info" data-entry-id={id}>
    <div class={ok ? 'sanji-tier sanji-tier-ok' : 'sanji-tier sanji-tier-bad'} data-tier-ok={ok ? 'true' : 'false'}>{text}</div>
  </div>;
}

function StandardLane({ element, id }) {
  const config = useService('config.sanji', false) || {};
  const modeling = useService('modeling');
  const t = useT();
  const bo = getBusinessObject(element);
  const names = Object.keys(config.lane_tiers || {}).filter(n => /[^\x00-\x7f]/.test(n));
  return <SelectEntry
    element={element} id={id} label={t('standardLane')}
    getValue={() => (names.includes(bo.get('name')) ? bo.get('name') : '')}
    setValue={(value) => value && modeling.updateProperties(element, { name: value })}
    getOptions={() => [{ value: '', label: t('custom') }, ...names.map(n => ({
      value: n, label: `${n} → ${(config.lane_tiers || {})[n]}` }))]} />;
}

function ConditionEntry({ element, id }) {
  const bpmnFactory = useService('bpmnFactory');
  const modeling = useService('modeling');
  const debounce = useService('debounceInput');
  const t = useT();
  const bo = getBusinessObject(element);
  return <TextAreaEntry
    element={element} id={id} label={t('condition')} rows={2} monospace debounce={debounce}
    description="Python, e.g. kind == '违反党的纪律'"
    getValue={() => { const c = bo.get('conditionExpression'); return c ? c.get('body') || '' : ''; }}
    setValue={(value) => modeling.updateProperties(element, {
      conditionExpression: value ? bpmnFactory.create('bpmn:FormalExpression', { body: value }) : undefined })} />;
}

function ScriptEntry({ element, id }) {
  const modeling = useService('modeling');
  const debounce = useService('debounceInput');
  const t = useT();
  const bo = getBusinessObject(element);
  return <TextAreaEntry
    element={element} id={id} label={t('script')} rows={6} monospace debounce={debounce}
    getValue={() => bo.get('script') || ''}
    setValue={(value) => modeling.updateProperties(element, { script: value || undefined })} />;
}

function AttrText({ element, id, label, name, target, description }) {
  const commandStack = useService('commandStack');
  const debounce = useService('debounceInput');
  const bo = target || getBusinessObject(element);
  return <TextFieldEntry
    element={element} id={id} label={label} description={description} debounce={debounce}
    getValue={() => bo.get(name) || ''}
    setValue={(value) => commandStack.execute('element.updateModdleProperties', {
      element, moddleElement: bo, properties: { [name]: value || undefined } })} />;
}

function DataItemText({ element, id, label, name, loop }) {
  const bpmnFactory = useService('bpmnFactory');
  const commandStack = useService('commandStack');
  const debounce = useService('debounceInput');
  const type = name === 'inputDataItem' ? 'bpmn:DataInput' : 'bpmn:DataOutput';
  return <TextFieldEntry
    element={element} id={id} label={label} debounce={debounce}
    getValue={() => { const item = loop.get(name); return item ? item.get('name') || item.get('id') || '' : ''; }}
    setValue={(value) => {
      const existing = loop.get(name);
      if (existing && value) {
        commandStack.execute('element.updateModdleProperties', { element, moddleElement: existing, properties: { name: value } });
        return;
      }
      let item;
      if (value) {
        item = bpmnFactory.create(type, { name: value });
        item.$parent = loop;
      }
      commandStack.execute('element.updateModdleProperties', { element, moddleElement: loop, properties: { [name]: item } });
    }} />;
}

function BodyExtension({ element, id, label, type }) {
  const bpmnFactory = useService('bpmnFactory');
  const commandStack = useService('commandStack');
  const debounce = useService('debounceInput');
  const bo = getBusinessObject(element);
  return <TextAreaEntry
    element={element} id={id} label={label} rows={3} monospace debounce={debounce}
    getValue={() => getBodyExtension(bo, type) || ''}
    setValue={(value) => setBodyExtension(element, type, value, bpmnFactory, commandStack)} />;
}

// ---- the provider ------------------------------------------------------------------------

function hasMessage(bo, kind) {
  return (bo.get('eventDefinitions') || []).some(d => is(d, 'bpmn:MessageEventDefinition'))
    && isAny(bo, kind);
}

export function sanjiEntries(element, t) {
  const bo = getBusinessObject(element);
  const entries = [];
  if (is(element, 'bpmn:Lane')) {
    entries.push({ id: 'sanji-lane-tier', component: TierInfo });
    entries.push({ id: 'sanji-standard-lane', component: StandardLane, isEdited: isSelectEntryEdited });
  }
  if (isAny(element, HUMAN)) {
    entries.push({ id: 'sanji-task-tier', component: TierInfo });
    entries.push({ id: 'sanji-form', component: FormSelect, isEdited: isSelectEntryEdited });
    entries.push({ id: 'sanji-form-links', component: FormLinks });  // issue 15: form-link.jsx
    const texts = [
      ['dueIn', 'P10D, P1M'], ['dueAt', 'month_end(), add_days(today(), 9)'],
      ['candidateRoles', 'secretary,deputy_secretary'], ['nodeVariable', 'unit_id / branch_id'],
    ];
    for (const [name, hint] of texts) {
      entries.push({ id: `sanji-prop-${name}`, component: PropertyText, isEdited: isTextFieldEntryEdited,
        name, label: name, description: hint });
    }
    entries.push({ id: 'sanji-prop-validate', component: PropertyText, isEdited: isTextAreaEntryEdited,
      name: 'validate', label: 'validate', area: true, description: "{'field': '…'} if … else None" });
  }
  if (is(element, 'bpmn:SequenceFlow')) {
    const source = bo.get('sourceRef');
    if (source && isAny(source, ['bpmn:ExclusiveGateway', 'bpmn:InclusiveGateway', 'bpmn:Activity'])) {
      entries.push({ id: 'sanji-condition', component: ConditionEntry, isEdited: isTextAreaEntryEdited });
    }
  }
  if (is(element, 'bpmn:ScriptTask')) {
    entries.push({ id: 'sanji-script', component: ScriptEntry, isEdited: isTextAreaEntryEdited });
  }
  if (is(element, 'bpmn:CallActivity')) {
    entries.push({ id: 'sanji-called-element', component: AttrText, isEdited: isTextFieldEntryEdited,
      name: 'calledElement', label: `${t('calledElement')} (calledElement)` });
  }
  const loop = bo.get('loopCharacteristics');
  if (loop && is(loop, 'bpmn:MultiInstanceLoopCharacteristics') && is(element, 'bpmn:Activity')) {
    entries.push({ id: 'sanji-loop-input', component: AttrText, isEdited: isTextFieldEntryEdited, target: loop,
      name: 'loopDataInputRef', label: `${t('loopDataInputRef')} (loopDataInputRef)` });
    entries.push({ id: 'sanji-loop-item', component: DataItemText, isEdited: isTextFieldEntryEdited, loop,
      name: 'inputDataItem', label: `${t('inputDataItem')} (inputDataItem)` });
    entries.push({ id: 'sanji-loop-output', component: AttrText, isEdited: isTextFieldEntryEdited, target: loop,
      name: 'loopDataOutputRef', label: `${t('loopDataOutputRef')} (loopDataOutputRef)` });
    entries.push({ id: 'sanji-loop-output-item', component: DataItemText, isEdited: isTextFieldEntryEdited, loop,
      name: 'outputDataItem', label: `${t('outputDataItem')} (outputDataItem)` });
  }
  if (is(element, 'bpmn:Activity') && !is(element, 'bpmn:SubProcess')) {
    entries.push({ id: 'sanji-pre-script', component: BodyExtension, isEdited: isTextAreaEntryEdited,
      type: 'spiffworkflow:PreScript', label: t('preScript') });
    entries.push({ id: 'sanji-post-script', component: BodyExtension, isEdited: isTextAreaEntryEdited,
      type: 'spiffworkflow:PostScript', label: t('postScript') });
  }
  if (hasMessage(bo, ['bpmn:ThrowEvent'])) {
    entries.push({ id: 'sanji-message-payload', component: BodyExtension, isEdited: isTextAreaEntryEdited,
      type: 'spiffworkflow:MessagePayload', label: t('messagePayload') });
  }
  if (hasMessage(bo, ['bpmn:CatchEvent'])) {
    entries.push({ id: 'sanji-message-variable', component: BodyExtension, isEdited: isTextAreaEntryEdited,
      type: 'spiffworkflow:MessageVariable', label: t('messageVariable') });
  }
  return entries;
}

class SanjiPropertiesProvider {
  constructor(propertiesPanel, injector) {
    propertiesPanel.registerProvider(400, this);
    this._injector = injector;
  }

  getGroups(element) {
    return (groups) => {
      const config = this._injector.get('config.sanji', false) || {};
      const t = messages(config.lang);
      const entries = sanjiEntries(element, t);
      if (entries.length) {
        const group = { id: 'sanji', label: t('sanji'), component: Group, entries, shouldOpen: true };
        // right after "General", so that the tier and form are seen first
        const at = groups.findIndex(g => g.id === 'general');
        groups.splice(at + 1, 0, group);
      }
      return groups;
    };
  }
}

SanjiPropertiesProvider.$inject = ['propertiesPanel', 'injector'];

export default {
  __init__: ['sanjiPropertiesProvider'],
  sanjiPropertiesProvider: ['type', SanjiPropertiesProvider],
};
