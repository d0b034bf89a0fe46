"""Fan-out: detached call activities become child instances; the parent continues when the last ends."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update

from engine.core import fan_choice
from engine.core.bounds import BoundExceeded
from engine.core.repository import latest
from engine.core.runtime_base import MAX_DEPTH, Loaded, RuntimeBase, _jsonable
from engine.core.spiff import DetachedCallActivity, async_before
from engine.core.spiff_seam import internal, set_internal
from engine.errors import ScriptError
from engine.infra import events
from engine.models import FanOut, OrgNode, ProcessDefinition, ProcessInstance
from engine.org import node_rows
from engine.org.routing import NODE_VARIABLE
from engine.platform import search as search_index

SCOPE_VARIABLES = sorted(set(NODE_VARIABLE.values()))  # the start data naming a child's org node


class FanOutMixin(RuntimeBase):
    _depths: dict[int, int]
    _release: set[str]  # the async script task the worker runs now (set by `_run_async_step` only)

    # ---- fan-out --------------------------------------------------------------------------------

    def _detached(self, loaded: Loaded, ready: list[Any]) -> bool:
        """Spawn children for new detached call activities; complete those whose children ended."""
        inst = loaded.inst
        progressed = False
        for t in ready:
            spec = t.task_spec
            if async_before(spec):
                progressed = self._async_step(loaded, t) or progressed
                continue
            if not isinstance(spec, DetachedCallActivity):
                continue
            guid = str(t.id)
            if not internal(t, "spawned"):
                self._spawn(loaded, t)
                set_internal(t, spawned=True)
            fan = self.session.get(FanOut, (inst.id, guid), populate_existing=True)
            if fan is not None and fan.pending <= 0:
                if spec.output_collection:
                    rows = (
                        self.session.execute(
                            select(ProcessInstance.data)
                            .where(ProcessInstance.parent_id == inst.id, ProcessInstance.parent_task_guid == guid)
                            .order_by(ProcessInstance.item_index)
                        )
                        .scalars()
                        .all()
                    )
                    t.data[spec.output_collection] = [
                        (d or {}).get(spec.output_item) if spec.output_item else d for d in rows
                    ]
                if spec.roll_up:
                    self._roll_up(loaded, t, spec)
                self.session.delete(fan)
                t.run()
                progressed = True
        return progressed

    def _roll_up(self, loaded: Loaded, t: Any, spec: DetachedCallActivity) -> None:
        """`rollUp`: the caller gets `<id>_rollup`, one row per child in item order: its org node
        and the named fields of its final data (task pages show it as a table, engine/services/task_view.py)."""
        fields = list(spec.roll_up or [])
        rows = self.session.execute(
            select(ProcessInstance.data, ProcessInstance.scope_node_id, OrgNode.name)
            .join(OrgNode, OrgNode.id == ProcessInstance.scope_node_id)
            .where(ProcessInstance.parent_id == loaded.inst.id, ProcessInstance.parent_task_guid == str(t.id))
            .order_by(ProcessInstance.item_index, ProcessInstance.id)
        ).all()
        table = [
            {"node_id": node_id, "node_name": name, **{f: _jsonable((data or {}).get(f)) for f in fields}}
            for data, node_id, name in rows
        ]
        t.data[fan_choice.rollup_variable(spec.bpmn_id)] = table

    def _spawn(self, loaded: Loaded, t: Any) -> None:
        inst = loaded.inst
        spec: DetachedCallActivity = t.task_spec
        fanned = spec.collection is not None or spec.fan_out is not None
        if spec.fan_out is not None:  # fanOut: the list is the engine's (engine/core/fan_choice.py)
            items: list[Any] = fan_choice.items(loaded.engine, t, spec.bpmn_id, spec.fan_out, spec.fan_out_field)
        elif spec.collection is None:
            items = [None]
        else:
            items = t.data.get(spec.collection)
            if not isinstance(items, list):
                raise ScriptError(
                    "{element}: {collection!r} must be a list to fan out over, not {type}",
                    element=spec.bpmn_id,
                    collection=spec.collection,
                    type=type(items).__name__,
                )
        if fanned and len(items) > self.settings.max_fanout:
            exc = BoundExceeded(
                "{element}: {collection!r} has {count} items; a call activity starts at most "
                "{limit} child instances (SANJI_MAX_FANOUT)",
                element=spec.bpmn_id,
                collection=spec.collection or spec.fan_out,
                count=len(items),
                limit=self.settings.max_fanout,
            )
            exc.task = t
            raise exc
        child_def = self._called_definition(inst.definition, spec.called_element)
        guid = str(t.id)
        # A child gets the caller's data and its own item, not the whole list it was cut from:
        # copying a 1,000-branch list into each of 1,000 children made a cycle start quadratic.
        base = {k: v for k, v in t.data.items() if k not in (spec.output_collection, spec.collection)}
        if (
            self.settings.async_mode == "worker"
            and items
            and (spec.asynchronous or (spec.asynchronous is None and len(items) > self.settings.async_fanout_threshold))
        ):
            # asynchronous continuation: the scheduler's worker starts the children in batches
            # (engine/core/async_jobs.py) from this snapshot; the request commits without them
            payload = {
                "element": spec.bpmn_id,
                "name": spec.bpmn_name or spec.bpmn_id,
                "collection": fanned,
                "item": spec.item or "item",
                "items": _jsonable(items),
                "base": _jsonable(base),
            }
            self.session.add(
                FanOut(
                    instance_id=inst.id,
                    task_guid=guid,
                    total=len(items),
                    pending=len(items),
                    started=0,
                    attempts=0,
                    due_at=self.clock.now(),
                    definition_id=child_def.id,
                    payload=payload,
                )
            )
            self.session.flush()
            return
        self.session.add(
            FanOut(instance_id=inst.id, task_guid=guid, total=len(items), pending=len(items), started=len(items))
        )
        self.session.flush()
        for idx, item in enumerate(items):
            self._deadline.check(t)
            variables = dict(base)
            if fanned:
                variables[spec.item or "item"] = item
            self.start(child_def, variables, None, _parent=(inst, guid, idx if fanned else None))

    def _async_step(self, loaded: Loaded, t: Any) -> bool:
        """A script task marked async: run it if the worker released it, else queue it once for
        the worker (a `fan_out` row of kind "step"); True if it ran."""
        guid = str(t.id)
        released: set[str] = getattr(self, "_release", set())
        if guid in released or self.settings.async_mode == "inline":
            released.discard(guid)
            t.run()
            return True
        if not internal(t, "queued"):
            set_internal(t, queued=True)
            if self.session.get(FanOut, (loaded.inst.id, guid)) is None:
                spec = t.task_spec
                payload = {"kind": "step", "element": spec.bpmn_id, "name": spec.bpmn_name or spec.bpmn_id}
                self.session.add(
                    FanOut(
                        instance_id=loaded.inst.id,
                        task_guid=guid,
                        total=1,
                        pending=1,
                        started=0,
                        attempts=0,
                        due_at=self.clock.now(),
                        payload=payload,
                    )
                )
        return False

    def _run_async_step(self, parent: ProcessInstance, fan: FanOut) -> int:
        """The worker runs a queued async script task and what follows it, in its transaction.
        A script failure is the instance's incident as usual; the row stays for its retry."""
        self._release = {fan.task_guid}
        loaded = self._load(parent)
        self._run(loaded, before=parent.state, action=None, actor=None)
        if parent.status == "error":
            fan.due_at = None  # Runtime.retry re-arms it
        else:
            self.session.delete(fan)
        self.session.flush()
        return 1

    def _continue_fanout(self, parent: ProcessInstance, fan: FanOut, limit: int) -> int:
        """Start the next `limit` children of an asynchronous fan-out (the worker's batch, inside
        its transaction, the parent locked); returns how many started."""
        payload = fan.payload or {}
        child_def = self.session.get(ProcessDefinition, fan.definition_id)
        if child_def is None:
            raise ScriptError("{element}: the called process no longer exists", element=payload.get("element"))
        first, total = fan.started, fan.total
        last = min(total, first + limit)
        items, base, collection = payload.get("items") or [], payload.get("base") or {}, payload.get("collection")
        guid = fan.task_guid

        batch = []
        for idx in range(first, last):
            variables = dict(base)
            if collection:
                variables[payload.get("item") or "item"] = items[idx]
            batch.append((idx, variables))
        # the org nodes the children start in, read with one statement instead of one each
        node_rows.prefetch(self.session.connection(), (v.get(k) for _i, v in batch for k in SCOPE_VARIABLES))

        def start_all() -> None:
            for idx, variables in batch:
                self.start(child_def, variables, None, _parent=(parent, guid, idx if collection else None))

        with events.buffered(self.session):  # the batch's events in one statement, not one per child
            # One savepoint for the batch instead of one per child (two statements each); if any
            # child fails, the batch is undone and started again with a savepoint per child, so
            # that the failing child gets its incident as it would have alone.
            savepoint, logged = self.session.begin_nested(), events.mark(self.session)
            self._batch_savepoint = True
            try:
                with search_index.buffered(self.session.connection()):  # their search entries at once
                    start_all()
            except Exception:
                self._undo(savepoint, logged)
                self._batch_savepoint = False
                start_all()
            else:
                savepoint.commit()
            finally:
                self._batch_savepoint = False
        # Guarded by the count read: a lost race rolls the batch back. A row already gone means the
        # last child ended at once and the parent went on (it deletes the row): nothing to record.
        self.session.execute(
            update(FanOut)
            .where(FanOut.instance_id == parent.id, FanOut.task_guid == guid, FanOut.started == first)
            .values(started=last, due_at=None if last >= total else self.clock.now(), attempts=0, last_error=None)
            .execution_options(synchronize_session=False)
        )
        return last - first

    def _rearm_fanouts(self, inst: ProcessInstance) -> None:
        """A retried instance: its unfinished asynchronous fan-outs continue at the next tick."""
        self.session.execute(
            update(FanOut)
            .where(FanOut.instance_id == inst.id, FanOut.started < FanOut.total)
            .values(due_at=self.clock.now(), attempts=0)
            .execution_options(synchronize_session=False)
        )

    def _called_definition(self, caller: ProcessDefinition, key: str) -> ProcessDefinition:
        same_file = self.session.scalars(
            select(ProcessDefinition)
            .where(ProcessDefinition.key == key, ProcessDefinition.sha256 == caller.sha256)
            .order_by(ProcessDefinition.version.desc())
            .limit(1)
        ).first()
        return same_file or latest(self.session, key)

    def _child_finished(self, child: ProcessInstance) -> None:
        assert child.parent_id is not None and child.parent_task_guid is not None
        pending = self.session.execute(
            update(FanOut)
            .where(FanOut.instance_id == child.parent_id, FanOut.task_guid == child.parent_task_guid)
            .values(pending=FanOut.pending - 1)
            .returning(FanOut.pending)
        ).scalar()
        if pending is None or pending > 0 or child.parent_id in self._active:
            return  # the active parent notices in its own loop
        parent = self._lock(child.parent_id)
        if parent.status != "running":
            return  # resumed or retried later, its loop then completes the fan-out
        loaded = self._load(parent)
        self._run(loaded, before=parent.state, action=None, actor=None)

    def _depth(self, inst: ProcessInstance) -> int:
        """How many callers `inst` has; known once per transaction (a batch of 10 children walked
        their parent's chain 10 times, its root no longer in the session's identity map)."""
        if inst.id in self._depths:
            return self._depths[inst.id]
        depth, current = 0, inst
        while current.parent_id is not None and depth <= MAX_DEPTH:
            depth += 1
            current = self.session.get(ProcessInstance, current.parent_id)  # type: ignore[assignment]
        self._depths[inst.id] = depth
        return depth
