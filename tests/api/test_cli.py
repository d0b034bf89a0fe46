"""The command line: init-db (idempotent), deploy, import-org, create-user."""
from __future__ import annotations

from sqlalchemy import func, select

from engine.models import OrgNode, ProcessDefinition, RoleAssignment, User
from tests.conftest import BPMN, truncate_all


def test_init_db_is_idempotent(app, sessions, clean_db):
    truncate_all(clean_db)
    runner = app.test_cli_runner()
    first = runner.invoke(args=["init-db", "--demo", "--no-history"])  # the history: tests/demo
    assert first.exit_code == 0, first.output
    assert "demo organisation loaded" in first.output
    with sessions() as s:
        users = s.scalar(select(func.count()).select_from(User))
        defs = s.scalar(select(func.count()).select_from(ProcessDefinition))
    second = runner.invoke(args=["init-db", "--demo", "--no-history"])
    assert second.exit_code == 0, second.output
    assert "nothing changed" in second.output
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(User)) == users
        assert s.scalar(select(func.count()).select_from(ProcessDefinition)) == defs


def test_deploy_command(app, sessions, tmp_path):
    runner = app.test_cli_runner()
    r = runner.invoke(args=["deploy", str(BPMN / "incident.bpmn")])
    assert r.exit_code == 0 and "incident_test v1" in r.output
    r = runner.invoke(args=["deploy", str(BPMN / "incident.bpmn")])
    assert r.exit_code == 0 and "unchanged" in r.output
    bad = tmp_path / "bad.bpmn"
    bad.write_text((BPMN / "incident.bpmn").read_text().replace("ratio = 10 / divisor", "open('/etc/passwd')"))
    r = runner.invoke(args=["deploy", str(bad)])
    assert r.exit_code == 1 and "open" in r.output


def test_import_org_csv_and_rejection_of_bad_rows(app, sessions, tmp_path):
    good = tmp_path / "org.csv"
    good.write_text(
        "kind,id,tier,name,parent,username,display_name,role,node,password\n"
        "node,tangkou,unit,唐口煤业纪委,group,,,,,\n"
        "node,tangkou-zongcai,branch,综采工区党支部,tangkou,,,,,\n"
        "user,,,,,tk_sec,唐口纪委书记,,,Kq7-lamp-orbit\n"
        "role,,,,,tk_sec,,secretary,tangkou,\n"
        "user,,,,,tk_zc,综采工区纪检委员,,,Kq7-lamp-orbit\n"
        "role,,,,,tk_zc,,commissioner,tangkou-zongcai,\n", encoding="utf-8")
    r = app.test_cli_runner().invoke(args=["import-org", str(good)])
    assert r.exit_code == 0, r.output
    assert "imported 2 nodes, 2 users, 2 roles" in r.output
    with sessions() as s:
        assert s.get(OrgNode, "tangkou-zongcai").path == "/group/tangkou/tangkou-zongcai/"
    bad = tmp_path / "bad.csv"
    bad.write_text("kind,id,tier,name,parent,username,role,node\n"
                   "node,x1,unit,新单位,group,,,\n"
                   "role,,,,,tk_zc,commissioner,x1\n", encoding="utf-8")
    r = app.test_cli_runner().invoke(args=["import-org", str(bad)])
    assert r.exit_code == 1 and "row 3" in r.output and "commissioner is a branch role" in r.output
    with sessions() as s:
        assert s.get(OrgNode, "x1") is None  # nothing of the bad file was kept


def test_import_org_xlsx(app, sessions, tmp_path):
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.append(["kind", "id", "tier", "name", "parent", "username", "display_name", "role", "node", "password"])
    ws.append(["node", "geting", "unit", "葛亭煤矿纪委", "group", None, None, None, None, None])
    ws.append(["user", None, None, None, None, "gt_member", "葛亭纪委委员", None, None, "Kq7-lamp-orbit"])
    ws.append(["role", None, None, None, None, "gt_member", None, "member", "geting", None])
    path = tmp_path / "org.xlsx"
    wb.save(path)
    r = app.test_cli_runner().invoke(args=["import-org", str(path)])
    assert r.exit_code == 0, r.output
    with sessions() as s:
        user = s.scalars(select(User).where(User.username == "gt_member")).one()
        assert [(x.role, x.node_id) for x in s.scalars(select(RoleAssignment).where(RoleAssignment.user_id == user.id))] \
            == [("member", "geting")]


def test_create_user(app, client):
    r = app.test_cli_runner().invoke(args=["create-user", "newbie", "--password", "long-enough-1",
                                           "--role", "commissioner:xuchang-juejin", "--display-name", "新委员"])
    assert r.exit_code == 0, r.output
    login = client.post("/api/v1/auth/login", json={"username": "newbie", "password": "long-enough-1"})
    assert login.status_code == 200
    r = app.test_cli_runner().invoke(args=["create-user", "bad", "--password", "long-enough-1", "--role", "commissioner:xuchang"])
    assert r.exit_code == 1 and "branch role" in r.output
