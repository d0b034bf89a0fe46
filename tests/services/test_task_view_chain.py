"""The task page's chain of callers (engine/services/task_view.py `callers_shown`): the parent and
the root in one statement with the tracing rule, deeper callers asked for one by one — the same
instances, in the same order, as walking the parents and applying `visible_ids`."""
from __future__ import annotations

from sqlalchemy import select

from engine.models import ProcessInstance, User
from engine.services.task_view import MAX_DEPTH, callers_shown, visible_ids
from tests.conftest import BPMN, deploy_file, principal


def walked(session, p, inst):
    out, current = [], inst
    while current.parent_id is not None and len(out) < MAX_DEPTH:
        parent = session.get(ProcessInstance, current.parent_id)
        if parent is None:
            break
        out.append(parent)
        current = parent
    shown = visible_ids(session, p, [i.id for i in out])
    return [i.id for i in out if i.id in shown]


def test_callers_shown_matches_walking_the_parents_at_every_depth(session, rt, forms, clock):
    deploy_file(session, BPMN / "ops_two_step.bpmn", forms, clock)
    root = rt.start("ops_two_step", {}, principal(session, "group_secretary"))
    session.commit()
    users = {u.username: u for u in session.scalars(select(User))}
    # a branch commissioner: traces nothing here but what they started
    somebody = next(u for name, u in sorted(users.items())
                    if not principal(session, name).in_group_committee and not principal(session, name).supervised_paths()
                    and not principal(session, name).is_admin)
    chain = [root]
    for depth in range(1, 7):  # root ← 1 ← … ← 6; instance 3 started by `somebody`
        inst = ProcessInstance(
            definition_id=root.definition_id, process_key=root.process_key, status="running",
            title=f"depth {depth}", scope_node_id=root.scope_node_id, unit_id=root.unit_id,
            parent_id=chain[-1].id, root_id=root.id, started_by_id=somebody.id if depth == 3 else root.started_by_id,
            started_at=clock.now(), updated_at=clock.now(), state=root.state, data={},
        )
        session.add(inst)
        session.flush()
        chain.append(inst)
    session.commit()
    readers = [principal(session, name) for name in sorted(users)]
    seen_some = seen_none = False
    for p in readers:
        for inst in chain:
            expected = walked(session, p, inst)
            assert [i.id for i in callers_shown(session, p, inst)] == expected, (p.username, inst.title)
            seen_some |= bool(expected)
            seen_none |= inst.parent_id is not None and not expected
    assert seen_some and seen_none  # the rule let some callers through and held others back
