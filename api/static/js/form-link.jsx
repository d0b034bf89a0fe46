// The modeler's way to the form editor (issue 15): under a user task's form select, "新建表单"
// names a new form after the process and the task (nobody types a file name), sets it on the task
// and opens the form editor in a new tab; "编辑表单" opens the task's form there. When the editor
// deploys, the new form joins the select (message `sanji-form-deployed` from the editor's tab).
import { getBusinessObject } from 'bpmn-js/lib/util/ModelUtil';
import { useService } from 'bpmn-js-properties-panel';

import { getSpiffProperty, setSpiffProperty } from './properties.jsx';

const TEXT = {
  zh: { create: '新建表单', edit: '编辑表单', fresh: '新表单' },
  en: { create: 'New form', edit: 'Edit form', fresh: 'New form' },
};

function processOf(bo) {
  let p = bo;
  while (p && p.$type !== 'bpmn:Process') { p = p.$parent; }
  return p ? p.id : 'process';
}

/** `<process>_<task>.json`, in the characters a form key allows. */
export function newFormKey(bo) {
  return `${processOf(bo)}_${bo.id}.json`.replace(/[^A-Za-z0-9_.-]/g, '_').replace(/^[^A-Za-z0-9]+/, '');
}

let listening = false;

export function FormLinks({ element, id }) {
  const bpmnFactory = useService('bpmnFactory');
  const commandStack = useService('commandStack');
  const eventBus = useService('eventBus');
  const config = useService('config.sanji', false) || {};
  const t = TEXT[config.lang === 'en' ? 'en' : 'zh'];
  const bo = getBusinessObject(element);
  const current = getSpiffProperty(bo, 'formJsonSchemaFilename');
  const editor = config.formEditorUrl || '/forms/edit';

  if (!listening && typeof window !== 'undefined') {
    listening = true;
    window.addEventListener('message', (event) => {
      const m = event.data;
      if (event.origin !== window.location.origin || !m || m.type !== 'sanji-form-deployed') { return; }
      config.forms = (config.forms || []).filter(f => f.filename !== m.key);
      config.forms.push({ filename: m.key, title: m.title || null });
      eventBus.fire('elements.changed', { elements: [] });
    });
  }

  function open(key) {
    window.open(`${editor}?key=${encodeURIComponent(key)}`, '_blank');
  }

  function create() {
    const key = newFormKey(bo);
    setSpiffProperty(element, 'formJsonSchemaFilename', key, bpmnFactory, commandStack);
    config.forms = config.forms || [];
    if (!config.forms.some(f => f.filename === key)) { config.forms.push({ filename: key, title: t.fresh }); }
    open(key);
  }

  return <div class="bio-properties-panel-entry sanji-form-links" data-entry-id={id}>
    <button type="button" class="bio-properties-panel-add-entry sanji-form-new" onClick={create}>{t.create}</button>
    {current ? <button type="button" class="bio-properties-panel-add-entry sanji-form-edit" onClick={() => open(current)}>{t.edit}</button> : null}
  </div>;
}
