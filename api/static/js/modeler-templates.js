// Element templates (issue 19): the recurring steps of the procedures (下达任务, 分发到各单位, 审批…)
// created with their Sanji properties already set. The catalogue is data
// (element-templates.json, bundled; GET /api/v1/modeler/config may send `templates` to replace it).
//
//   palette: 模板 → a menu of the templates → the chosen one follows the mouse and is placed by a click;
//   context pad of a flow node: 模板 → the chosen one is appended after it, already connected.
import { getBusinessObject, is } from 'bpmn-js/lib/util/ModelUtil';

import CATALOGUE from './element-templates.json';

const WORDS = {
  zh: { palette: '按模板新建步骤（下达任务、分发到各单位、审批…）', append: '按模板接下一步', title: '步骤模板', search: '搜索模板',
    pool: '新建流程池（三级泳道：集团公司纪委、权属单位纪委、基层党支部纪律检查委员），例如被调用的下级流程', poolName: '新流程',
    poolShort: '三级<br>泳道' },
  en: { palette: 'Create a step from a template', append: 'Append a step from a template', title: 'Step templates',
    search: 'Search templates', pool: 'New pool with the three tier lanes (e.g. the called lower-tier process)', poolName: 'New process',
    poolShort: 'Tier<br>pool' },
};

export function templateCatalogue(config) {
  return (config && Array.isArray(config.templates) && config.templates.length) ? config.templates : CATALOGUE.templates;
}

/** The business object of a template: name, spiffworkflow:properties, multi-instance marker. */
export function createTemplateShape(template, { bpmnFactory, elementFactory, moddle }) {
  const values = Object.entries(template.properties || {}).map(([name, value]) =>
    moddle.create('spiffworkflow:Property', { name, value: String(value) }));
  const attrs = { name: template.name || template.label };
  if (values.length) {
    const props = moddle.create('spiffworkflow:Properties', { properties: values });
    attrs.extensionElements = bpmnFactory.create('bpmn:ExtensionElements', { values: [props] });
  }
  const bo = bpmnFactory.create(template.type, attrs);
  for (const value of values) {
    value.$parent = bo.extensionElements.values[0];
  }
  if (attrs.extensionElements) {
    attrs.extensionElements.values[0].$parent = attrs.extensionElements;
    attrs.extensionElements.$parent = bo;
  }
  if (template.multiInstance) {
    bo.loopCharacteristics = bpmnFactory.create('bpmn:MultiInstanceLoopCharacteristics',
      { isSequential: template.multiInstance === 'sequential' });
    bo.loopCharacteristics.$parent = bo;
  }
  const shape = elementFactory.createShape({ type: template.type, businessObject: bo });
  shape.sanjiTemplate = template.id;
  return shape;
}

// The lanes of a new pool, top to bottom: the tiers' names as the engine reads them (docs/bpmn-conventions.md).
export const TIER_LANE_NAMES = ['集团公司纪委', '权属单位纪委', '基层党支部纪律检查委员'];
const LANE_HEIGHT = 160;

/** 三级泳道: a new pool below the drawing, with a process of its own and the three tier lanes. */
export function addTierPool({ canvas, elementFactory, elementRegistry, modeling, bpmnFactory }, name) {
  const pools = elementRegistry.filter(e => is(e, 'bpmn:Participant') && !e.labelTarget);
  const flows = elementRegistry.filter(e => !e.labelTarget && e.parent === canvas.getRootElement() && !e.waypoints);
  const below = [...pools, ...flows];
  const x = pools.length ? Math.min(...pools.map(p => p.x)) : 120;
  const y = below.length ? Math.max(...below.map(p => p.y + p.height)) + 60 : 80;
  const process = bpmnFactory.create('bpmn:Process', { isExecutable: true, name });
  const participant = elementFactory.createParticipantShape({ type: 'bpmn:Participant', isExpanded: true,
    processRef: process });
  participant.businessObject.name = name;
  participant.businessObject.processRef = process;
  participant.width = 1200;
  participant.height = LANE_HEIGHT;
  const pool = modeling.createShape(participant, { x: x + 600, y: y + LANE_HEIGHT / 2 }, canvas.getRootElement());
  modeling.addLane(pool, 'bottom');
  modeling.addLane(pool, 'bottom');
  // the lanes added below have bpmn-js's default height: make the three equal, from the top down
  // (resizing a lane's lower edge moves the lane below it; the last one grows the pool)
  for (let i = 0; i < TIER_LANE_NAMES.length; i += 1) {
    const lane = elementRegistry.filter(e => is(e, 'bpmn:Lane') && e.parent === pool).sort((a, b) => a.y - b.y)[i];
    if (lane && lane.height !== LANE_HEIGHT) {
      modeling.resizeLane(lane, { x: lane.x, y: lane.y, width: lane.width, height: LANE_HEIGHT });
    }
  }
  elementRegistry.filter(e => is(e, 'bpmn:Lane') && e.parent === pool).sort((a, b) => a.y - b.y)
    .forEach((lane, i) => modeling.updateProperties(lane, { name: TIER_LANE_NAMES[i] }));
  return pool;
}

class SanjiTemplates {
  constructor(config, palette, contextPad, popupMenu, create, autoPlace, bpmnFactory, elementFactory, moddle, canvas,
    elementRegistry, modeling, selection, directEditing, eventBus) {
    const lang = config && config.lang === 'en' ? 'en' : 'zh';
    const w = WORDS[lang];
    const templates = () => templateCatalogue(config);
    const factories = { bpmnFactory, elementFactory, moddle };
    const label = t => (lang === 'en' && t.label_en) || t.label;
    const icon = t => (t.type === 'bpmn:CallActivity' ? 'bpmn-icon-call-activity' : 'bpmn-icon-user-task');
    const mode = { append: null };  // the element a menu appends to (null: create from the palette)

    const openMenu = (event, target, append) => {
      mode.append = append;
      const position = { x: event.clientX || event.x || 0, y: (event.clientY || event.y || 0) + 10, cursor: { x: event.clientX, y: event.clientY } };
      popupMenu.open(target, 'sanji-templates', position, { title: w.title, search: true, width: 300 });
    };

    // A template's step comes named: bpmn-js opens the label of a new element for typing, and that open
    // editor makes the next click on the context pad miss (it closes on mousedown and redraws the pad).
    // Double-click renames the step as usual.
    const settle = ({ shape, elements }) => {
      const placed = shape || (elements && elements[0]);
      if (placed && placed.sanjiTemplate && directEditing.isActive()) {
        directEditing.cancel();
      }
    };
    eventBus.on('autoPlace.end', 250, settle);
    eventBus.on('create.end', 250, settle);

    popupMenu.registerProvider('sanji-templates', {
      getPopupMenuEntries() {
        const entries = {};
        for (const t of templates()) {
          entries[`sanji-template-${t.id}`] = {
            label: label(t),
            description: t.description || '',
            className: icon(t),
            action: (event) => {
              const shape = createTemplateShape(t, factories);
              const source = mode.append;
              mode.append = null;
              if (source) {
                autoPlace.append(source, shape);
              } else {
                create.start(event, shape);
              }
            },
          };
        }
        return entries;
      },
    });

    palette.registerProvider(this.paletteProvider = {
      getPaletteEntries() {
        return {
          'sanji-templates-separator': { group: 'sanji-templates', separator: true },
          'sanji-templates': {
            group: 'sanji-templates',
            title: w.palette,
            html: `<div class="entry sanji-template-entry" draggable="true">${lang === 'en' ? 'Tpl' : '模板'}</div>`,
            action: { click: (event) => openMenu(event, canvas.getRootElement(), null) },
          },
          'sanji-tier-pool': {
            group: 'sanji-templates',
            title: w.pool,
            html: `<div class="entry sanji-template-entry sanji-pool-entry">${w.poolShort}</div>`,
            action: { click: () => {
              const pool = addTierPool({ canvas, elementFactory, elementRegistry, modeling, bpmnFactory }, w.poolName);
              selection.select(pool);
              canvas.scrollToElement(pool);
            } },
          },
        };
      },
    });

    contextPad.registerProvider(this.contextPadProvider = {
      getContextPadEntries(element) {
        if (!is(element, 'bpmn:FlowNode') || is(element, 'bpmn:EndEvent') || element.type === 'label'
            || getBusinessObject(element).triggeredByEvent) {
          return {};
        }
        return {
          'sanji-append-template': {
            group: 'model',
            title: w.append,
            html: `<div class="entry sanji-template-entry">${lang === 'en' ? 'Tpl' : '模板'}</div>`,
            action: { click: (event, target) => openMenu(event, target, target) },
          },
        };
      },
    });
  }
}
SanjiTemplates.$inject = [
  'config.sanji', 'palette', 'contextPad', 'popupMenu', 'create', 'autoPlace', 'bpmnFactory', 'elementFactory', 'moddle', 'canvas',
  'elementRegistry', 'modeling', 'selection', 'directEditing', 'eventBus',
];

export default {
  __init__: ['sanjiTemplates'],
  sanjiTemplates: ['type', SanjiTemplates],
};
