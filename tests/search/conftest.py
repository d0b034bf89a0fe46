"""Fixtures of the search tests: the page client and a small world with clues, a report, a post
and an instance, written the way the application writes them (ORM, services, the API)."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pytest
from sqlalchemy.orm import Session

from engine.models import Record
from engine.services import bulletin as bulletin_service
from engine.services.bulletin import PostCommand
from tests.conftest import BPMN, principal
from tests.web.conftest import Web, web  # noqa: F401

AT = datetime(2027, 1, 5, 1, 0, tzinfo=timezone.utc)


def clue(key: str, unit: str, unit_name: str, person: str, facts: str, title: str) -> Record:
    data = {
        "clue_no": key,
        "title": title,
        "unit_id": unit,
        "unit_name": unit_name,
        "branch_id": None,
        "branch_name": None,
        "source": "信访举报",
        "origin": "letter",
        "person": person,
        "facts": facts,
        "reporter": None,
        "registered_at": "2027-01-05T09:00:00+08:00",
        "status": "待研判",
        "level": None,
        "disposal": None,
        "reported_to_group": False,
        "group_ack": None,
        "outcome": None,
        "history": [],
    }
    return Record(
        kind="clue", key=key, node_id=unit, unit_id=unit, confidential=True, data=data, created_at=AT, updated_at=AT
    )


@pytest.fixture
def world(app: Any, api: Any, sessions: Any) -> dict[str, Any]:
    """Clue A (新升, 张三), clue C (新升, 张三丰), clue B (许厂, 李四), a monthly report of a
    新升 branch, an organisation-wide post, and a report instance started by a 新升 branch."""
    with sessions() as s:
        s: Session
        a = clue(
            "XS-2027-001",
            "xinsheng",
            "新升实业",
            "张三",
            "张三在物资采购中收受供应商礼品卡",
            "反映张三违规收受礼品卡问题",
        )
        c = clue("XS-2027-002", "xinsheng", "新升实业", "张三丰", "张三丰违规兼职取酬", "反映张三丰违规兼职问题")
        b = clue("XC-2027-001", "xuchang", "许厂煤矿", "李四", "李四违规发放津贴", "反映李四违规发放津贴问题")
        report = Record(
            kind="monthly_report",
            key="monthly:2027-01:xinsheng-laogan",
            node_id="xinsheng-laogan",
            unit_id="xinsheng",
            confidential=False,
            data={"period": "2027-01", "branch_name": "老干家委党总支", "summary": "本月开展廉洁教育学习两次"},
            created_at=AT,
            updated_at=AT,
        )
        s.add_all([a, c, b, report])
        s.commit()
        ids = {"a": a.id, "c": c.id, "b": b.id, "report": report.id}
        post = bulletin_service.create(
            s,
            principal(s, "group_secretary"),
            PostCommand(
                {"kind": "notice", "title": "关于开展廉洁教育月活动的通知", "body": "各单位纪委：请组织学习。"}
            ),
            AT,
        )
        ids["post"] = post["id"]
    assert api.deploy(BPMN / "web_report.bpmn").status_code == 201
    r = api.post(
        "/api/v1/process-definitions/web_report/start",
        "xinsheng_laogan",
        json={"variables": {"title": "老干家委廉洁教育情况报告"}},
    )
    assert r.status_code == 201, r.get_json()
    ids["instance"] = r.get_json()["id"]
    return ids
