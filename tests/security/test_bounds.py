"""Issue 13, item 5: bounds on branches, engine time, script memory and instance size.

What a diagram states is refused at deploy (422 naming the element); what data decides at run
time is an incident naming the element, with the unit of work rolled back: no tasks, no child
instances, no records written by it. Each bound is set low here (see bounds_bpmn.bounded_api).
"""
from __future__ import annotations

import pytest

from engine.core import repository
from engine.errors import Invalid
from engine.core.scripts import RestrictedEnvironment
from engine.infra.settings import ConfigError, Settings, load_settings
from tests.security.bounds_bpmn import (
    bounded_api,
    deploy,
    fan_out,
    multi_instance,
    split,
    start,
    with_script,
    wide_gateway,
    written,
)

ROLLED_BACK = {"instances": 1, "tasks": 0, "fan_outs": 0, "records": 0}


def rolled_back(sessions) -> dict[str, int]:
    counts = written(sessions)
    return {k: counts[k] for k in ROLLED_BACK} | {"task_created": counts.get("task_created", 0)}


@pytest.fixture
def bounded(clean_db, settings, clock):
    return lambda **bounds: bounded_api(clean_db, settings, clock, **bounds)


# ---- branches ------------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["parallelGateway", "inclusiveGateway", "scriptTask"])
def test_a_split_wider_than_the_bound_is_refused_at_deploy_naming_it(bounded, sessions, kind):
    api = bounded(max_branches=3)
    r = deploy(api, split(kind, 4))
    assert r.status_code == 422, r.get_json()
    body = r.get_json()
    assert "split" in body["message"] and "SANJI_MAX_BRANCHES" in body["message"]
    assert [(d["element_id"], "4 parallel branches" in d["message"]) for d in body["details"]] == [("split", True)]
    assert body["details"][0]["line"] == 2
    assert written(sessions)["instances"] == 0
    assert deploy(api, split("parallelGateway", 3)).status_code == 201


def test_the_default_bound_allows_200_branches_and_refuses_201(forms):
    # the defaults: a fan-out of the organisation's 1,000 branches (bench: cycle) fits 5 times
    assert (Settings().max_branches, Settings().max_fanout) == (200, 5000)
    repository.validate(split("parallelGateway", 200), "wide.bpmn", forms, 5 << 20)
    with pytest.raises(Invalid) as err:
        repository.validate(split("parallelGateway", 201), "wide.bpmn", forms, 5 << 20)
    assert err.value.details[0]["element_id"] == "split" and "at most 200" in err.value.message


def test_a_literal_multi_instance_count_above_the_bound_is_refused_at_deploy(bounded):
    api = bounded(max_branches=3)
    r = deploy(api, multi_instance(cardinality="4"))
    assert r.status_code == 422, r.get_json()
    assert r.get_json()["details"][0]["element_id"] == "each"
    assert "runs 4 instances" in r.get_json()["message"]
    assert deploy(api, multi_instance(cardinality="3")).status_code == 201


def test_a_multi_instance_over_too_many_items_is_an_incident_and_rolled_back(bounded, sessions):
    api = bounded(max_branches=3)
    assert deploy(api, multi_instance()).status_code == 201
    r = start(api, "mi_items", {"n": 4})
    assert r.status_code == 201, r.get_json()
    inst = r.get_json()
    assert inst["status"] == "error" and inst["incident"]["task"] == "each"
    assert "would run 4 instances" in inst["incident"]["message"]
    assert "SANJI_MAX_BRANCHES" in inst["incident"]["message"]
    assert rolled_back(sessions) == ROLLED_BACK | {"task_created": 0}
    ok = start(api, "mi_items", {"n": 3}).get_json()
    assert ok["status"] == "running" and [t["name"] for t in ok["open_tasks"]] == ["review"]


def test_a_fan_out_over_too_many_items_is_an_incident_and_starts_no_child(bounded, sessions):
    api = bounded(max_fanout=3, max_branches=1)
    assert deploy(api, fan_out()).status_code == 201
    r = start(api, "fan", {"items": ["a", "b", "c", "d"]})
    inst = r.get_json()
    assert r.status_code == 201 and inst["status"] == "error" and inst["incident"]["task"] == "call"
    assert "'items' has 4 items" in inst["incident"]["message"] and "SANJI_MAX_FANOUT" in inst["incident"]["message"]
    assert inst["children"] == {}
    assert rolled_back(sessions) == ROLLED_BACK | {"task_created": 0}
    # the in-instance bound does not limit fan-outs: 3 children with SANJI_MAX_BRANCHES=1
    ok = start(api, "fan", {"items": ["a", "b", "c"]}).get_json()
    assert ok["status"] == "running" and ok["children"] == {"completed": 3}


# ---- engine time ---------------------------------------------------------------------------------

def test_a_wide_split_deployed_under_a_higher_bound_is_stopped_by_the_engine_time_bound(bounded, sessions):
    """The red team's case (10,000 branches held a core for > 7.5 min): a diagram deployed while
    SANJI_MAX_BRANCHES allowed it still runs only SANJI_ENGINE_MAX_SECONDS per request."""
    assert deploy(bounded(max_branches=1000), wide_gateway(400)).status_code == 201
    api = bounded(max_branches=1000, engine_max_seconds=0.5)
    r = start(api, "wide")
    assert r.status_code == 201, r.get_json()
    inst = r.get_json()
    assert inst["status"] == "error" and "SANJI_ENGINE_MAX_SECONDS" in inst["incident"]["message"]
    assert rolled_back(sessions) == ROLLED_BACK | {"task_created": 0}


def test_helper_time_in_fan_out_children_counts_and_the_whole_request_is_rolled_back(bounded, sessions):
    """`while True: org_units()` spends its time in a helper, which the script's own bound does
    not count: the request's engine deadline does, also inside the children of a fan-out."""
    api = bounded(engine_max_seconds=1.0)
    assert deploy(api, fan_out("while True:\n    units = org_units()")).status_code == 201
    r = start(api, "fan", {"items": ["a", "b", "c"]})
    assert r.status_code == 201, r.get_json()
    inst = r.get_json()
    assert inst["status"] == "error" and "SANJI_ENGINE_MAX_SECONDS" in inst["incident"]["message"]
    assert inst["incident"]["task"] is None  # it ran out in a child's element, not in one of its own
    assert inst["children"] == {}
    assert rolled_back(sessions) == ROLLED_BACK | {"task_created": 0}


def test_a_request_within_the_engine_time_bound_is_unaffected(bounded):
    api = bounded(engine_max_seconds=60.0)
    assert deploy(api, fan_out()).status_code == 201
    inst = start(api, "fan", {"items": ["a", "b"]}).get_json()
    assert inst["status"] == "running" and inst["children"] == {"completed": 2}
    assert [t["name"] for t in inst["open_tasks"]] == ["review"]


# ---- script memory -------------------------------------------------------------------------------

# up to 100 MB, 100 kB a line: stopped once the worker's memory has grown by the bound (8 MB here);
# memory the worker held free before is reused first, without growing it (far less than 100 MB)
GROWING = "rows = []\nfor i in range(1000):\n    rows.append('x' * 100000 + str(i))"


def test_a_script_that_keeps_allocating_is_an_incident_and_rolled_back(bounded, sessions):
    api = bounded(script_max_mb=8, script_timeout_ms=20_000)  # the memory bound, not the time bound, stops it
    assert deploy(api, with_script(GROWING)).status_code == 201
    inst = start(api, "scripted").get_json()
    assert inst["status"] == "error" and inst["incident"]["task"] == "work"
    assert "SANJI_SCRIPT_MAX_MB" in inst["incident"]["message"]
    assert rolled_back(sessions) == ROLLED_BACK | {"task_created": 0}


@pytest.mark.parametrize("source, words", [
    ("x = 'x' * 1000000000", "repeating a sequence"),
    ("x = [0] * 100000000", "repeating a sequence"),
    ("x = 'ab'\nx *= 500000000", "repeating a sequence"),
    ("x = 'a'.ljust(1000000000)", "ljust"),
    ("x = str.center('a', 1000000000)", "center"),
    ("x = ('a' * 1000).replace('a', 'b' * 1000).replace('b', 'c' * 1000)", "replace"),
    ("x = ('-' * 1000).join(['a'] * 100000)", "join"),
    ("x = ('a' * 10000).translate({97: 'b' * 10000})", "translate"),
    ("x = 'a\\tb'.expandtabs(1000000000)", "expandtabs"),
    ("x = '%1000000000d' % 1", "width"),
    ("x = '%*d' % (1000000000, 1)", "width"),
    (GROWING, "grow by more than 8 MB"),
])
def test_one_line_amplifiers_are_refused_before_they_allocate(source, words):
    env = RestrictedEnvironment({}, 5.0, max_bytes=8 << 20)
    with pytest.raises(Exception) as err:
        env.execute(source, {})
    assert words in str(err.value), err.value


@pytest.mark.parametrize("source", ["x = f'{1:>100000}'", "w = 5\nx = f'{1:>{w}}'"])
def test_wide_or_computed_f_string_formats_are_refused_at_deploy(bounded, source):
    r = deploy(bounded(), with_script(source))
    assert r.status_code == 422 and r.get_json()["details"][0]["element_id"] == "work", r.get_json()


def test_ordinary_scripts_keep_working_under_the_memory_bound():
    env = RestrictedEnvironment({}, 5.0, max_bytes=8 << 20)
    scope = {"names": ["甲", "乙"]}
    env.execute("line = '-' * 20\ntitle = '、'.join(names).center(10, '*')\nn = 3 * 4\n"
                "s = f'{n:>5}|{2.5:.2f}'\np = '%05d' % 42\nt = 'a-b'.replace('-', '--')", scope)
    assert scope == {"names": ["甲", "乙"], "line": "-" * 20, "title": "***甲、乙****", "n": 12,
                     "s": "   12|2.50", "p": "00042", "t": "a--b"}


# ---- instance size and submitted data ------------------------------------------------------------

def test_an_instance_state_above_the_bound_is_an_incident_naming_the_largest_variable(bounded, sessions):
    api = bounded(max_instance_bytes=1 << 20)
    assert deploy(api, with_script("small = 'x' * 1000\nblob = 'y' * 2000000")).status_code == 201
    inst = start(api, "scripted").get_json()
    assert inst["status"] == "error", inst
    assert "'blob'" in inst["incident"]["message"] and "SANJI_MAX_INSTANCE_BYTES" in inst["incident"]["message"]
    assert inst["incident"]["task"] == "work"
    assert rolled_back(sessions) == ROLLED_BACK | {"task_created": 0}


def test_form_data_above_the_bound_is_413_naming_the_field_and_changes_nothing(bounded, sessions):
    api = bounded(max_form_bytes=64 << 10)
    assert deploy(api, with_script("x = 1")).status_code == 201
    inst = start(api, "scripted").get_json()
    [task] = inst["open_tasks"]
    before = written(sessions)
    r = api.post(f"/api/v1/tasks/{task['id']}/complete", "group_secretary",
                 json={"data": {"comment": "ok", "attachment": "z" * 100_000}})
    assert r.status_code == 413, r.get_json()
    body = r.get_json()
    assert "'attachment'" in body["message"] and body["details"][0]["field"] == "attachment"
    assert written(sessions) == before
    assert api.get(f"/api/v1/tasks/{task['id']}", "group_secretary").get_json()["status"] == "open"
    r = start(api, "scripted", {"note": "n" * 100_000})
    assert r.status_code == 413 and r.get_json()["details"][0]["field"] == "note", r.get_json()
    assert written(sessions) == before


@pytest.mark.parametrize("variable", ["SANJI_MAX_BRANCHES", "SANJI_MAX_FANOUT", "SANJI_SCRIPT_MAX_MB",
                                      "SANJI_MAX_INSTANCE_BYTES", "SANJI_MAX_FORM_BYTES", "SANJI_ENGINE_MAX_SECONDS"])
def test_bounds_must_be_positive(variable):
    with pytest.raises(ConfigError, match=variable):
        load_settings({variable: "0"}, database_url="sqlite://")
