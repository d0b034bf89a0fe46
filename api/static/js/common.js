// Shared by the modeler and viewer bundles: API calls, the moddle set-up, messages, DOM helpers.
import spiffworkflowDescriptor from './spiffworkflow-moddle.json';

export const moddleExtensions = { spiffworkflow: spiffworkflowDescriptor };

/**
 * SpiffWorkflow writes the multi-instance collection as a variable name
 * (`<bpmn:loopDataInputRef>branch_ids</bpmn:loopDataInputRef>`), while BPMN types it as a
 * reference to an item-aware element; bpmn-moddle would drop the unresolved reference on
 * export. Read and write these two as plain text so that they survive a round trip.
 */
export function patchModdle(moddle) {
  const type = moddle.registry.typeMap['bpmn:MultiInstanceLoopCharacteristics'];
  if (!type || type.__sanjiPatched) {
    return;
  }
  for (const p of type.properties) {
    const local = p.ns ? p.ns.localName : p.name;
    if (local === 'loopDataInputRef' || local === 'loopDataOutputRef') {
      p.type = 'String';
      delete p.isReference;
    }
  }
  Object.defineProperty(type, '__sanjiPatched', { value: true });
  // Drop any type already built from the unpatched descriptor.
  if (moddle.typeCache) {
    delete moddle.typeCache['bpmn:MultiInstanceLoopCharacteristics'];
  }
}

const MESSAGES = {
  zh: {
    validate: '校验', deploy: '部署', download: '下载 XML', compare: '比较版本', undo: '撤销', redo: '重做',
    fit: '适合窗口', valid: '校验通过，可以部署', validWithWarnings: '校验通过，可以部署；有 {n} 条提醒，请核对', warning: '提醒：', invalid: '校验未通过：{n} 个问题', deployed: '已部署：{what}',
    unchanged: '与最新版本相同，未创建新版本', loading: '加载中…', error: '出错', problems: '问题',
    line: '行', element: '元素', noDiagram: '该文件没有图形布局（BPMN DI），只能部署，不能在画布上编辑。',
    importWarnings: '导入时有 {n} 条警告', from: '从版本', to: '到版本', added: '新增', removed: '删除',
    changed: '修改', moved: '位置变化', noChanges: '两个版本没有语义差别', field: '字段', before: '之前', after: '之后',
    completed: '已完成', active: '进行中', failed: '出错', highlight: '当前任务', heatActive: '停留实例数',
    heatCompleted: '经过实例数', instances: '实例', sanji: '三级联动', tier: '层级', laneTier: '泳道层级',
    standardLane: '标准泳道', custom: '（自定义）', noTier: '该泳道名称不对应任何层级：用户任务必须位于 集团公司纪委、权属单位纪委、基层党支部纪律检查委员 或 职能部门 泳道',
    notInLane: '不在任何泳道内：用户任务必须位于层级泳道中', offeredTo: '办理层级', form: '表单',
    noForm: '（无表单）', unknownForm: '（表单库中没有）', condition: '条件表达式', script: '脚本',
    calledElement: '被调用流程', loopDataInputRef: '遍历列表变量', inputDataItem: '元素变量',
    loopDataOutputRef: '输出列表变量', outputDataItem: '输出元素变量', preScript: '前置脚本', postScript: '后置脚本',
    messagePayload: '消息内容表达式', messageVariable: '消息变量', tiers: { group: '集团公司纪委（group）',
      unit: '权属单位纪委（unit）', branch: '基层党支部纪律检查委员（branch）', department: '职能部门（department）' },
    saveFailed: '保存失败', compareTitle: '版本比较', version: '版本', selectElement: '点击定位',
  },
  en: {
    validate: 'Validate', deploy: 'Deploy', download: 'Download XML', compare: 'Compare versions', undo: 'Undo',
    redo: 'Redo', fit: 'Fit', valid: 'Valid: the diagram can be deployed', validWithWarnings: 'Valid: the diagram can be deployed; {n} warning(s) to check', warning: 'Warning:', invalid: 'Not valid: {n} problem(s)',
    deployed: 'Deployed: {what}', unchanged: 'Identical to the latest version: nothing deployed',
    loading: 'Loading…', error: 'Error', problems: 'Problems', line: 'line', element: 'element',
    noDiagram: 'This file has no layout (BPMN DI): it can be deployed but not edited on the canvas.',
    importWarnings: '{n} warning(s) while importing', from: 'From version', to: 'To version', added: 'Added',
    removed: 'Removed', changed: 'Changed', moved: 'Moved', noChanges: 'No semantic difference between the versions',
    field: 'Field', before: 'Before', after: 'After', completed: 'Completed', active: 'Active', failed: 'Failed',
    highlight: 'This task', heatActive: 'Instances here', heatCompleted: 'Instances passed', instances: 'instances',
    sanji: 'Sanji', tier: 'Tier', laneTier: 'Lane tier', standardLane: 'Standard lane', custom: '(custom)',
    noTier: 'This lane name names no tier: user tasks must lie in a 集团公司纪委, 权属单位纪委, 基层党支部纪律检查委员 or 职能部门 lane',
    notInLane: 'In no lane: user tasks must lie in a tier lane', offeredTo: 'Offered to tier', form: 'Form',
    noForm: '(no form)', unknownForm: '(not in forms/)', condition: 'Condition expression', script: 'Script',
    calledElement: 'Called process', loopDataInputRef: 'List variable to fan out over',
    inputDataItem: 'Item variable', loopDataOutputRef: 'Output list variable', outputDataItem: 'Output item variable',
    preScript: 'Pre-script', postScript: 'Post-script', messagePayload: 'Message payload expression',
    messageVariable: 'Message variable', tiers: { group: 'group committee', unit: 'unit committee',
      branch: 'branch commissioner', department: 'functional department' },
    saveFailed: 'Saving failed', compareTitle: 'Compare versions', version: 'version', selectElement: 'click to select',
  },
};

export function language(lang) {
  if (lang) {
    return lang.startsWith('en') ? 'en' : 'zh';
  }
  const doc = (typeof document !== 'undefined' && document.documentElement.lang) || 'zh';
  return doc.startsWith('en') ? 'en' : 'zh';
}

export function messages(lang) {
  const table = MESSAGES[language(lang)];
  const t = (key, vars) => {
    let text = table[key] !== undefined ? table[key] : key;
    if (vars && typeof text === 'string') {
      for (const [k, v] of Object.entries(vars)) {
        text = text.replace(`{${k}}`, v);
      }
    }
    return text;
  };
  t.table = table;
  return t;
}

/** fetch() against the Sanji API: bearer token or session cookie + CSRF header from <meta name="csrf-token">. */
export function apiClient(options = {}) {
  const base = (options.base || '').replace(/\/$/, '');
  const extra = options.headers || {};

  function headers(more) {
    const h = { Accept: 'application/json', ...extra, ...more };
    const meta = typeof document !== 'undefined' && document.querySelector('meta[name="csrf-token"]');
    if (meta && meta.content) {
      h['X-CSRFToken'] = meta.content;
      h['X-CSRF-Token'] = meta.content;
    }
    return h;
  }

  async function request(method, path, body, contentType) {
    const init = { method, headers: headers(contentType ? { 'Content-Type': contentType } : {}), credentials: 'same-origin' };
    if (body !== undefined) {
      init.body = body;
    }
    const response = await fetch(base + path, init);
    const type = response.headers.get('Content-Type') || '';
    const payload = type.includes('json') ? await response.json() : await response.text();
    if (!response.ok) {
      const err = new Error((payload && payload.message) || `${response.status} ${response.statusText}`);
      err.status = response.status;
      err.payload = payload;
      throw err;
    }
    return { status: response.status, data: payload };
  }

  return {
    get: (path) => request('GET', path).then(r => r.data),
    getText: (path) => request('GET', path).then(r => r.data),
    postXML: (path, xml) => request('POST', path, xml, 'application/xml'),
    postJSON: (path, data) => request('POST', path, JSON.stringify(data), 'application/json'),
  };
}

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) {
      continue;
    }
    if (k === 'class') {
      node.className = v;
    } else if (k.startsWith('on') && typeof v === 'function') {
      node.addEventListener(k.slice(2), v);
    } else if (k === 'dataset') {
      Object.assign(node.dataset, v);
    } else {
      node.setAttribute(k, v === true ? '' : v);
    }
  }
  for (const child of children.flat()) {
    if (child !== undefined && child !== null && child !== false) {
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
  }
  return node;
}

export function hasDiagram(xml) {
  return /<([\w-]+:)?BPMNDiagram[\s>]/.test(xml);
}

export function downloadText(filename, text, type = 'application/xml') {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = el('a', { href: url, download: filename });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

/** The element (shape or connection) with this id, if the canvas shows it. */
export function findElement(diagram, id) {
  return id ? diagram.get('elementRegistry').get(id) : undefined;
}

/** Select and show an element, switching to the sub-process plane that contains it. */
export function focusElement(diagram, id) {
  const element = findElement(diagram, id);
  if (!element) {
    return false;
  }
  const canvas = diagram.get('canvas');
  try {
    canvas.scrollToElement(element, { top: 80, bottom: 80, left: 80, right: 80 });
  } catch (e) {
    // elements on another plane cannot be scrolled to from this one
  }
  let selection;
  try {
    selection = diagram.get('selection');
  } catch (e) {
    selection = null;
  }
  if (selection) {
    selection.select(element);
  }
  return true;
}

// Chinese labels for the bpmn-js palette, context pad and standard properties groups.
const ZH = {
  'Activate hand tool': '抓手工具', 'Activate lasso tool': '套索工具', 'Activate create/remove space tool': '创建/删除空间',
  'Activate global connect tool': '全局连接工具', 'Create start event': '开始事件', 'Create intermediate/boundary event': '中间/边界事件',
  'Create end event': '结束事件', 'Create gateway': '网关', 'Create task': '任务', 'Create expanded sub-process': '展开的子流程',
  'Create data object reference': '数据对象引用', 'Create data store reference': '数据存储引用',
  'Create pool/participant': '池/参与者', 'Create group': '组', 'Append end event': '追加结束事件', 'Append gateway': '追加网关',
  'Append task': '追加任务', 'Append intermediate/boundary event': '追加中间/边界事件', 'Change element': '更改类型',
  'Change type': '更改类型', 'Delete': '删除', 'Connect using sequence/message flow or association': '用顺序流/消息流/关联连接',
  'Connect using association': '用关联连接', 'Connect using data input association': '用数据输入关联连接',
  'Add text annotation': '添加文本注释', 'Add lane above': '在上方添加泳道', 'Add lane below': '在下方添加泳道',
  'Divide into two lanes': '分为两个泳道', 'Divide into three lanes': '分为三个泳道', 'General': '常规', 'Name': '名称',
  'Documentation': '文档', 'Element documentation': '元素文档', 'Process documentation': '流程文档', 'Timer': '定时器',
  'Type': '类型', 'Value': '值', 'Date': '日期', 'Duration': '持续时间', 'Cycle': '周期', '<none>': '<无>',
  'Multi-instance': '多实例', 'Loop cardinality': '循环次数', 'Completion condition': '完成条件', 'Message': '消息',
  'Signal': '信号', 'Executable': '可执行', 'Process ID': '流程 ID', 'Process name': '流程名称', 'Global message reference': '全局消息引用',
  'Create new ...': '新建…', 'Participant': '参与者', 'Lane': '泳道', 'Search in diagram': '在图中搜索',
};

/** A diagram-js `translate` service: Chinese for the strings above, English otherwise. */
export function translateModule(lang) {
  const zh = language(lang) === 'zh';
  function translate(template, replacements) {
    const text = (zh && ZH[template]) || template;
    return text.replace(/{([^}]+)}/g, (_, key) => (replacements && key in replacements ? replacements[key] : `{${key}}`));
  }
  return { translate: ['value', translate] };
}
