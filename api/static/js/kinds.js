// BPMN element kinds and the diff's field names in the reader's words (the heatmap, the compare
// page): a business reader sees 用户任务, never `userTask`.
const KINDS = {
  zh: { userTask: '用户任务', manualTask: '人工任务', scriptTask: '脚本任务', serviceTask: '服务任务', sendTask: '发送任务',
    receiveTask: '接收任务', businessRuleTask: '业务规则任务', task: '任务', callActivity: '调用子流程', subProcess: '子流程',
    startEvent: '开始事件', endEvent: '结束事件', intermediateCatchEvent: '中间捕获事件', intermediateThrowEvent: '中间抛出事件',
    boundaryEvent: '边界事件', exclusiveGateway: '排他网关', parallelGateway: '并行网关', inclusiveGateway: '包容网关',
    eventBasedGateway: '事件网关', sequenceFlow: '顺序流', messageFlow: '消息流', lane: '泳道', participant: '泳池',
    process: '流程', collaboration: '协作', textAnnotation: '注释', association: '关联', dataObjectReference: '数据对象',
    dataStoreReference: '数据存储', laneSet: '泳道集', timerEventDefinition: '定时器', messageEventDefinition: '消息' },
  en: { userTask: 'user task', manualTask: 'manual task', scriptTask: 'script task', serviceTask: 'service task',
    sendTask: 'send task', receiveTask: 'receive task', businessRuleTask: 'business rule task', task: 'task',
    callActivity: 'call activity', subProcess: 'sub-process', startEvent: 'start event', endEvent: 'end event',
    intermediateCatchEvent: 'intermediate catch event', intermediateThrowEvent: 'intermediate throw event',
    boundaryEvent: 'boundary event', exclusiveGateway: 'exclusive gateway', parallelGateway: 'parallel gateway',
    inclusiveGateway: 'inclusive gateway', eventBasedGateway: 'event-based gateway', sequenceFlow: 'sequence flow',
    messageFlow: 'message flow', lane: 'lane', participant: 'pool', process: 'process' },
};
const FIELDS = {
  zh: { name: '名称', documentation: '说明', type: '类型', lane: '所在泳道', nodes: '泳道内元素', source: '起点', target: '终点',
    condition: '条件表达式', script: '脚本', multiInstance: '多实例', loop: '循环', expression: '表达式', calledElement: '被调用流程',
    default: '默认流向', processRef: '所属流程', attachedToRef: '附着于', text: '文字', properties: '扩展属性',
    candidateRoles: '候选角色', dueIn: '办理期限', dueAt: '截止时间', form: '表单', formKey: '表单', timer: '定时器',
    timeCycle: '周期', timeDate: '时间', timeDuration: '时长', messageRef: '消息', isExecutable: '可执行',
    preScript: '前置脚本', postScript: '后置脚本', loopDataInputRef: '遍历列表变量', inputDataItem: '元素变量',
    loopDataOutputRef: '输出列表变量', outputDataItem: '输出元素变量' },
  en: {},
};

function code(lang) {
  const l = lang || (typeof document !== 'undefined' && document.documentElement.lang) || 'zh';
  return l.startsWith('en') ? 'en' : 'zh';
}

/** The kind of an element (`userTask` → 用户任务); an unknown kind stays as it is. */
export function kindLabel(type, lang) {
  return KINDS[code(lang)][type] || type;
}

/** A field of the diff (`candidateRoles` → 候选角色); an extension property keeps its own name. */
export function fieldLabel(field, lang) {
  const table = FIELDS[code(lang)];
  if (table[field]) {
    return table[field];
  }
  const prop = /^properties?[.[]"?([^"\]]+)"?\]?$/.exec(field);
  return prop && table[prop[1]] ? table[prop[1]] : field;
}
