// The "三级联动 / Sanji" group of the properties panel: what the engine reads beyond plain BPMN
// (docs/bpmn-conventions.md). Standard groups (name, documentation, timers, messages,
// multi-instance cardinality) stay as bpmn-js-properties-panel renders them.
import { getBusinessObject, is, isAny } from 'bpmn-js/lib/util/ModelUtil';
import {
  CheckboxEntry, Group, SelectEntry, TextAreaEntry, TextFieldEntry,
  isSelectEntryEdited, isTextAreaEntryEdited, isTextFieldEntryEdited,
} from '@bpmn-io/properties-panel';
import { useService } from 'bpmn-js-properties-panel';

import { language, messages } from './common.js';
import { FormLinks } from './form-link.jsx';

const HUMAN = ['bpmn:UserTask', 'bpmn:ManualTask'];
// The tiers by their Chinese names (lanes are named after them; engine/org/routing.py LANE_TIERS).
const TIER_NAMES = {
  zh: { group: '集团公司纪委', unit: '权属单位纪委', branch: '基层党支部纪律检查委员', department: '职能部门' },
  en: { group: 'group committee', unit: 'unit committee', branch: 'branch commissioner', department: 'functional department' },
};
// The roles a human step may be offered to (engine/models.py NODE_ROLES), shown by name.
const CANDIDATE_ROLES = ['secretary', 'deputy_secretary', 'standing_member', 'member', 'commissioner', 'department'];
// Labels of the Sanji group, by language (the panel's own strings go through `translate`).
const LABELS = {
  zh: {
    dueIn: '办理期限', dueInHelp: '从任务生成起算的时长，例如 10 天写作', dueInExample: ['P10D', '，1 个月写作', 'P1M'],
    dueAt: '截止时间', dueAtHelp: '算出截止日期的表达式，例如月底写作', dueAtExample: 'month_end()',
    candidateRoles: '候选角色', candidateRolesHelp: '勾选可以办理这一步的角色；都不勾则由泳道层级的默认角色办理',
    nodeVariable: '组织变量', nodeVariableHelp: '从这个变量读取办理单位（默认按层级读取单位或支部变量）',
    validate: '提交校验', validateHelp: '表达式：数据合格时得到空值，否则得到给填写人的提示', form: '表单', noForm: '（无表单）',
    unknownForm: '（表单库中没有）', standardLane: '标准泳道', custom: '（自定义名称）', condition: '条件表达式',
    conditionHelp: '例如', calledElement: '被调用流程', loopDataInputRef: '遍历列表变量', inputDataItem: '元素变量',
    loopDataOutputRef: '输出列表变量', outputDataItem: '输出元素变量',
    fanOut: '分发对象', fanOutHelp: '引擎按所选对象逐一分发（每个子流程或任务实例得到一个单位、支部或委员）；不选则按遍历列表变量',
    fanOutNone: '（不按组织分发）', fanOutField: '选定字段', fanOutFieldHelp: '保存所选单位或支部的表单字段名',
    rollUp: '汇总字段', rollUpHelp: '子流程最后一步表单中要汇总给本流程的字段名，用逗号分隔；下一步以表格显示',
    calledNone: '（请选择）', calledHere: '本文件中的流程', calledDeployed: '已发布的流程', calledUnknown: '（未找到）',
    cronKind: '定时发起', cronNone: '（其他写法，见“定时器”）', cronMonthly: '每月', cronQuarterly: '每季度首月（1、4、7、10月）',
    cronYearly: '每年', cronMonth: '月份', cronDay: '日期', cronLast: '月末', cronTime: '时间（时:分）',
    cronTimeBad: '请写成 时:分，例如 09:00', cronReads: '按此发起：', cronHelp: '选择后写入定时器的循环周期',
    monthN: '{n}月', dayN: '{n}日', cronExpr: '（周期表达式 ', cronExprEnd: '）', sep: '',
  },
  en: {
    dueIn: 'Due in', dueInHelp: 'Duration from the task\'s creation, e.g. 10 days is', dueInExample: ['P10D', ', 1 month is', 'P1M'],
    dueAt: 'Due at', dueAtHelp: 'Expression giving the due date, e.g. the month\'s end is', dueAtExample: 'month_end()',
    candidateRoles: 'Candidate roles', candidateRolesHelp: 'Roles that may do this step; none: the lane tier\'s default roles',
    nodeVariable: 'Org node variable', nodeVariableHelp: 'Read the org node from this variable instead of the tier\'s default',
    validate: 'Submission check', validateHelp: 'Expression: None when the data is acceptable, else a message',
    form: 'Form', noForm: '(no form)', unknownForm: '(not in the form library)', standardLane: 'Standard lane',
    custom: '(custom name)', condition: 'Condition expression', conditionHelp: 'e.g.', calledElement: 'Called process',
    loopDataInputRef: 'List variable to fan out over', inputDataItem: 'Item variable',
    loopDataOutputRef: 'Output list variable', outputDataItem: 'Output item variable',
    fanOut: 'Fan out to', fanOutHelp: 'The engine fans out to each of them (one child or task instance per unit, branch or member); none: the list variable',
    fanOutNone: '(not by organisation)', fanOutField: 'Chosen-ids field', fanOutFieldHelp: 'The form field holding the chosen units or branches',
    rollUp: 'Roll-up fields', rollUpHelp: 'Fields of the children\'s last form to collect, comma-separated; the next step shows them as a table',
    calledNone: '(choose)', calledHere: 'in this file', calledDeployed: 'deployed', calledUnknown: '(not found)',
    cronKind: 'Start on a schedule', cronNone: '(other, see Timer)', cronMonthly: 'every month',
    cronQuarterly: 'first month of each quarter (Jan, Apr, Jul, Oct)', cronYearly: 'every year', cronMonth: 'Month',
    cronDay: 'Day', cronLast: 'last day', cronTime: 'Time (HH:MM)', cronTimeBad: 'Write HH:MM, e.g. 09:00',
    cronReads: 'Starts ', cronHelp: 'Writes the timer\'s cron cycle', monthN: 'month {n}', dayN: 'day {n}', cronExpr: ' (cron ', cronExprEnd: ')', sep: ' ',
  },
};

// fanOut choices (engine/core/fan_choice.py FAN_OUT): value → label by language.
export const FAN_OUT = [
  { value: 'all_units', zh: '全部权属单位', en: 'all units' },
  { value: 'unit_branches', zh: '本单位全部基层党支部', en: 'all branches of the unit' },
  { value: 'form_units', zh: '表单中选定的单位', en: 'units chosen in a form', field: true },
  { value: 'form_branches', zh: '表单中选定的支部', en: 'branches chosen in a form', field: true },
  { value: 'unit_committee', zh: '本单位纪委委员', en: 'committee members of the unit' },
  { value: 'zone_units', zh: '本分区成员单位', en: 'member units of the zone' },
];

/** Entries other modules add to a human task's group, after the form (e.g. 新建表单/编辑表单):
 *  each `(element, t) => [entry, …]`. */
export const TASK_ENTRY_HOOKS = [];
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

function useLabels() {
  const config = useService('config.sanji', false) || {};
  return LABELS[language(config.lang)];
}

function tierName(tier, lang) {
  return TIER_NAMES[language(lang)][tier] || tier;
}

function PropertyText({ element, id, name, label, description, area }) {
  const L = useLabels();
  label = L[label] || label;
  description = typeof description === 'function' ? description(L) : description;
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
  const L = useLabels();
  const bo = getBusinessObject(element);
  const forms = (config.forms || []).map(f => f.filename);
  return <SelectEntry
    element={element} id={id} label={L.form}
    getValue={() => getSpiffProperty(bo, 'formJsonSchemaFilename') || ''}
    setValue={(value) => setSpiffProperty(element, 'formJsonSchemaFilename', value || undefined, bpmnFactory, commandStack)}
    getOptions={() => {
      const current = getSpiffProperty(bo, 'formJsonSchemaFilename');
      const options = [{ value: '', label: L.noForm }];
      for (const f of config.forms || []) {
        options.push({ value: f.filename, label: f.title || f.filename.replace(/\.schema\.json$|\.json$/, '') });
      }
      if (current && !forms.includes(current)) {
        options.push({ value: current, label: `${current.replace(/\.schema\.json$|\.json$/, '')} ${L.unknownForm}` });
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
    text = tier ? `${t('laneTier')}: ${tierName(tier, config.lang)}` : t('noTier');
    ok = !!tier;
  } else {
    const lane = laneOf(bo);
    const tier = lane && tierOf(lane.get('name'), laneTiers);
    text = !lane ? t('notInLane') : tier ? `${t('offeredTo')}: ${tierName(tier, config.lang)}` : t('noTier');
    ok = !!tier;
  }
  return <div class="bio-properties-panel-entry sanji-tier-info" data-entry-id={id}>
    <div class={ok ? 'sanji-tier sanji-tier-ok' : 'sanji-tier sanji-tier-bad'} data-tier-ok={ok ? 'true' : 'false'}>{text}</div>
  </div>;
}

function StandardLane({ element, id }) {
  const config = useService('config.sanji', false) || {};
  const modeling = useService('modeling');
  const L = useLabels();
  const bo = getBusinessObject(element);
  const names = Object.keys(config.lane_tiers || {}).filter(n => /[^\x00-\x7f]/.test(n));
  return <SelectEntry
    element={element} id={id} label={L.standardLane}
    getValue={() => (names.includes(bo.get('name')) ? bo.get('name') : '')}
    setValue={(value) => value && modeling.updateProperties(element, { name: value })}
    getOptions={() => [{ value: '', label: L.custom }, ...names.map(n => ({ value: n, label: n }))]} />;
}

/** 候选角色: one checkbox per role, by name; stored as the comma-separated ids the engine reads. */
function RolesPicker({ element, id }) {
  const bpmnFactory = useService('bpmnFactory');
  const commandStack = useService('commandStack');
  const config = useService('config.sanji', false) || {};
  const L = useLabels();
  const bo = getBusinessObject(element);
  const names = language(config.lang) === 'zh' ? config.role_names || {} : {};
  const current = () => (getSpiffProperty(bo, 'candidateRoles') || '').split(',').map(r => r.trim()).filter(Boolean);
  const set = (role, checked) => {
    const chosen = current().filter(r => r !== role);
    if (checked) {
      chosen.push(role);
    }
    const ordered = [...CANDIDATE_ROLES.filter(r => chosen.includes(r)), ...chosen.filter(r => !CANDIDATE_ROLES.includes(r))];
    setSpiffProperty(element, 'candidateRoles', ordered.length ? ordered.join(',') : undefined, bpmnFactory, commandStack);
  };
  const roles = [...CANDIDATE_ROLES, ...current().filter(r => !CANDIDATE_ROLES.includes(r))];
  return <div class="bio-properties-panel-entry sanji-roles" data-entry-id={id}>
    <div class="bio-properties-panel-label">{L.candidateRoles}</div>
    {roles.map(role => <CheckboxEntry key={role} element={element} id={`${id}-${role}`} label={names[role] || role}
      getValue={() => current().includes(role)} setValue={(checked) => set(role, checked)} />)}
    <div class="bio-properties-panel-description">{L.candidateRolesHelp}</div>
  </div>;
}

function ConditionEntry({ element, id }) {
  const bpmnFactory = useService('bpmnFactory');
  const modeling = useService('modeling');
  const debounce = useService('debounceInput');
  const L = useLabels();
  const bo = getBusinessObject(element);
  return <TextAreaEntry
    element={element} id={id} label={L.condition} rows={2} monospace debounce={debounce}
    description={<span>{L.conditionHelp} <code>kind == '违反党的纪律'</code></span>}
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
  const L = useLabels();
  label = L[label] || label;
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
  const L = useLabels();
  label = L[label] || label;
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

/** 分发对象 (fanOut): a select of the engine's choices, by name. */
function FanOutSelect({ element, id }) {
  const bpmnFactory = useService('bpmnFactory');
  const commandStack = useService('commandStack');
  const config = useService('config.sanji', false) || {};
  const L = useLabels();
  const lang = language(config.lang);
  const bo = getBusinessObject(element);
  return <SelectEntry
    element={element} id={id} label={L.fanOut} description={L.fanOutHelp}
    getValue={() => getSpiffProperty(bo, 'fanOut') || ''}
    setValue={(value) => {
      setSpiffProperty(element, 'fanOut', value || undefined, bpmnFactory, commandStack);
      const choice = FAN_OUT.find(c => c.value === value);
      if (!choice || !choice.field) {
        setSpiffProperty(element, 'fanOutField', undefined, bpmnFactory, commandStack);
      }
    }}
    getOptions={() => {
      const current = getSpiffProperty(bo, 'fanOut');
      const options = [{ value: '', label: L.fanOutNone }, ...FAN_OUT.map(c => ({ value: c.value, label: c[lang] || c.zh }))];
      if (current && !FAN_OUT.some(c => c.value === current)) {
        options.push({ value: current, label: current });
      }
      return options;
    }} />;
}

/** 被调用流程 (calledElement): the processes of this file and the deployed ones, by name. */
function CalledSelect({ element, id }) {
  const commandStack = useService('commandStack');
  const config = useService('config.sanji', false) || {};
  const L = useLabels();
  const bo = getBusinessObject(element);
  const here = () => {
    let defs = bo.$parent;
    while (defs && !is(defs, 'bpmn:Definitions')) {
      defs = defs.$parent;
    }
    let own = bo.$parent;
    while (own && !is(own, 'bpmn:Process')) {
      own = own.$parent;
    }
    const roots = (defs && defs.get('rootElements')) || [];
    // a pool drawn in the modeler names its participant, not always its process
    const pools = roots.filter(r => is(r, 'bpmn:Collaboration')).flatMap(c => c.get('participants') || []);
    return roots.filter(r => is(r, 'bpmn:Process') && r !== own).map(r => {
      const pool = pools.find(x => x.get('processRef') === r);
      return { id: r.get('id'), name: r.get('name') || (pool && pool.get('name')) || r.get('id') };
    });
  };
  return <SelectEntry
    element={element} id={id} label={L.calledElement}
    getValue={() => bo.get('calledElement') || ''}
    setValue={(value) => commandStack.execute('element.updateModdleProperties', {
      element, moddleElement: bo, properties: { calledElement: value || undefined } })}
    getOptions={() => {
      const options = [{ value: '', label: L.calledNone }];
      const seen = new Set();
      for (const p of here()) {
        seen.add(p.id);
        options.push({ value: p.id, label: `${p.name}（${L.calledHere}）` });
      }
      for (const p of config.processes || []) {
        if (!seen.has(p.key)) {
          seen.add(p.key);
          options.push({ value: p.key, label: `${p.name || p.key}（${L.calledDeployed}）` });
        }
      }
      const current = bo.get('calledElement');
      if (current && !seen.has(current)) {
        options.push({ value: current, label: `${current} ${L.calledUnknown}` });
      }
      return options;
    }} />;
}

// ---- 定时发起: the cron of a timer start event, chosen in words -----------------------------

const CRON = /^(\d{1,2}) (\d{1,2}) ([1-9]|[12]\d|3[01]|L) (\*|1,4,7,10|[1-9]|1[0-2]) \*$/;
const QUARTER_MONTHS = '1,4,7,10';
const CRON_DEFAULT = { kind: 'monthly', minute: 0, hour: 9, day: '1', month: 1 };

/** '0 9 5 1,4,7,10 *' → { kind: 'quarterly', minute: 0, hour: 9, day: '5', month: 1 }; null if not one of the three. */
export function parseCron(text) {
  const m = CRON.exec((text || '').trim());
  if (!m || Number(m[1]) > 59 || Number(m[2]) > 23) {
    return null;
  }
  const [, minute, hour, day, month] = m;
  const kind = month === '*' ? 'monthly' : month === QUARTER_MONTHS ? 'quarterly' : 'yearly';
  return { kind, minute: Number(minute), hour: Number(hour), day, month: kind === 'yearly' ? Number(month) : 1 };
}

export function composeCron({ kind, minute, hour, day, month }) {
  const months = kind === 'monthly' ? '*' : kind === 'quarterly' ? QUARTER_MONTHS : String(month);
  return `${minute} ${hour} ${day} ${months} *`;
}

function timerOf(bo) {
  return (bo.get('eventDefinitions') || []).find(d => is(d, 'bpmn:TimerEventDefinition'));
}

function currentCron(bo) {
  const timer = timerOf(bo);
  const cycle = timer && timer.get('timeCycle');
  return parseCron(cycle ? cycle.get('body') : '');
}

const pad = n => String(n).padStart(2, '0');

function cronText(c, L) {
  const day = c.day === 'L' ? L.cronLast : L.dayN.replace('{n}', c.day);
  const when = c.kind === 'monthly' ? L.cronMonthly : c.kind === 'quarterly' ? L.cronQuarterly
    : `${L.cronYearly}${L.sep}${L.monthN.replace('{n}', c.month)}`;
  return `${L.cronReads}${when}${L.sep}${day} ${pad(c.hour)}:${pad(c.minute)}${L.cronExpr}${composeCron(c)}${L.cronExprEnd}`;
}

function useCronWriter(element) {
  const bpmnFactory = useService('bpmnFactory');
  const commandStack = useService('commandStack');
  const bo = getBusinessObject(element);
  return (change) => {
    const timer = timerOf(bo);
    if (!timer) {
      return;
    }
    const next = { ...(currentCron(bo) || CRON_DEFAULT), ...change };
    const body = bpmnFactory.create('bpmn:FormalExpression', { body: composeCron(next) });
    body.$parent = timer;
    commandStack.execute('element.updateModdleProperties', { element, moddleElement: timer,
      properties: { timeCycle: body, timeDate: undefined, timeDuration: undefined } });
  };
}

function CronKind({ element, id }) {
  const L = useLabels();
  const write = useCronWriter(element);
  const bo = getBusinessObject(element);
  const current = currentCron(bo);
  return <SelectEntry
    element={element} id={id} label={L.cronKind}
    description={current ? cronText(current, L) : L.cronHelp}
    getValue={() => { const c = currentCron(bo); return c ? c.kind : ''; }}
    setValue={(kind) => kind && write({ kind })}
    getOptions={() => [{ value: '', label: L.cronNone }, { value: 'monthly', label: L.cronMonthly },
      { value: 'quarterly', label: L.cronQuarterly }, { value: 'yearly', label: L.cronYearly }]} />;
}

function CronMonth({ element, id }) {
  const L = useLabels();
  const write = useCronWriter(element);
  const bo = getBusinessObject(element);
  return <SelectEntry
    element={element} id={id} label={L.cronMonth}
    getValue={() => String((currentCron(bo) || CRON_DEFAULT).month)}
    setValue={(month) => write({ month: Number(month) })}
    getOptions={() => Array.from({ length: 12 }, (_, i) => ({ value: String(i + 1), label: L.monthN.replace('{n}', i + 1) }))} />;
}

function CronDay({ element, id }) {
  const L = useLabels();
  const write = useCronWriter(element);
  const bo = getBusinessObject(element);
  return <SelectEntry
    element={element} id={id} label={L.cronDay}
    getValue={() => (currentCron(bo) || CRON_DEFAULT).day}
    setValue={(day) => write({ day })}
    getOptions={() => [...Array.from({ length: 31 }, (_, i) => ({ value: String(i + 1), label: L.dayN.replace('{n}', i + 1) })),
      { value: 'L', label: L.cronLast }]} />;
}

function CronTime({ element, id }) {
  const L = useLabels();
  const write = useCronWriter(element);
  const debounce = useService('debounceInput');
  const bo = getBusinessObject(element);
  const parse = (value) => /^([01]?\d|2[0-3]):([0-5]\d)$/.exec((value || '').trim());
  return <TextFieldEntry
    element={element} id={id} label={L.cronTime} debounce={debounce}
    getValue={() => { const c = currentCron(bo) || CRON_DEFAULT; return `${pad(c.hour)}:${pad(c.minute)}`; }}
    validate={(value) => (parse(value) ? null : L.cronTimeBad)}
    setValue={(value) => { const m = parse(value); if (m) { write({ hour: Number(m[1]), minute: Number(m[2]) }); } }} />;
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
    for (const hook of TASK_ENTRY_HOOKS) {
      entries.push(...hook(element, t));
    }
    entries.push({ id: 'sanji-prop-dueIn', component: PropertyText, isEdited: isTextFieldEntryEdited, name: 'dueIn',
      label: 'dueIn', description: (L) => <span>{L.dueInHelp} <code>{L.dueInExample[0]}</code>{L.dueInExample[1]} <code>{L.dueInExample[2]}</code></span> });
    entries.push({ id: 'sanji-prop-dueAt', component: PropertyText, isEdited: isTextFieldEntryEdited, name: 'dueAt',
      label: 'dueAt', description: (L) => <span>{L.dueAtHelp} <code>{L.dueAtExample}</code></span> });
    entries.push({ id: 'sanji-prop-candidateRoles', component: RolesPicker });
    entries.push({ id: 'sanji-prop-nodeVariable', component: PropertyText, isEdited: isTextFieldEntryEdited,
      name: 'nodeVariable', label: 'nodeVariable', description: (L) => L.nodeVariableHelp });
    entries.push({ id: 'sanji-prop-validate', component: PropertyText, isEdited: isTextAreaEntryEdited,
      name: 'validate', label: 'validate', area: true, description: (L) => L.validateHelp });
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
  const loop = bo.get('loopCharacteristics');
  const multi = loop && is(loop, 'bpmn:MultiInstanceLoopCharacteristics');
  if (is(element, 'bpmn:CallActivity')) {
    entries.push({ id: 'sanji-called-element', component: CalledSelect, isEdited: isSelectEntryEdited });
  }
  if (is(element, 'bpmn:CallActivity') || (is(element, 'bpmn:UserTask') && multi)) {
    entries.push({ id: 'sanji-prop-fanOut', component: FanOutSelect, isEdited: isSelectEntryEdited });
    const choice = FAN_OUT.find(c => c.value === getSpiffProperty(bo, 'fanOut'));
    if ((choice && choice.field) || getSpiffProperty(bo, 'fanOutField')) {
      entries.push({ id: 'sanji-prop-fanOutField', component: PropertyText, isEdited: isTextFieldEntryEdited,
        name: 'fanOutField', label: 'fanOutField', description: (L) => L.fanOutFieldHelp });
    }
  }
  if (is(element, 'bpmn:CallActivity')) {
    entries.push({ id: 'sanji-prop-rollUp', component: PropertyText, isEdited: isTextFieldEntryEdited,
      name: 'rollUp', label: 'rollUp', description: (L) => L.rollUpHelp });
  }
  if (loop && is(loop, 'bpmn:MultiInstanceLoopCharacteristics') && is(element, 'bpmn:Activity')) {
    entries.push({ id: 'sanji-loop-input', component: AttrText, isEdited: isTextFieldEntryEdited, target: loop,
      name: 'loopDataInputRef', label: 'loopDataInputRef' });
    entries.push({ id: 'sanji-loop-item', component: DataItemText, isEdited: isTextFieldEntryEdited, loop,
      name: 'inputDataItem', label: 'inputDataItem' });
    entries.push({ id: 'sanji-loop-output', component: AttrText, isEdited: isTextFieldEntryEdited, target: loop,
      name: 'loopDataOutputRef', label: 'loopDataOutputRef' });
    entries.push({ id: 'sanji-loop-output-item', component: DataItemText, isEdited: isTextFieldEntryEdited, loop,
      name: 'outputDataItem', label: 'outputDataItem' });
  }
  if (is(element, 'bpmn:Activity') && !is(element, 'bpmn:SubProcess')) {
    entries.push({ id: 'sanji-pre-script', component: BodyExtension, isEdited: isTextAreaEntryEdited,
      type: 'spiffworkflow:PreScript', label: t('preScript') });
    entries.push({ id: 'sanji-post-script', component: BodyExtension, isEdited: isTextAreaEntryEdited,
      type: 'spiffworkflow:PostScript', label: t('postScript') });
  }
  if (is(element, 'bpmn:StartEvent') && timerOf(bo)) {
    entries.push({ id: 'sanji-cron-kind', component: CronKind, isEdited: isSelectEntryEdited });
    const cron = currentCron(bo);
    if (cron) {
      if (cron.kind === 'yearly') {
        entries.push({ id: 'sanji-cron-month', component: CronMonth, isEdited: isSelectEntryEdited });
      }
      entries.push({ id: 'sanji-cron-day', component: CronDay, isEdited: isSelectEntryEdited });
      entries.push({ id: 'sanji-cron-time', component: CronTime, isEdited: isTextFieldEntryEdited });
    }
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
      // the panel's own strings (Toggle section, Section contains edits…) go through the group's
      // `translate` prop, which the standard groups leave to an English fallback
      const translate = this._injector.get('translate', false);
      if (translate) {
        for (const g of groups) {
          g.translate = g.translate || translate;
        }
      }
      const entries = sanjiEntries(element, t);
      if (entries.length) {
        const group = { id: 'sanji', label: t('sanji'), component: Group, entries, shouldOpen: true, translate };
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
