"""The password policy on every path that sets a password, and the forced change of passwords
chosen by someone else (issue 13, item 8)."""
from __future__ import annotations

from tests.oracles import fields
import pytest
from openpyxl import Workbook
from sqlalchemy import func, select, update

from app import create_app
from engine.org import auth
from engine.models import ApiToken, EventLog, OrgNode, User
from engine.org.passwords import problems
from tests.web.conftest import Web

pytestmark = pytest.mark.once  # password policy and hashing, the same on any database: the SQLite pass runs it

STRONG = "Kq7-lamp-orbit"
IMPORT_HEADER = "kind,id,tier,name,parent,username,display_name,role,node,password\n"


@pytest.fixture
def web(client):
    return Web(client)


def login(client, username, password):
    return client.post("/api/v1/auth/login", json={"username": username, "password": password})


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def user(sessions, username):
    with sessions() as s:
        return s.scalars(select(User).where(User.username == username)).first()


@pytest.mark.parametrize("password, codes", [
    ("password", ["too_short", "classes", "common"]),  # the red team's three, accepted on e3f511d
    ("12345678", ["too_short", "classes", "common"]),
    ("aaaaaaaa", ["too_short", "classes", "guessable"]),
    ("demo12345", ["too_short", "classes", "guessable"]),
    ("Password123", ["common"]),
    ("password12", ["classes", "common"]),
    ("aaaaaaaaaaaaaaaaaaaa", ["guessable"]),  # long, but a repeat
    ("P@ssw0rd2024", ["guessable"]),  # l33t spelling of a common word and a year
    ("Welcome2027!", ["guessable"]),
    ("Xuchang_member-7", ["username", "guessable"]),
    ("纪检工作平台密码2027年", ["classes"]),  # 14 characters of two classes
    ("Xk9#mq2vL", ["too_short"]),
    ("abc\x00defghijkl", ["control"]),
    ("x" * 129, ["too_long"]),
    (STRONG, []),
    ("correct horse battery staple", []),  # a passphrase of 16+ characters needs no classes
])
def test_the_policy(password, codes):
    assert problems(password, "xuchang_member", "许厂煤矿纪委委员") == codes


# ---- every path that sets a password ---------------------------------------------------------------

@pytest.mark.parametrize("weak", ["password", "12345678", "aaaaaaaa", "Password123"])
def test_create_user_refuses_a_weak_password(app, sessions, weak):
    r = app.test_cli_runner().invoke(args=["create-user", "newbie", "--password", weak, "--role", "admin"])
    assert r.exit_code == 1 and "does not meet the password policy" in r.output
    assert user(sessions, "newbie") is None
    # nor may an existing user be given one
    r = app.test_cli_runner().invoke(args=["create-user", "xuchang_member", "--password", weak])
    assert r.exit_code == 1 and "password policy" in r.output
    assert auth.verify_password(user(sessions, "xuchang_member").password_hash, "demo12345")


def test_create_user_accepts_a_good_password_and_must_change_is_optional(app, client, sessions):
    r = app.test_cli_runner().invoke(args=["create-user", "ops_lead", "--password", STRONG, "--role", "admin"])
    assert r.exit_code == 0, r.output
    assert r.output.strip().endswith("user ops_lead created; roles: admin")
    assert login(client, "ops_lead", STRONG).get_json()["password_change_required"] is False
    r = app.test_cli_runner().invoke(args=["create-user", "helper", "--password", STRONG, "--must-change"])
    assert r.exit_code == 0 and "must be changed at the next sign-in" in r.output
    assert login(client, "helper", STRONG).get_json()["password_change_required"] is True


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_import_refuses_a_weak_password_naming_the_row(app, sessions, tmp_path, fmt):
    rows = [["node", "tangkou", "unit", "唐口煤业纪委", "group", "", "", "", "", ""],
            ["user", "", "", "", "", "tk_sec", "唐口纪委书记", "", "", STRONG],
            ["user", "", "", "", "", "tk_zc", "综采工区纪检委员", "", "", "password12"]]
    path = tmp_path / f"org.{fmt}"
    if fmt == "csv":
        path.write_text(IMPORT_HEADER + "".join(",".join(r) + "\n" for r in rows), encoding="utf-8")
    else:
        wb = Workbook()
        wb.active.append(IMPORT_HEADER.strip().split(","))
        for r in rows:
            wb.active.append(r)
        wb.save(path)
    r = app.test_cli_runner().invoke(args=["import-org", str(path)])
    assert r.exit_code == 1
    assert "import row 4: the password does not meet the password policy" in r.output and "row 4 password" in r.output
    assert "one of the most common passwords" in r.output
    with sessions() as s:  # nothing of the file was kept
        assert s.get(OrgNode, "tangkou") is None
        assert s.scalar(select(func.count()).select_from(User).where(User.username.in_(["tk_sec", "tk_zc"]))) == 0


def test_the_api_change_refuses_a_weak_password_naming_the_field(api, client, sessions):
    token = api.token("xinsheng_member")
    r = client.post("/api/v1/auth/password", headers=bearer(token),
                    json={"old_password": "demo12345", "new_password": "password"})
    assert r.status_code == 422 and r.get_json()["error"] == "invalid"
    assert [(d["field"], d["code"]) for d in r.get_json()["details"]] == [
        ("new_password", "too_short"), ("new_password", "classes"), ("new_password", "common")]
    r = client.post("/api/v1/auth/password", headers=bearer(token), json={"old_password": "demo12345"})
    assert r.status_code == 422 and fields(r.get_json()["details"]) == [{"field": "new_password", "message": "required string"}]
    r = client.post("/api/v1/auth/password", headers=bearer(token),
                    json={"old_password": "not-the-password", "new_password": STRONG})
    assert r.status_code == 422 and r.get_json()["details"][0]["field"] == "old_password"
    assert auth.verify_password(user(sessions, "xinsheng_member").password_hash, "demo12345")  # nothing changed


def test_the_page_refuses_a_weak_password_in_chinese(web, sessions):
    web.login("xinsheng_laogan")
    assert "修改密码" in web.get("/tasks").get_data(as_text=True)  # the header links to the page
    page = web.get("/password")
    assert page.status_code == 200 and "至少 10 个字符" in page.get_data(as_text=True)
    r = web.post("/password", {"old_password": "demo12345", "new_password": "password", "confirm_password": "password"})
    html = r.get_data(as_text=True)
    assert r.status_code == 422
    assert "至少需要 10 个字符。" in html and "这是最常见的密码之一，请换一个。" in html
    r = web.post("/password", {"old_password": "demo12345", "new_password": STRONG, "confirm_password": STRONG + "x"})
    assert r.status_code == 422 and "两次输入的新密码不一致。" in r.get_data(as_text=True)
    r = web.post("/password", {"old_password": "wrong-password", "new_password": STRONG, "confirm_password": STRONG})
    assert r.status_code == 422 and "当前密码不正确。" in r.get_data(as_text=True)
    assert auth.verify_password(user(sessions, "xinsheng_laogan").password_hash, "demo12345")
    r = web.post("/password", {"old_password": "demo12345", "new_password": STRONG, "confirm_password": STRONG})
    assert r.status_code == 302 and r.headers["Location"] == "/tasks"
    assert "密码已修改。" in web.get("/tasks").get_data(as_text=True)
    assert auth.verify_password(user(sessions, "xinsheng_laogan").password_hash, STRONG)


# ---- passwords chosen by someone else must be changed first ----------------------------------------

@pytest.fixture
def imported(app, tmp_path):
    """Two users created by an org import, with initial passwords the importer chose."""
    path = tmp_path / "org.csv"
    path.write_text(IMPORT_HEADER
                    + f"user,,,,,tk_sec,唐口纪委书记,,,{STRONG}\nrole,,,,,tk_sec,,secretary,xuchang,\n"
                    + f"user,,,,,tk_zc,综采工区纪检委员,,,{STRONG}\nrole,,,,,tk_zc,,commissioner,xuchang-zongcai,\n",
                    encoding="utf-8")
    r = app.test_cli_runner().invoke(args=["import-org", str(path)])
    assert r.exit_code == 0, r.output
    return ["tk_sec", "tk_zc"]


def test_an_imported_user_can_only_change_the_password_through_the_api(client, sessions, imported):
    assert user(sessions, "tk_sec").must_change_password is True
    r = login(client, "tk_sec", STRONG)
    assert r.status_code == 200 and r.get_json()["password_change_required"] is True
    token = r.get_json()["token"]
    for path in ("/api/v1/tasks", "/api/v1/process-definitions", "/api/v1/org", "/api/v1/clues"):
        r = client.get(path, headers=bearer(token))
        assert r.status_code == 403 and r.get_json()["error"] == "password_change_required", path
    r = client.post("/api/v1/process-definitions/three_tier/start", headers=bearer(token), json={})
    assert r.status_code == 403 and r.get_json()["error"] == "password_change_required"
    me = client.get("/api/v1/me", headers=bearer(token)).get_json()
    assert me["username"] == "tk_sec" and me["password_change_required"] is True
    r = client.post("/api/v1/auth/password", headers=bearer(token),
                    json={"old_password": STRONG, "new_password": STRONG})
    assert r.status_code == 422 and r.get_json()["details"][0]["code"] == "same"
    new = "Orbit-lamp-58q"
    r = client.post("/api/v1/auth/password", headers=bearer(token), json={"old_password": STRONG, "new_password": new})
    assert r.status_code == 200 and r.get_json() == {"status": "password_changed"}
    assert client.get("/api/v1/tasks", headers=bearer(token)).status_code == 200  # the same token, now free
    assert client.get("/api/v1/me", headers=bearer(token)).get_json()["password_change_required"] is False
    assert user(sessions, "tk_sec").must_change_password is False
    assert login(client, "tk_sec", STRONG).status_code == 401
    assert login(client, "tk_sec", new).get_json()["password_change_required"] is False
    with sessions() as s:
        kinds = [e.type for e in s.scalars(select(EventLog).where(EventLog.actor == "tk_sec").order_by(EventLog.id))]
    assert "password_changed" in kinds and kinds.count("access_refused") == 5


def test_an_imported_user_is_sent_to_the_change_password_page(app, sessions, imported):
    web = Web(app.test_client())
    web.get("/login")
    r = web.post("/login", {"username": "tk_zc", "password": STRONG, "next": "/tasks?due=overdue"})
    assert r.status_code == 302 and r.headers["Location"] == "/password?next=/tasks?due%3Doverdue"
    for path in ("/tasks", "/instances", "/registers/clues"):
        r = web.get(path)
        assert r.status_code == 302 and r.headers["Location"].startswith("/password?next="), path
    r = web.client.get("/api/v1/tasks")  # the session on the API: refused the same way
    assert r.status_code == 403 and r.get_json()["error"] == "password_change_required"
    page = web.get("/password?next=/tasks")
    assert page.status_code == 200 and "请先修改密码再继续操作" in page.get_data(as_text=True)
    r = web.post("/password", {"old_password": STRONG, "new_password": "Orbit-lamp-58q",
                               "confirm_password": "Orbit-lamp-58q", "next": "/tasks"})
    assert r.status_code == 302 and r.headers["Location"] == "/tasks"
    assert web.get("/tasks").status_code == 200
    assert web.client.get("/api/v1/tasks").status_code == 200


def test_changing_the_password_ends_the_other_sessions(app, client, sessions):
    other_device = Web(app.test_client())
    other_device.login("xuchang_zongcai")
    token = login(client, "xuchang_zongcai", "demo12345").get_json()["token"]
    spare = login(client, "xuchang_zongcai", "demo12345").get_json()["token"]
    r = client.post("/api/v1/auth/password", headers=bearer(token),
                    json={"old_password": "demo12345", "new_password": STRONG})
    assert r.status_code == 200
    assert client.get("/api/v1/me", headers=bearer(token)).status_code == 200
    assert client.get("/api/v1/me", headers=bearer(spare)).status_code == 401
    r = other_device.get("/tasks")
    assert r.status_code == 302 and r.headers["Location"].startswith("/login")
    with sessions() as s:
        open_tokens = s.scalar(select(func.count()).select_from(ApiToken).where(ApiToken.revoked_at.is_(None)))
    assert open_tokens == 1


def test_demo_users_keep_the_demo_password_in_development(client, sessions):
    assert user(sessions, "group_secretary").must_change_password is True  # flagged as demo data ...
    r = login(client, "group_secretary", "demo12345")
    assert r.status_code == 200 and r.get_json()["password_change_required"] is False  # ... free in development
    assert client.get("/api/v1/tasks", headers=bearer(r.get_json()["token"])).status_code == 200


# ---- production ------------------------------------------------------------------------------------

@pytest.fixture
def production(clean_db, settings, clock, monkeypatch):
    monkeypatch.setenv("FLASK_RUN_FROM_CLI", "true")  # skip the start-up refusal of demo passwords
    return create_app(settings.with_(env="production", secret_key="x" * 32), clock=clock, engine=clean_db)


def test_production_refuses_a_guessable_password_and_forces_the_change_of_a_short_one(production, clean_db):
    with clean_db.begin() as conn:  # passwords set before the policy existed
        conn.execute(update(User).where(User.username == "group_member")
                     .values(password_hash=auth.hash_password("password"), must_change_password=False))
        conn.execute(update(User).where(User.username == "group_standing")
                     .values(password_hash=auth.hash_password("Xk9#mq2vL"), must_change_password=False))
        conn.execute(update(User).where(User.username == "group_deputy")
                     .values(password_hash=auth.hash_password(STRONG)))  # demo user, flag still set
    client = production.test_client()
    r = login(client, "group_member", "password")
    assert r.status_code == 403 and r.get_json()["details"] == {"reason": "weak_password"}
    r = login(client, "group_standing", "Xk9#mq2vL")  # too short, yet not guessable: must change it
    assert r.status_code == 200 and r.get_json()["password_change_required"] is True
    r = login(client, "group_deputy", STRONG)  # a demo account given a real password by SQL: change it first
    assert r.status_code == 200 and r.get_json()["password_change_required"] is True
    token = r.get_json()["token"]
    assert client.get("/api/v1/tasks", headers=bearer(token)).status_code == 403
    r = client.post("/api/v1/auth/password", headers=bearer(token),
                    json={"old_password": STRONG, "new_password": "Orbit-lamp-58q"})
    assert r.status_code == 200
    assert client.get("/api/v1/tasks", headers=bearer(token)).status_code == 200
    r = login(client, "admin", "demo12345")
    assert r.status_code == 403 and r.get_json()["details"] == {"reason": "demo_password"}


def test_production_login_page_says_why_a_weak_password_is_refused(production, clean_db):
    with clean_db.begin() as conn:
        conn.execute(update(User).where(User.username == "group_member")
                     .values(password_hash=auth.hash_password("password")))
    web = Web(production.test_client())
    web.get("/login")
    r = web.post("/login", {"username": "group_member", "password": "password"})
    assert r.status_code == 403 and "该密码过于容易被猜到" in r.get_data(as_text=True)
