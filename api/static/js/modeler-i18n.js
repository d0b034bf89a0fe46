// The modeler's `translate` service in Chinese: bpmn-js-i18n's community translation (palette,
// context pad, replace menu) with our wording on top, plus the strings of the properties panel,
// its element-type header, the lint overlays and the token simulation. diagram-js modules call
// `translate(template, replacements)`; a string not listed stays as it is (English), which the
// browser test's sweep of the palette, context pad and panel would catch.
import zn from 'bpmn-js-i18n/translations/zn';

import { language } from './common.js';

// Our wording where the community file differs from the words cadres use (泳道, 开始…).
const OURS = {
  'Activate hand tool': '抓手工具（拖动画布）', 'Activate lasso tool': '套索工具（框选）',
  'Activate create/remove space tool': '插入/删除空白', 'Activate global connect tool': '连线工具',
  'Create start event': '开始事件', 'Create intermediate/boundary event': '中间/边界事件', 'Create end event': '结束事件',
  'Create gateway': '网关', 'Create task': '任务', 'Create expanded sub-process': '展开的子流程',
  'Create data object reference': '数据对象', 'Create data store reference': '数据存储', 'Create pool/participant': '池',
  'Create group': '分组', 'Append end event': '接结束事件', 'Append gateway': '接网关', 'Append task': '接任务',
  'Append intermediate/boundary event': '接中间/边界事件', 'Change element': '更改类型', 'Change type': '更改类型',
  'Delete': '删除', 'Connect using sequence/message flow or association': '连线（顺序流、消息流或关联）',
  'Connect to other element': '连到其他元素', 'Connect using association': '用关联连线',
  'Connect using data input association': '用数据输入关联连线', 'Add text annotation': '添加注释',
  'Add lane above': '在上方添加泳道', 'Add lane below': '在下方添加泳道', 'Divide into two lanes': '分成两条泳道',
  'Divide into three lanes': '分成三条泳道', 'Align elements': '对齐', 'Distribute elements horizontally': '水平均匀分布',
  'Distribute elements vertically': '垂直均匀分布', 'Toggle non-interrupting': '切换（非中断）',
  'Append compensation activity': '接补偿活动', 'Search in diagram': '在图中搜索', 'Terminate end event': '终止结束事件',
  'Receive task': '接收任务', 'Exclusive gateway': '排他网关', 'Empty pool/participant': '空池',
  'Empty pool/participant (removes content)': '空池（删除内容）', 'Participant multiplicity': '参与者多实例',
  'Align elements left': '左对齐', 'Align elements right': '右对齐', 'Align elements center': '水平居中',
  'Align elements top': '顶端对齐', 'Align elements bottom': '底端对齐', 'Align elements middle': '垂直居中',
  'Left': '左', 'Right': '右', 'Center': '中', 'Top': '上', 'Bottom': '下', 'Middle': '中',
};

// The properties panel (bpmn-js-properties-panel, @bpmn-io/properties-panel).
const PANEL = {
  'General': '常规', 'Name': '名称', 'ID': '标识', 'Documentation': '说明', 'Element documentation': '元素说明',
  'Process documentation': '流程说明', 'Executable': '可执行', 'Process ID': '流程标识', 'Process name': '流程名称',
  'Participant ID': '池标识', 'Participant Name': '池名称', 'Timer': '定时器', 'Type': '类型', 'Value': '值',
  'Date': '日期时间', 'Duration': '时长', 'Cycle': '周期', '<none>': '（无）', '<empty>': '（空）',
  'Multi-instance': '多实例', 'Loop cardinality': '实例数', 'Completion condition': '完成条件', 'Message': '消息',
  'Signal': '信号', 'Error': '错误', 'Escalation': '升级', 'Link': '链接', 'Compensation': '补偿', 'Completion': '完成',
  'Code': '代码', 'Activity reference': '活动引用', 'Wait for completion': '等待完成',
  'Cancel remaining instances': '取消其余实例', 'Global message reference': '消息', 'Global signal reference': '信号',
  'Global error reference': '错误', 'Global escalation reference': '升级', 'Create new ...': '新建…',
  'Select an element to edit its properties.': '选中一个元素以编辑它的属性。',
  'Multiple elements are selected. Select a single element to edit its properties.': '选中了多个元素：请只选一个来编辑属性。',
  'ID must not be empty.': '标识不能为空。', 'ID must be unique.': '标识必须唯一。', 'ID must not contain spaces.': '标识不能含空格。',
  'ID must not contain prefix.': '标识不能带前缀。', 'ID must be a valid QName.': '标识只能用字母、数字和下划线，并以字母开头。',
  'A cycle defined as ISO 8601 repeating intervals format.': '按 ISO 8601 重复间隔格式写的周期。',
  'A specific point in time defined as ISO 8601 combined date and time representation.': '按 ISO 8601 写的日期时间。',
  'A time duration defined as ISO 8601 durations format.': '按 ISO 8601 写的时长。',
  'every 10 seconds, up to 5 times': '每 10 秒一次，共 5 次', 'every day, infinitely': '每天一次，不停止',
  '15 seconds': '15 秒', '1 hour and 30 minutes': '1 小时 30 分', '14 days': '14 天', 'UTC time': '协调世界时',
  'UTC plus 2 hours zone offset': '时区偏移加 2 小时', 'Documentation: Timer events': '说明：定时事件',
  'Create new list item': '新增一项', 'Create': '新建', 'Delete item': '删除此项', 'Open documentation': '打开说明',
  'Open pop-up editor': '在弹出窗口中编辑', 'Opened in editor': '已在编辑窗口中打开', 'Section contains an error': '本节有错误',
  'Section contains edits': '本节有修改', 'Toggle list item': '展开/收起此项', 'Toggle section': '展开/收起本节',
  'FEEL expression is mandatory': '必须填写表达式', 'Unparsable FEEL expression.': '表达式无法解析。',
  'JSON contains errors': 'JSON 有错误',
};

// The element type shown in the panel's header ("User Task" → 用户任务), composed for events.
const TYPES = {
  'Process': '流程', 'Collaboration': '协作（多个池）', 'Participant': '池', 'Lane': '泳道', 'Task': '任务',
  'User Task': '用户任务', 'Manual Task': '人工任务', 'Script Task': '脚本任务', 'Service Task': '服务任务',
  'Send Task': '发送任务', 'Receive Task': '接收任务', 'Business Rule Task': '业务规则任务', 'Call Activity': '调用活动',
  'Sub Process': '子流程', 'Expanded Sub Process': '展开的子流程', 'Collapsed Sub Process': '折叠的子流程',
  'Event Sub Process': '事件子流程', 'Ad Hoc Sub Process': '自由子流程', 'Expanded Ad Hoc Sub Process': '自由子流程',
  'Collapsed Ad Hoc Sub Process': '自由子流程', 'Transaction': '事务', 'Gateway': '网关',
  'Exclusive Gateway': '排他网关', 'Parallel Gateway': '并行网关', 'Inclusive Gateway': '包容网关',
  'Complex Gateway': '复杂网关', 'Event Based Gateway': '事件网关', 'Sequence Flow': '顺序流',
  'Conditional Flow': '条件顺序流', 'Default Flow': '默认顺序流', 'Message Flow': '消息流', 'Association': '关联',
  'Data Input Association': '数据输入关联', 'Data Output Association': '数据输出关联', 'Data Input': '数据输入',
  'Data Output': '数据输出', 'Data Object Reference': '数据对象', 'Data Store Reference': '数据存储',
  'Text Annotation': '注释', 'Group': '分组',
};
const EVENT_BASES = {
  'Start Event': '开始事件', 'End Event': '结束事件', 'Boundary Event': '边界事件',
  'Intermediate Catch Event': '中间捕获事件', 'Intermediate Throw Event': '中间抛出事件',
};
const EVENT_KINDS = {
  '': '', 'Timer ': '定时', 'Message ': '消息', 'Signal ': '信号', 'Error ': '错误', 'Escalation ': '升级',
  'Conditional ': '条件', 'Link ': '链接', 'Compensate ': '补偿', 'Cancel ': '取消', 'Terminate ': '终止',
  'Multiple ': '多重', 'Parallel Multiple ': '并行多重',
};
const EVENT_TYPE = /^((?:Parallel )?[A-Z][a-z]+ )??((?:Start|End|Boundary|Intermediate Catch|Intermediate Throw) Event)( \(Non Interrupting\))?$/;

// bpmn-js-bpmnlint's overlays and button, and the messages of the rules we enable (modeler-lint.js).
const LINT = {
  'Toggle linting overlays': '显示/隐藏检查结果', 'Issues for child elements': '内部元素的问题',
  '{errors} Errors, {warnings} Warnings': '{errors} 个错误，{warnings} 个提醒', 'No Issues': '检查通过',
  'Element is not connected': '这个元素没有连上任何顺序流', 'Element is an implicit end': '没有出去的顺序流：请接一个结束事件',
  'Process is missing start event': '流程缺少开始事件', 'Process is missing end event': '流程缺少结束事件',
  'Sub Process is missing start event': '子流程缺少开始事件', 'Sub Process is missing end event': '子流程缺少结束事件',
  'SequenceFlow is a duplicate': '重复的顺序流', 'Duplicate outgoing sequence flows': '出去的顺序流重复',
  'Duplicate incoming sequence flows': '进来的顺序流重复', 'Sequence flow is missing condition': '顺序流缺少条件',
  'Element type <bpmn:ComplexGateway> is discouraged': '不支持复杂网关',
  'An <Event-based Gateway> must have at least 2 outgoing <Sequence Flows>': '事件网关至少要有两条出去的顺序流',
  'Event has multiple event definitions': '一个事件只能有一种触发方式',
  'Element has no incoming sequence flow, so it can never be reached': '没有进入它的顺序流，流程永远走不到这里：请连上或删除',
  'A user task must lie in a tier lane': '用户任务必须放在层级泳道里（集团公司纪委、权属单位纪委、基层党支部纪律检查委员或职能部门）',
  'The lane of this user task names no tier': '这个用户任务所在泳道的名称不对应任何层级',
  'Sanji does not run this kind of element': '系统不能运行这种元素：请改用用户任务、脚本任务或消息事件',
  'Script task has no script': '脚本任务没有脚本', 'Call activity names no process to call': '调用活动没有指定被调用的流程',
};

// bpmn-js-token-simulation (its labels are set through `translate` by modeler-simulation.js).
const SIMULATION = {
  'Token Simulation': '模拟运行', 'Play Simulation': '开始模拟', 'Pause Simulation': '暂停模拟',
  'Reset Simulation': '重置模拟', 'Play/Pause Simulation': '开始/暂停模拟', 'Toggle Simulation Log': '模拟记录',
  'Finished': '模拟结束', 'Set Sequence Flow': '选择走哪条顺序流', 'Trigger Event': '触发事件', 'Add pause point': '在此暂停',
  'Remove pause point': '取消暂停点', 'No Entries': '还没有记录', 'Slow': '慢', 'Normal': '中', 'Fast': '快',
};

const COMMUNITY = Object.fromEntries(Object.entries(zn).filter(([k]) => /^[A-Z<]/.test(k)));
export const ZH = { ...COMMUNITY, ...OURS, ...PANEL, ...TYPES, ...LINT, ...SIMULATION };

/** The Chinese for `template`, or undefined when there is none. */
export function zhText(template) {
  if (ZH[template] !== undefined) {
    return ZH[template];
  }
  const m = EVENT_TYPE.exec(template);
  if (m && EVENT_KINDS[m[1] || ''] !== undefined) {
    return `${EVENT_KINDS[m[1] || '']}${EVENT_BASES[m[2]]}${m[3] ? '（非中断）' : ''}`;
  }
  return undefined;
}

/** A diagram-js `translate` service: Chinese on a zh page, English otherwise. */
export function translateModule(lang) {
  const zh = language(lang) === 'zh';
  function translate(template, replacements) {
    const text = (zh && zhText(template)) || template;
    return text.replace(/{([^}]+)}/g, (_, key) => (replacements && key in replacements ? replacements[key] : `{${key}}`));
  }
  return { translate: ['value', translate] };
}
