"""转发上级文件 (document_forwarding): a unit forwards a higher-tier document with its cover note
to all or chosen branches, each branch acknowledges, the unit sees who has not."""
from __future__ import annotations

from tests.oracles import fields
from sqlalchemy import select

from engine.infra.db import write_intent
from engine.models import Record
from engine.core.runtime import Runtime
from tests.procedures.offers import api  # noqa: F401 - the api fixture with every demo user logged in
from tests.procedures.offers import (
    USERS,
    Worklists,
    commissioner,
    complete,
    deploy_and_roundtrip,
    instance,
    refused,
)

KEYS = ["document_forwarding", "document_forwarding_receipt"]
SEED = {
    "doc_number": "淄矿纪发〔2019〕18号",
    "doc_title": "中共淄博矿业集团有限责任公司纪委关于实施纪检工作“三级联动”的安排意见",
    "doc_issuer": "中共淄博矿业集团有限责任公司纪委",
    "doc_date": "2019-10-12",
    "doc_attachment": "附件：淄矿纪发〔2019〕18号.pdf",
    "cover_number": "新升纪发〔2019〕10号",
    "cover_note": "希望各单位结合单位实际情况，更好地发挥本单位支部纪律检查委员的主动监督作用，"
                  "构建纵向到底、协同联动的监督工作体系，推动全面从严治党治企工作逐级落实。",
}
RECEIPT = {"received": True, "receiver": "纪律检查委员", "receipt_date": "2027-01-06"}


def children(api, parent_id, user):
    r = api.get("/api/v1/process-instances", user, query_string={"parent_id": parent_id, "per_page": 100})
    assert r.status_code == 200
    return {c["scope_node_id"]: c["status"] for c in r.get_json()["items"]}


def fire_timers(sessions, clock, settings, forms, instance_id):
    with write_intent(), sessions() as s:
        fired = Runtime(s, clock, settings, forms).fire_timers(instance_id)
        s.commit()
    return fired


def forwarding_record(sessions, key):
    with sessions() as s:
        return s.scalars(select(Record).where(Record.kind == "forwarding", Record.key == key)).one().data


def test_forward_to_all_branches_with_overdue_reminder(api, sessions, clock, settings, forms):
    deploy_and_roundtrip(api, "document_forwarding.bpmn", KEYS)
    w = Worklists(api)
    assert api.post("/api/v1/process-definitions/document_forwarding/start", "xinsheng_laogan",
                    json={"variables": {}}).status_code == 403
    r = api.post("/api/v1/process-definitions/document_forwarding/start", "xinsheng_secretary", json={"variables": {}})
    assert r.status_code == 201
    iid = r.get_json()["id"]
    t = w.check([("draft_forwarding", "unit", "xinsheng")])["draft_forwarding@xinsheng"]
    data = {**SEED, "recipients_mode": "全部支部", "ack_deadline": "2027-01-15"}
    err = refused(api, t, {**data, "recipients_mode": "指定支部", "recipients": ["xinsheng-laogan", "xuchang-zongcai"]})
    # the unit's own branches are offered by name: another unit's is refused on its field
    assert fields(err["details"]) == [{"field": "recipients/1", "message": "choose one of the options"}]
    err = refused(api, t, {**data, "ack_deadline": "2027-01-04"})
    assert err["details"][0]["field"] == "ack_deadline"
    refused(api, t, {k: v for k, v in data.items() if k != "doc_attachment"})  # neither text nor attachment
    refused(api, t, {**data, "recipients_mode": "指定支部"})  # chosen, but no branch named
    complete(api, t, data)

    branches = ["xinsheng-laogan", "xinsheng-wuye", "xinsheng-jidian"]
    got = w.check([("acknowledge", "branch", b) for b in branches])
    assert {x["due_at"] for x in got.values()} == {"2027-01-15T15:59:59+00:00"}
    inst = instance(api, iid)
    assert inst["title"] == "转发《" + SEED["doc_title"] + "》"
    assert inst["next_timer_at"] == "2027-01-15T15:59:59+00:00"
    fwd_key = inst["variables"]["forwarding_key"]
    rec = forwarding_record(sessions, fwd_key)
    assert (rec["cover_number"], rec["status"], rec["pending"]) == ("新升纪发〔2019〕10号", "待签收", branches)

    # the commissioner reads the forwarded document in the task's context
    detail = api.get(f"/api/v1/tasks/{got['acknowledge@xinsheng-laogan']['id']}", "xinsheng_laogan").get_json()
    assert detail["context"]["doc_number"] == "淄矿纪发〔2019〕18号" and detail["context"]["branch_id"] == "xinsheng-laogan"
    refused(api, got["acknowledge@xinsheng-laogan"], {**RECEIPT, "received": False})
    complete(api, got["acknowledge@xinsheng-laogan"], {**RECEIPT, "implementation_note": "组织学习，逐项落实"})
    # the unit (and the group) see who has acknowledged: the child instances' states
    states = {"xinsheng-laogan": "completed", "xinsheng-wuye": "running", "xinsheng-jidian": "running"}
    assert children(api, iid, "xinsheng_secretary") == states
    assert children(api, iid, "group_standing") == states
    assert children(api, iid, "xuchang_secretary") == {}
    assert children(api, iid, "xinsheng_wuye") == {"xinsheng-wuye": "running"}  # only the own receipt

    clock.advance(days=9)  # 2027-01-14: not yet due
    assert fire_timers(sessions, clock, settings, forms, iid) == 0
    clock.advance(days=2)  # past the deadline: remind the unit of the branches still missing
    assert fire_timers(sessions, clock, settings, forms, iid) == 1
    got = w.check([("urge_receipt", "unit", "xinsheng")] + [("acknowledge", "branch", b) for b in branches[1:]])
    ctx = api.get(f"/api/v1/tasks/{got['urge_receipt@xinsheng']['id']}", "xinsheng_member").get_json()["context"]
    assert [b["branch_id"] for b in ctx["pending_branches"]] == ["xinsheng-wuye", "xinsheng-jidian"]
    assert [b["name"] for b in ctx["acknowledged_branches"]] == ["老干家委党总支"]
    assert got["acknowledge@xinsheng-wuye"]["overdue"] is True
    complete(api, got["urge_receipt@xinsheng"], {"urge_note": "电话督促两个支部当日签收"})
    for b in branches[1:]:
        complete(api, got[f"acknowledge@{b}"], RECEIPT, commissioner(b))
    w.check([])
    inst = instance(api, iid)
    assert inst["status"] == "completed" and inst["next_timer_at"] is None
    rec = forwarding_record(sessions, fwd_key)
    assert rec["status"] == "已全部签收" and rec["pending"] == []
    assert [(a["branch_id"], a["implementation_note"]) for a in rec["acknowledged"]] == [
        ("xinsheng-laogan", "组织学习，逐项落实"), ("xinsheng-wuye", ""), ("xinsheng-jidian", "")]


def test_forward_to_chosen_branches_all_acknowledge_in_time(api, sessions, clock, settings, forms):
    deploy_and_roundtrip(api, "document_forwarding.bpmn", KEYS)
    w = Worklists(api)
    r = api.post("/api/v1/process-definitions/document_forwarding/start", "xuchang_deputy", json={"variables": {}})
    iid = r.get_json()["id"]
    t = w.check([("draft_forwarding", "unit", "xuchang")])["draft_forwarding@xuchang"]
    chosen = ["xuchang-tongfeng", "xuchang-zongcai"]
    complete(api, t, {**SEED, "doc_text": "全文……", "doc_attachment": "", "recipients_mode": "指定支部",
                      "recipients": chosen, "ack_deadline": "2027-01-10"})
    got = w.check([("acknowledge", "branch", b) for b in chosen])
    # nobody outside the chosen branches, their unit and the group can trace the receipts
    child_ids = [c["id"] for c in api.get("/api/v1/process-instances", "admin",
                                          query_string={"parent_id": iid}).get_json()["items"]]
    allowed = {"xuchang_secretary", "xuchang_deputy", "xuchang_standing", "xuchang_member", "group_secretary",
               "group_deputy", "group_standing", "group_member"}
    for cid in child_ids:
        own = commissioner(instance(api, cid)["scope_node_id"])
        for user in USERS:
            code = api.get(f"/api/v1/process-instances/{cid}", user).status_code
            assert code == (200 if user in allowed | {own} else 404), (user, cid, code)
    for key, task in got.items():
        complete(api, task, RECEIPT, commissioner(key.split("@")[1]))
    w.check([])
    inst = instance(api, iid)
    assert inst["status"] == "completed" and inst["next_timer_at"] is None
    rec = forwarding_record(sessions, inst["variables"]["forwarding_key"])
    # in the organisation's order, whatever order they were chosen in
    assert [a["branch_id"] for a in rec["acknowledged"]] == ["xuchang-zongcai", "xuchang-tongfeng"]
    clock.advance(days=30)
    assert fire_timers(sessions, clock, settings, forms, iid) == 0
