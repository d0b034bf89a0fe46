"""The linkage bulletin: posting rules, audiences, LIKE search, read receipts per unit."""
from __future__ import annotations


def post(api, user, **fields):
    r = api.post("/api/v1/bulletin", user, json=fields)
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def test_posting_rules(api):
    notice = post(api, "group_secretary", kind="notice", title="关于开展第一季度三级联动工作的通知",
                  body="各单位纪委：现将第一季度联动任务下发，请于1月10日前制定实施方案。", pinned=True)
    assert (notice["node_id"], notice["audience_node_id"], notice["pinned"], notice["kind_name"]) == (
        "group", "group", True, "通知公告")
    # a commissioner shares experience; notices come from committees; nobody pins but the group
    r = api.post("/api/v1/bulletin", "xinsheng_laogan", json={"kind": "notice", "title": "t", "body": "b"})
    assert r.status_code == 403
    r = api.post("/api/v1/bulletin", "xinsheng_laogan", json={"kind": "experience", "title": "t", "body": "b", "pinned": True})
    assert r.status_code == 403
    for bad, field_ in (({"title": ""}, "title"), ({"kind": "rumour"}, "kind"), ({"audience_node_id": "xuchang"}, "audience_node_id"),
                        ({"audience_node_id": "xinsheng-wuye"}, "audience_node_id"), ({"node_id": "xuchang"}, "node_id"),
                        ({"colour": 1}, "colour")):
        r = api.post("/api/v1/bulletin", "xinsheng_laogan", json={"kind": "experience", "title": "t", "body": "b", **bad})
        assert r.status_code == 422 and r.get_json()["details"][0]["field"] == field_, bad
    assert api.post("/api/v1/bulletin", "owner", json={"title": "t", "body": "b"}).status_code == 403
    unit_only = post(api, "xinsheng_laogan", kind="experience", title="老干家委党总支：公示监督的做法",
                     body="我们在工资分配公示前先由纪律检查委员审核，再张榜公示三天。", audience_node_id="xinsheng")
    assert unit_only["node_name"] == "老干家委党总支"
    # who sees what: the unit-only post is invisible to another unit (404), visible to the group
    assert api.get(f"/api/v1/bulletin/{unit_only['id']}", "xuchang_zongcai").status_code == 404
    assert api.get(f"/api/v1/bulletin/{unit_only['id']}", "group_member").status_code == 200
    assert api.get(f"/api/v1/bulletin/{unit_only['id']}", "xinsheng_dept").status_code == 200
    assert [p["id"] for p in api.get("/api/v1/bulletin", "xuchang_zongcai").get_json()["items"]] == [notice["id"]]
    assert [p["id"] for p in api.get("/api/v1/bulletin", "xinsheng_wuye").get_json()["items"]] == [notice["id"], unit_only["id"]]
    # author edits; others may not; the group unpins; delete hides it
    assert api.call("PATCH", f"/api/v1/bulletin/{unit_only['id']}", "xinsheng_wuye", json={"title": "x"}).status_code == 403
    r = api.call("PATCH", f"/api/v1/bulletin/{unit_only['id']}", "xinsheng_laogan", json={"title": "公示监督的做法（修订）"})
    assert r.get_json()["title"] == "公示监督的做法（修订）"
    assert api.call("PATCH", f"/api/v1/bulletin/{notice['id']}", "xinsheng_secretary", json={"pinned": False}).status_code == 403
    assert api.call("PATCH", f"/api/v1/bulletin/{notice['id']}", "group_deputy", json={"pinned": False}).get_json()["pinned"] is False
    assert api.call("DELETE", f"/api/v1/bulletin/{unit_only['id']}", "xinsheng_secretary").status_code == 403
    assert api.call("DELETE", f"/api/v1/bulletin/{unit_only['id']}", "xinsheng_laogan").status_code == 200
    assert api.get(f"/api/v1/bulletin/{unit_only['id']}", "xinsheng_laogan").status_code == 404


def test_search_in_title_and_body(api):
    a = post(api, "group_secretary", kind="study", title="学习《中国共产党纪律处分条例》", body="重点学习第六章。")
    b = post(api, "xuchang_zongcai", kind="work", title="综采一区工资公示情况", body="本月严重“三违”处置已公示，100%_覆盖。")
    post(api, "daizhuang_caimei", kind="experience", title="微腐败问题的发现", body="逢年过节收取钱物的苗头。")
    def found(q, user="group_member"):
        return [p["id"] for p in api.get("/api/v1/bulletin", user, query_string={"q": q}).get_json()["items"]]
    assert found("纪律处分") == [a["id"]]
    assert found("三违") == [b["id"]]  # in the body
    assert found("公示 三违") == [b["id"]]  # every word must match
    assert found("100%_") == [b["id"]] and found("%") == [b["id"]]  # wildcards are literal
    assert found("没有这个词") == []
    assert [p["id"] for p in api.get("/api/v1/bulletin?kind=study", "group_member").get_json()["items"]] == [a["id"]]
    assert api.get("/api/v1/bulletin?kind=gossip", "group_member").status_code == 422


def test_read_receipts_per_unit(api):
    notice = post(api, "group_secretary", kind="notice", title="通知", body="请各单位传达学习。")
    for user in ("xinsheng_secretary", "xinsheng_laogan", "xuchang_member", "group_deputy"):
        r = api.post(f"/api/v1/bulletin/{notice['id']}/read", user)
        assert r.get_json() == {"post_id": notice["id"], "read": True, "first_time": True}
    assert api.post(f"/api/v1/bulletin/{notice['id']}/read", "xinsheng_laogan").get_json()["first_time"] is False
    full = api.get(f"/api/v1/bulletin/{notice['id']}/receipts", "group_secretary").get_json()
    assert (full["total_read"], full["units_read"]) == (4, 2)
    rows = {u["unit_id"]: u for u in full["units"]}
    assert [u["unit_id"] for u in full["units"]] == [None, "xinsheng", "xuchang", "daizhuang"]
    # xinsheng: 4 committee members, 1 department account, 3 commissioners
    assert (rows["xinsheng"]["people"], rows["xinsheng"]["read"], rows["daizhuang"]["has_read"]) == (8, 2, False)
    assert [r["username"] for r in rows["xinsheng"]["readers"]] == ["xinsheng_secretary", "xinsheng_laogan"]
    assert [r["username"] for r in rows[None]["readers"]] == ["group_deputy"]
    # a unit committee sees the names of its own unit's readers only; a commissioner sees counts
    unit_view = {u["unit_id"]: u for u in api.get(f"/api/v1/bulletin/{notice['id']}/receipts", "xuchang_secretary").get_json()["units"]}
    assert "readers" in unit_view["xuchang"] and "readers" not in unit_view["xinsheng"] and unit_view["xinsheng"]["read"] == 2
    branch_view = api.get(f"/api/v1/bulletin/{notice['id']}/receipts", "xinsheng_wuye").get_json()
    assert all("readers" not in u for u in branch_view["units"])
    listed = api.get("/api/v1/bulletin", "xinsheng_laogan").get_json()["items"][0]
    assert (listed["read"], listed["read_count"]) == (True, 4)
    assert api.get("/api/v1/bulletin?unread=true", "xinsheng_laogan").get_json()["total"] == 0
    assert api.get("/api/v1/bulletin?unread=true", "xinsheng_wuye").get_json()["total"] == 1
