"""Login, tokens, throttling, production refusal of demo passwords; org and user listings."""
from __future__ import annotations

from app import create_app
from engine.infra.settings import DEMO_PASSWORD


def login(client, username, password=DEMO_PASSWORD):
    return client.post("/api/v1/auth/login", json={"username": username, "password": password})


def test_login_me_logout(client, api):
    r = login(client, "xinsheng_laogan")
    assert r.status_code == 200
    token = r.get_json()["token"]
    headers = {"Authorization": f"Bearer {token}"}
    me = client.get("/api/v1/me", headers=headers).get_json()
    assert me["username"] == "xinsheng_laogan"
    assert me["roles"] == [{"role": "commissioner", "node_id": "xinsheng-laogan", "tier": "branch", "node_name": "老干家委党总支"}]
    assert client.post("/api/v1/auth/logout", headers=headers).status_code == 200
    r = client.get("/api/v1/me", headers=headers)
    assert r.status_code == 401 and r.get_json()["error"] == "unauthorized"
    assert client.get("/api/v1/tasks").status_code == 401
    assert client.get("/api/v1/tasks", headers={"Authorization": "Bearer nonsense"}).status_code == 401
    history = api.get("/api/v1/process-instances", "admin")  # admin token works independently
    assert history.status_code == 200


def test_wrong_password_and_throttling(client):
    assert login(client, "group_member", "wrong").status_code == 401
    assert login(client, "nobody", "wrong").status_code == 401
    for _ in range(4):
        login(client, "group_member", "wrong")
    r = login(client, "group_member")  # even the right password is refused while locked
    assert r.status_code == 429 and "retry_after" in r.get_json()["details"]
    assert login(client, "group_deputy").status_code == 200
    r = client.post("/api/v1/auth/login", json={"username": "group_deputy"})
    assert r.status_code == 422 and r.get_json()["details"][0]["field"] == "password"


def test_production_refuses_demo_passwords(clean_db, settings, clock, monkeypatch):
    # a production app refuses to start while demo passwords exist, except for maintenance
    # commands run from the CLI; this test builds one to check the login refusal itself
    monkeypatch.setenv("FLASK_RUN_FROM_CLI", "true")
    prod = create_app(settings.with_(env="production", secret_key="x" * 32), clock=clock, engine=clean_db)
    r = prod.test_client().post("/api/v1/auth/login", json={"username": "admin", "password": DEMO_PASSWORD},
                                headers={"Accept-Language": "en"})
    assert r.status_code == 403 and "demo" in r.get_json()["message"]


def test_org_tree_and_users(api):
    tree = api.get("/api/v1/org", "xuchang_member").get_json()
    assert (tree["id"], tree["tier"], tree["name"]) == ("group", "group", "中共淄博矿业集团有限责任公司纪委")
    units = {u["name"]: u for u in tree["children"]}
    assert "山东新升实业发展有限责任公司纪委" in units and len(units) == 3
    xinsheng = units["山东新升实业发展有限责任公司纪委"]
    assert "老干家委党总支" in [b["name"] for b in xinsheng["children"]]
    assert all(len(u["children"]) >= 3 for u in units.values())
    assert api.get("/api/v1/users", "xinsheng_secretary").status_code == 403
    users = api.get("/api/v1/users", "admin", query_string={"per_page": 500}).get_json()
    by_name = {u["username"]: u for u in users["items"]}
    assert by_name["xinsheng_laogan"]["roles"] == [{"role": "commissioner", "node_id": "xinsheng-laogan", "tier": "branch"}]
    assert by_name["owner"]["roles"] == [{"role": "process_owner", "node_id": None, "tier": None}]
    # at least one user per role per node
    roles_by_node: dict[str, set[str]] = {}
    for u in users["items"]:
        for r in u["roles"]:
            roles_by_node.setdefault(r["node_id"], set()).add(r["role"])
    committee = {"secretary", "deputy_secretary", "standing_member", "member"}
    assert roles_by_node["group"] >= committee
    for unit in ("xinsheng", "xuchang", "daizhuang"):
        assert roles_by_node[unit] >= committee | {"department"}
    branches = [n for n in roles_by_node if n and "-" in n]
    assert len(branches) == 9 and all(roles_by_node[b] == {"commissioner"} for b in branches)


def test_health_and_errors_are_json(client):
    assert client.get("/healthz").get_json()["status"] == "ok"
    r = client.get("/api/v1/nothing-here")
    assert r.status_code == 404 and r.get_json()["error"] == "not_found"
    r = client.delete("/api/v1/tasks")
    assert r.status_code == 405 and r.get_json()["error"] == "method_not_allowed"
