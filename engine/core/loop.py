"""The engine loop: lock and load an instance, run engine steps to a wait state, save or record an incident."""

from __future__ import annotations

import traceback
from collections.abc import Callable
from typing import Any

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, InterfaceError, OperationalError
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.exc import StaleDataError

from engine.core import trace
from engine.core.bounds import check_tree_depth, timeout_in
from engine.core.repository import SPECS
from engine.core.runtime_base import (
    _DEFINITION_WITHOUT_TEXTS,
    _INSTANCE_UPDATE,
    ENDED,
    MAX_ROUNDS,
    Loaded,
    RunAgain,
    RuntimeBase,
    _jsonable,
    _message,
)
from engine.core.spiff import dump_state, load_state
from engine.core.spiff_seam import fire_start_event, is_plain_event, is_start_join, is_start_split, ready_behind_split
from engine.core.spiff_timers import timer_due
from engine.errors import Conflict, Invalid, NotFound, ScriptError, field_error
from engine.infra import events
from engine.models import ProcessInstance
from engine.org.nodes import Principal
from engine.platform import search as search_index


def _own_element(exc: BaseException | None, wf: BpmnWorkflow) -> str | None:
    """The BPMN id of the element `exc` names, if it is one of `wf`'s own: not a child instance's
    (the request's time may have run out there)."""
    task = getattr(exc, "task", None)
    if task is None or getattr(task.workflow, "top_workflow", None) is not wf:
        return None
    return getattr(task.task_spec, "bpmn_id", None)


class EngineLoop(RuntimeBase):
    def _lock(self, instance_id: int) -> ProcessInstance:
        if instance_id in self._active:
            return self._active[instance_id].inst
        q = (
            select(ProcessInstance)
            .where(ProcessInstance.id == instance_id)
            .options(_DEFINITION_WITHOUT_TEXTS)
            .execution_options(populate_existing=True)
        )
        if not self._sqlite:
            q = q.with_for_update(of=ProcessInstance)
        inst = self.session.scalars(q).one_or_none()
        if inst is None:
            raise NotFound("process instance {id} does not exist", id=instance_id)
        return inst

    def _load(self, inst: ProcessInstance) -> Loaded:
        if inst.id in self._active:
            return self._active[inst.id]
        spec, subs = SPECS.get(inst.definition)
        engine = self._script_engine(inst)
        wf = load_state(inst.state, spec, subs, engine)
        return Loaded(inst, wf, engine)

    def _flush(self) -> None:
        try:
            self.session.flush()
        except StaleDataError:
            raise Conflict("the instance was changed by someone else at the same time; reload and try again") from None

    # ---- the engine loop ---------------------------------------------------------------------

    def _run(
        self,
        loaded: Loaded,
        before: bytes | None,
        action: Callable[[BpmnWorkflow], None] | None,
        actor: Principal | None,
    ) -> None:
        """Run engine steps to the next wait state; on failure record an incident instead.

        The outermost call of a request times all its engine work, including the children it
        starts and the parents it continues, against SANJI_ENGINE_MAX_SECONDS: its savepoint
        then also covers that work, so that running out of time rolls all of it back and the
        incident is recorded on the instance the request acted on."""
        outermost = self._deadline.at is None
        if outermost:
            self._deadline.arm()
        inst = loaded.inst
        self._active[inst.id] = loaded
        if outermost and (self._batch_savepoint or self.optimistic):
            # a child of a batch (the batch's savepoint covers it), or an optimistic completion
            # (the service runs it again with a savepoint if its steps fail): no savepoint of its
            # own, two statements and a flush fewer
            try:
                try:
                    self._steps(loaded)
                    self._save(loaded)
                finally:
                    self._active.pop(inst.id, None)
                self._continue(inst, loaded)
            except (Conflict, StaleDataError, OperationalError, InterfaceError, IntegrityError):
                raise  # transient: the request fails as with a savepoint (409/503), nothing kept
            except Exception as exc:
                if self.optimistic:
                    raise RunAgain(_own_element(timeout_in(exc), loaded.wf)) from exc
                raise
            finally:
                self._deadline.at = None
            return
        try:
            savepoint = self.session.begin_nested()
            logged = events.mark(self.session)  # events buffered since are undone with the savepoint
            try:
                self._steps(loaded)
                self._save(loaded)
                if not outermost:
                    savepoint.commit()
            except (Conflict, StaleDataError, OperationalError, InterfaceError, IntegrityError):
                # concurrency and connection failures are transient: the request fails (409/503)
                # and the instance stays as it was, instead of recording an incident
                self._undo(savepoint, logged)
                raise
            except Exception as exc:
                self._undo(savepoint, logged)
                timeout = timeout_in(exc)
                if timeout is not None and not outermost:
                    raise timeout from None  # the request's outermost loop records it
                if outermost:
                    self._deadline.at = None  # the incident replays the caller's action, untimed
                self._incident(loaded, timeout or exc, before, action)
                return
            finally:
                self._active.pop(inst.id, None)
            if not outermost:
                self._continue(inst, loaded)
                return
            try:
                self._continue(inst, loaded)
            except Exception as exc:
                self._undo(savepoint, logged)
                timeout = timeout_in(exc)
                if timeout is None:
                    raise
                self._deadline.at = None
                self._incident(loaded, timeout, before, action)
                return
            savepoint.commit()
        finally:
            if outermost:
                self._deadline.at = None

    def _continue(self, inst: ProcessInstance, loaded: Loaded) -> None:
        """After an instance's steps: the starts they deferred, and its parent if it ended."""
        for job in loaded.deferred:
            job()
        if inst.status in ENDED and inst.parent_id:
            self._child_finished(inst)

    def _undo(self, savepoint: Any, logged: int) -> None:
        """Roll back to the savepoint: its rows, its buffered events, and the loaded objects' values
        (rows written with Core statements are not tracked by the session, so expire them all)."""
        savepoint.rollback()
        events.discard_after(self.session, logged)
        self.session.expire_all()

    def _steps(self, loaded: Loaded) -> None:
        wf = loaded.wf
        for _ in range(MAX_ROUNDS):
            self._deadline.check()
            wf.refresh_timers()
            wf.do_engine_steps(did_complete_task=self._deadline.check)
            ready = wf.get_tasks(state=TaskState.READY)
            progressed = self._detached(loaded, ready)
            if not progressed and all(t.task_spec.manual for t in ready):
                break  # nothing changed since `ready` was read: it is the wait state's ready list
        else:
            raise ScriptError(
                "the process did not reach a wait state within {rounds} rounds (a loop?)", rounds=MAX_ROUNDS
            )
        check_tree_depth(wf)
        self._sync_tasks(loaded, ready)
        self._messages(loaded)

    def _incident(
        self, loaded: Loaded, exc: Exception, before: bytes | None, action: Callable[[BpmnWorkflow], None] | None
    ) -> None:
        inst = loaded.inst
        # Rebuild the state as it was after the caller's action, before the failing steps.
        if before:
            spec, subs = SPECS.get(inst.definition)
            wf = load_state(before, spec, subs, loaded.engine)
        else:
            spec, subs = SPECS.get(inst.definition)
            wf = BpmnWorkflow(spec, subs, script_engine=loaded.engine)
        if action is not None:
            action(wf)
        now = self.clock.now()
        inst.state = dump_state(wf)
        inst.status = "error"
        inst.error_message = _message(exc)[:2000]
        inst.error_task = _own_element(exc, loaded.wf)
        if inst.error_task is None and timeout_in(exc) is not None:
            inst.error_task = self._timeout_element  # a second run, out of time at once: the first's element
        inst.error_traceback = "".join(traceback.format_exception(exc))[-20000:]
        inst.updated_at = now
        events.log(
            self.session,
            now,
            "incident",
            instance_id=inst.id,
            payload={"message": inst.error_message, "task": inst.error_task},
        )
        trace.record(self.session, inst, wf)
        self._flush()

    def _save(self, loaded: Loaded) -> None:
        """Write the instance row with one Core UPDATE guarded by its version (no ORM flush on
        the hot path), then make the values the loaded object's committed state."""
        inst, wf = loaded.inst, loaded.wf
        now = self.clock.now()
        last_task = wf.last_task
        if last_task is not None and is_start_join(last_task.task_spec):
            # several start events meet in a join without outputs that completes after the chosen
            # start's first steps (e.g. before a fan-out): the instance's data is those steps'
            done = [t for t in wf.get_tasks(state=TaskState.COMPLETED) if not is_start_join(t.task_spec)]
            last_task = max(done, key=lambda t: t.last_state_change, default=None)
        last = last_task.data if last_task is not None else {}
        values: dict[str, Any] = {
            "state": dump_state(wf, self.settings.max_instance_bytes),
            "data": _jsonable(last),
            "updated_at": now,
        }
        title = values["data"].get("title")
        if isinstance(title, str) and title.strip() and title.strip()[:300] != inst.title:
            values["title"] = title.strip()[:300]  # a script or form may (re)name the instance
        dues = [d for d in (timer_due(t) for t in self._waiting_timers(wf)) if d is not None]
        values["next_timer_at"] = min(dues) if dues else None
        if wf.is_completed() and inst.status not in ENDED:
            values.update(status="completed", ended_at=now, next_timer_at=None)
            events.log(self.session, now, "instance_completed", instance_id=inst.id)
        self._flush()  # anything else changed on the ORM objects (a new instance's root_id, …)
        trace.record(self.session, inst, wf, replace=not loaded.fresh)
        loaded.fresh = False
        values["version"] = inst.version + 1
        written = self.session.connection().execute(
            _INSTANCE_UPDATE, {"instance_id_": inst.id, "version_": inst.version, **values}
        )
        if written.rowcount != 1:
            raise Conflict("the instance was changed by someone else at the same time; reload and try again")
        for key, value in values.items():
            set_committed_value(inst, key, value)
        if "title" in values:  # the search index keeps instance titles (engine/platform/search.py)
            search_index.put_instance(self.session.connection(), inst)

    @staticmethod
    def _waiting_timers(wf: BpmnWorkflow) -> list[Any]:
        return [
            t
            for t in wf.get_tasks(state=TaskState.WAITING)
            if isinstance(getattr(t.task_spec, "event_definition", None), TimerEventDefinition)
        ]

    def _seed(self, wf: BpmnWorkflow, variables: dict[str, Any], start_event: str | None) -> None:
        """Put the start data in and keep exactly one start event (timer/message ones fire now)."""
        start = wf.get_next_task(spec_name="Start")
        start.set_data(**variables)
        events_ = [t for t in start.children]
        if len(events_) == 1 and is_start_split(events_[0].task_spec):
            # several start events (e.g. a timer and a manual one): SpiffWorkflow puts a split before them
            events_ = [t for t in events_[0].children]
        if not events_:
            start.run()
            return
        chosen = None
        if start_event is not None:
            chosen = next((t for t in events_ if t.task_spec.bpmn_id == start_event), None)
            if chosen is None:
                raise Invalid(
                    "the process has no start event {start_event!r}",
                    [field_error("start_event", "no start event {start_event!r}", start_event=start_event)],
                    start_event=start_event,
                )
        else:
            plain = [t for t in events_ if is_plain_event(t.task_spec)]
            chosen = plain[0] if plain else events_[0]
        # Decide before the start events are first updated: the chosen one has fired (a timer or
        # message start is fired by whoever starts the instance), the others never will.
        for t in events_:
            if t is not chosen:
                t.cancel()
        fire_start_event(chosen)  # a cycle timer fired now has completed one cycle
        start.run()
        if chosen.parent is start:  # behind a split, the split readies it when it runs
            ready_behind_split(chosen)
