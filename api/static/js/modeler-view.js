// How the modeler first shows a diagram, and the token simulation's labels in Chinese.
import { zhText } from './modeler-i18n.js';
import { language } from './common.js';

// bpmn-js draws labels at 12 px: below this zoom they are smaller than 10 px on screen.
export const READABLE_ZOOM = 0.9;
const MARGIN = 24;

/**
 * Show the pool of the process being edited (`key`; else the whole diagram) at a readable
 * scale: fitted when it fits at READABLE_ZOOM or more, else at 100 % from its top-left corner
 * (lane labels first), never the whole multi-pool file shrunk to unreadable labels.
 */
export function zoomToProcess(modeler, key) {
  const canvas = modeler.get('canvas');
  const registry = modeler.get('elementRegistry');
  const pools = registry.filter(e => e.type === 'bpmn:Participant');
  const pool = pools.find(p => p.businessObject.processRef && p.businessObject.processRef.id === key)
    || (pools.length === 1 ? pools[0] : null);
  let box = pool ? { x: pool.x, y: pool.y, width: pool.width, height: pool.height } : null;
  if (!box) {
    const shapes = registry.filter(e => !e.waypoints && e.parent && e.type !== 'label');
    if (!shapes.length) {
      return canvas.zoom();
    }
    const x = Math.min(...shapes.map(e => e.x));
    const y = Math.min(...shapes.map(e => e.y));
    box = { x, y, width: Math.max(...shapes.map(e => e.x + e.width)) - x, height: Math.max(...shapes.map(e => e.y + e.height)) - y };
  }
  const outer = canvas.viewbox().outer;
  if (!outer.width || !outer.height) {
    return canvas.zoom();
  }
  let zoom = Math.min((outer.width - 2 * MARGIN) / box.width, (outer.height - 2 * MARGIN) / box.height, 1.2);
  if (zoom < READABLE_ZOOM) {
    zoom = 1;
  }
  const width = outer.width / zoom;
  const height = outer.height / zoom;
  const x = box.width * zoom + 2 * MARGIN <= outer.width ? box.x + box.width / 2 - width / 2 : box.x - MARGIN / zoom;
  const y = box.height * zoom + 2 * MARGIN <= outer.height ? box.y + box.height / 2 - height / 2 : box.y - MARGIN / zoom;
  canvas.viewbox({ x, y, width, height });
  return canvas.zoom();
}

const SPEED = /^Set animation speed = (\w+)$/;
const SCOPE = /^(.+) (started|finished|canceled)$/;

function translated(text, zh) {
  if (!zh || !text) {
    return text;
  }
  const speed = SPEED.exec(text);
  if (speed) {
    return `动画速度：${zhText(speed[1]) || speed[1]}`;
  }
  if (/^Focus process instance /.test(text)) {
    return '只看这个流程实例';
  }
  const scope = SCOPE.exec(text);
  if (scope) {
    const what = scope[1] === 'Process' ? '流程' : scope[1] === 'SubProcess' ? '子流程' : scope[1];
    return `${what}${{ started: '开始', finished: '结束', canceled: '取消' }[scope[2]]}`;
  }
  return zhText(text.trim()) || text;
}

/**
 * Translate, as they appear, the English titles and notices that bypass `translate`: those of
 * bpmn-js-token-simulation (`selector` [class*="bts-"][title]) and a few tooltips of the
 * properties panel ('Open pop-up editor' on the text areas).
 */
export function localizeTitles(container, lang, selector = '[class*="bts-"][title]') {
  const zh = language(lang) === 'zh';
  if (!zh || typeof MutationObserver === 'undefined') {
    return;
  }
  const fix = () => {
    for (const node of container.querySelectorAll(selector)) {
      const title = translated(node.getAttribute('title'), zh);
      if (title !== node.getAttribute('title')) {
        node.setAttribute('title', title);
      }
    }
    for (const node of container.querySelectorAll('.bts-notification .bts-text, .bts-entry.placeholder, .bts-log .bts-text')) {
      const text = translated(node.textContent, zh);
      if (text !== node.textContent) {
        node.textContent = text;
      }
    }
  };
  new MutationObserver(fix).observe(container, { subtree: true, childList: true, attributes: true, attributeFilter: ['title'] });
}
