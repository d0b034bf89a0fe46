"""BPMN element kinds in the reader's words (the heatmap's table): 用户任务, never `userTask`.
The same table as api/static/js/kinds.js, which the diagram bundles use."""

from __future__ import annotations

from .base import current_language

KINDS: dict[str, tuple[str, str]] = {  # kind: (English, Chinese)
    "userTask": ("user task", "用户任务"),
    "manualTask": ("manual task", "人工任务"),
    "scriptTask": ("script task", "脚本任务"),
    "serviceTask": ("service task", "服务任务"),
    "sendTask": ("send task", "发送任务"),
    "receiveTask": ("receive task", "接收任务"),
    "businessRuleTask": ("business rule task", "业务规则任务"),
    "task": ("task", "任务"),
    "callActivity": ("call activity", "调用子流程"),
    "subProcess": ("sub-process", "子流程"),
    "startEvent": ("start event", "开始事件"),
    "endEvent": ("end event", "结束事件"),
    "intermediateCatchEvent": ("intermediate catch event", "中间捕获事件"),
    "intermediateThrowEvent": ("intermediate throw event", "中间抛出事件"),
    "boundaryEvent": ("boundary event", "边界事件"),
    "exclusiveGateway": ("exclusive gateway", "排他网关"),
    "parallelGateway": ("parallel gateway", "并行网关"),
    "inclusiveGateway": ("inclusive gateway", "包容网关"),
    "eventBasedGateway": ("event-based gateway", "事件网关"),
    "sequenceFlow": ("sequence flow", "顺序流"),
    "lane": ("lane", "泳道"),
    "participant": ("pool", "泳池"),
    "process": ("process", "流程"),
}


def kind_label(kind: str) -> str:
    """The kind in the page's language; an unknown kind as it is."""
    pair = KINDS.get(kind)
    if pair is None:
        return kind
    return pair[1] if current_language().startswith("zh") else pair[0]
