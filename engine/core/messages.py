"""Messages: a thrown message starts every deployed process whose message start event catches it."""

from __future__ import annotations

from typing import Any

from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from sqlalchemy import select

from engine.core.runtime_base import Loaded, RuntimeBase
from engine.errors import NotFound
from engine.infra import events
from engine.models import ProcessDefinition, ProcessInstance
from engine.org.nodes import Principal
from engine.org.policy import SYSTEM


class Messages(RuntimeBase):
    def send_message(self, name: str, payload: dict[str, Any] | None, actor: Principal | None) -> list[ProcessInstance]:
        """Start every deployed process whose message start event catches `name`."""
        started = []
        for d in self._message_starters(name):
            ev = next(
                e for e in d.info.get("start_events", []) if e.get("kind") == "message" and e.get("message") == name
            )
            started.append(self.start(d, dict(payload or {}), actor, start_event=ev["id"]))
        if not started:
            raise NotFound("no deployed process starts on message {name!r}", name=name)
        return started

    # ---- messages and deferred starts --------------------------------------------------------------

    def _messages(self, loaded: Loaded) -> None:
        for event in loaded.wf.get_events():
            definition = event.event_definition
            if not isinstance(definition, MessageEventDefinition):
                continue
            payload = event.payload if isinstance(event.payload, dict) else {"payload": event.payload}
            name = definition.name
            source = loaded.inst.id

            def start_catchers(name: str = name, payload: dict[str, Any] = payload, source: int = source) -> None:
                for d in self._message_starters(name):
                    ev = next(
                        e
                        for e in d.info.get("start_events", [])
                        if e.get("kind") == "message" and e.get("message") == name
                    )
                    child = self.start(d, dict(payload), SYSTEM, start_event=ev["id"])
                    events.log(
                        self.session,
                        self.clock.now(),
                        "message_delivered",
                        instance_id=source,
                        payload={"message": name, "started_instance_id": child.id},
                    )

            loaded.deferred.append(start_catchers)

    def _message_starters(self, name: str) -> list[ProcessDefinition]:
        rows = self.session.scalars(
            select(ProcessDefinition)
            .where(ProcessDefinition.active.is_(True))
            .order_by(ProcessDefinition.key, ProcessDefinition.version.desc())
        ).all()
        latest_by_key: dict[str, ProcessDefinition] = {}
        for d in rows:
            latest_by_key.setdefault(d.key, d)
        return [
            d
            for d in latest_by_key.values()
            if any(e.get("kind") == "message" and e.get("message") == name for e in d.info.get("start_events", []))
        ]
