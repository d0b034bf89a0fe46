// Structural lint on the canvas while editing (bpmn-js-bpmnlint): bpmnlint's own rules plus
// ours, chosen so that an error here is an error of the server's deploy check
// (engine/core/validation.py): disconnected and unreachable elements, human steps outside a tier
// lane, elements Sanji does not run, script tasks without a script, calls without a process.
// Warnings (missing start/end event, duplicate flows) are hints the server does not refuse.
import lintModule from 'bpmn-js-bpmnlint';
import { is, isAny } from 'bpmn-js/lib/util/ModelUtil';
import noDisconnected from 'bpmnlint/rules/no-disconnected';
import startEventRequired from 'bpmnlint/rules/start-event-required';
import endEventRequired from 'bpmnlint/rules/end-event-required';
import noDuplicateSequenceFlows from 'bpmnlint/rules/no-duplicate-sequence-flows';
import singleEventDefinition from 'bpmnlint/rules/single-event-definition';

import { laneOf, tierOf } from './properties.jsx';

export { lintModule };

// The English message is the translate key (modeler-i18n.js has the Chinese).
export const MESSAGES = {
  unreachable: 'Element has no incoming sequence flow, so it can never be reached',
  noLane: 'A user task must lie in a tier lane',
  noTier: 'The lane of this user task names no tier',
  unsupported: 'Sanji does not run this kind of element',
  noScript: 'Script task has no script',
  noCalled: 'Call activity names no process to call',
};

const REACHED_BY_FLOW = [
  'bpmn:Activity', 'bpmn:Gateway', 'bpmn:IntermediateCatchEvent', 'bpmn:IntermediateThrowEvent', 'bpmn:EndEvent',
];
const UNSUPPORTED = [
  'bpmn:ServiceTask', 'bpmn:BusinessRuleTask', 'bpmn:SendTask', 'bpmn:ReceiveTask', 'bpmn:AdHocSubProcess',
  'bpmn:ComplexGateway',
];

function executable(node) {
  let p = node.$parent;
  while (p && !is(p, 'bpmn:Process')) {
    p = p.$parent;
  }
  return !p || p.get('isExecutable') !== false;
}

function isLinkCatch(node) {
  return is(node, 'bpmn:IntermediateCatchEvent')
    && (node.get('eventDefinitions') || []).some(d => is(d, 'bpmn:LinkEventDefinition'));
}

/** No incoming flow where a token can only arrive by one (the server's rule, same exemptions). */
function unreachableRule() {
  return {
    check(node, reporter) {
      if (!isAny(node, REACHED_BY_FLOW) || !executable(node)) {
        return;
      }
      if (node.get('triggeredByEvent') || node.get('isForCompensation') || isLinkCatch(node)
        || is(node.$parent, 'bpmn:AdHocSubProcess')) {
        return;
      }
      const incoming = node.get('incoming') || [];
      const outgoing = node.get('outgoing') || [];
      if (!incoming.length && outgoing.length) {  // with neither, no-disconnected reports it
        reporter.report(node.id, MESSAGES.unreachable);
      }
    },
  };
}

function sanjiRules(config) {
  const laneTiers = config.lane_tiers || {};
  return {
    'tier-lane': () => ({
      check(node, reporter) {
        if (!isAny(node, ['bpmn:UserTask', 'bpmn:ManualTask']) || !executable(node)) {
          return;
        }
        const lane = laneOf(node);
        if (!lane) {
          reporter.report(node.id, MESSAGES.noLane);
        } else if (Object.keys(laneTiers).length && !tierOf(lane.get('name'), laneTiers)) {
          reporter.report(node.id, MESSAGES.noTier);
        }
      },
    }),
    unsupported: () => ({
      check(node, reporter) {
        if (isAny(node, UNSUPPORTED) && executable(node)) {
          reporter.report(node.id, MESSAGES.unsupported);
        }
      },
    }),
    'script-required': () => ({
      check(node, reporter) {
        if (is(node, 'bpmn:ScriptTask') && executable(node) && !(node.get('script') || '').trim()) {
          reporter.report(node.id, MESSAGES.noScript);
        }
      },
    }),
    'called-element': () => ({
      check(node, reporter) {
        if (is(node, 'bpmn:CallActivity') && executable(node) && !node.get('calledElement')) {
          reporter.report(node.id, MESSAGES.noCalled);
        }
      },
    }),
    unreachable: unreachableRule,
  };
}

/** The packed bpmnlint configuration ({ config, resolver }) for the modeler's options. */
export function lintConfig(config = {}) {
  const ours = sanjiRules(config);
  const builtIn = {
    'no-disconnected': noDisconnected,
    'start-event-required': startEventRequired,
    'end-event-required': endEventRequired,
    'no-duplicate-sequence-flows': noDuplicateSequenceFlows,
    'single-event-definition': singleEventDefinition,
  };
  return {
    config: {
      rules: {
        'no-disconnected': 'error',
        'sanji/unreachable': 'error',
        'sanji/tier-lane': 'error',
        'sanji/unsupported': 'error',
        'sanji/script-required': 'error',
        'sanji/called-element': 'error',
        'start-event-required': 'warn',
        'end-event-required': 'warn',
        'no-duplicate-sequence-flows': 'warn',
        'single-event-definition': 'warn',
      },
    },
    resolver: {
      resolveRule(pkg, name) {
        if (pkg === 'bpmnlint') {
          return builtIn[name];
        }
        return pkg === 'bpmnlint-plugin-sanji' ? ours[name] : undefined;
      },
      resolveConfig() {
        return null;
      },
    },
  };
}

/** The lint issues now on the canvas, by element id (for tests and the problem list). */
export async function lintNow(modeler) {
  return modeler.get('linting').lint();
}
