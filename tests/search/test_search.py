"""Search (issue 18 item 2): what each demo role finds, Chinese matching, the API and the page
agree, and the index follows changes in the same transaction."""

from __future__ import annotations

import re
from typing import Any

import pytest

from engine.models import Record
from engine.platform import search as index
from tests.conftest import principal

KINDS = ("task", "instance", "clue", "report", "post", "person")


def found(api: Any, user: str, q: str, kind: str | None = None) -> set[tuple[str, int]]:
    """Every (kind, id) of every page the API returns."""
    out: set[tuple[str, int]] = set()
    page = 1
    while True:
        params: dict[str, Any] = {"q": q, "per_page": 7, "page": page}
        if kind:
            params["kind"] = kind
        r = api.get("/api/v1/search", user, query_string=params)
        assert r.status_code == 200, r.get_json()
        body = r.get_json()
        out |= {(h["kind"], h["id"]) for h in body["items"]}
        if page * body["per_page"] >= body["total"]:
            assert len(out) == body["total"]
            return out
        page += 1


def clues(api: Any, user: str, q: str) -> set[int]:
    return {i for k, i in found(api, user, q, "clue")}


# ---- who finds a clue -------------------------------------------------------------------------------------

# everyone who may open clue A (新升实业's register) finds it by the person's name; no one else does
SEES_XINSHENG = (
    "group_secretary",
    "group_deputy",
    "group_standing",
    "group_member",
    "xinsheng_secretary",
    "xinsheng_deputy",
    "xinsheng_standing",
    "xinsheng_member",
)
NOT_XINSHENG = (
    "xuchang_secretary",
    "xuchang_member",
    "daizhuang_deputy",
    "xinsheng_laogan",
    "xinsheng_dept",
    "xuchang_zongcai",
    "owner",
    "auditor",
    "security_admin",
)


@pytest.mark.parametrize("user", SEES_XINSHENG)
def test_a_unit_and_the_group_find_the_units_clue_by_the_persons_name(
    world: dict[str, Any], api: Any, user: str
) -> None:
    assert clues(api, user, "张三") == {world["a"], world["c"]}
    listed = {c["id"] for c in api.get("/api/v1/clues", user, query_string={"per_page": 500}).get_json()["items"]}
    assert {world["a"], world["c"]} <= listed  # the register shows them to the same person


@pytest.mark.parametrize("user", NOT_XINSHENG)
def test_other_units_branches_and_system_roles_do_not(world: dict[str, Any], api: Any, user: str) -> None:
    assert clues(api, user, "张三") == set()
    assert clues(api, user, "收受礼品") == set()
    assert not {k for k, _i in found(api, user, "张三") if k == "clue"}


def test_the_other_units_clue_is_found_by_its_own_unit_only(world: dict[str, Any], api: Any) -> None:
    assert clues(api, "xuchang_secretary", "李四") == {world["b"]}
    assert clues(api, "group_member", "李四") == {world["b"]}
    assert clues(api, "xinsheng_secretary", "李四") == set()


def test_the_system_administrator_finds_no_clue_by_confidential_words(world: dict[str, Any], api: Any) -> None:
    """三员分立: the person and the facts are hidden from the administrator, so they find nothing
    by them; by the clue's number (an operational key) they find it, titled without the person."""
    assert clues(api, "admin", "张三") == set()
    assert clues(api, "admin", "礼品卡") == set()
    r = api.get("/api/v1/search", "admin", query_string={"q": "XS-2027-001"})
    items = r.get_json()["items"]
    assert [(h["kind"], h["id"], h["title"]) for h in items] == [("clue", world["a"], "问题线索 XS-2027-001")]
    # the group committee reads the full title
    r = api.get("/api/v1/search", "group_secretary", query_string={"q": "XS-2027-001"})
    assert [h["title"] for h in r.get_json()["items"]] == ["反映张三违规收受礼品卡问题"]


def test_every_hit_is_one_the_lists_show(world: dict[str, Any], api: Any) -> None:
    """Reports, posts, instances and tasks found are the ones the API lists give the same person."""
    for user in ("xinsheng_laogan", "xinsheng_secretary", "xuchang_secretary", "group_member"):
        hits = found(api, user, "廉洁教育")
        instances = {
            i["id"]
            for i in api.get("/api/v1/process-instances", user, query_string={"per_page": 500}).get_json()["items"]
        }
        tasks = {t["id"] for t in api.tasks(user)}
        for kind, id_ in hits:
            if kind == "instance":
                assert id_ in instances
            if kind == "task":
                assert api.get(f"/api/v1/tasks/{id_}", user).status_code == 200
                assert id_ in tasks
            if kind == "post":
                assert api.get(f"/api/v1/bulletin/{id_}", user).status_code == 200
        assert ("post", world["post"]) in hits
    assert ("report", world["report"]) in found(api, "xinsheng_laogan", "廉洁教育")
    assert ("report", world["report"]) not in found(api, "xinsheng_wuye", "廉洁教育")  # another branch
    assert ("instance", world["instance"]) in found(api, "xinsheng_laogan", "廉洁教育")
    assert ("instance", world["instance"]) not in found(api, "xuchang_secretary", "廉洁教育")


def test_people_are_found_as_their_profiles_may_be_read(world: dict[str, Any], api: Any) -> None:
    mine = found(api, "xinsheng_secretary", "纪律检查委员", "person")
    names = {
        api.get(
            "/api/v1/search", "xinsheng_secretary", query_string={"q": "纪律检查委员", "kind": "person", "per_page": 50}
        ).get_json()["items"][i]["ref"]
        for i in range(len(mine))
    }
    assert names == {"xinsheng_laogan", "xinsheng_wuye", "xinsheng_jidian"}
    for username in names:
        assert api.get(f"/api/v1/people/{username}", "xinsheng_secretary").status_code == 200
    assert found(api, "xinsheng_laogan", "纪律检查委员", "person") == found(
        api, "xinsheng_laogan", "老干家委", "person"
    )
    assert len(found(api, "group_member", "纪律检查委员", "person")) == 9


# ---- Chinese matching --------------------------------------------------------------------------------------


def test_chinese_words_of_one_two_and_more_characters(world: dict[str, Any], api: Any) -> None:
    u = "group_secretary"
    assert clues(api, u, "张三") == {world["a"], world["c"]}  # a two-character name (and 张三丰, which holds it)
    assert clues(api, u, "张三丰") == {world["c"]}  # three characters: only the whole phrase
    assert clues(api, u, "收受供应商礼品卡") == {world["a"]}  # a phrase from the facts
    assert clues(api, u, "三张") == set()  # the characters in another order are another word
    assert clues(api, u, "张") == {world["a"], world["c"]}  # one character
    assert clues(api, u, "丰") == {world["c"]}  # one character at the end of a run
    assert clues(api, u, "张三 礼品卡") == {world["a"]}  # all words must occur
    assert clues(api, u, "ｘｓ－２０２７") == {world["a"], world["c"]}  # full-width as typed on a Chinese keyboard
    assert clues(api, u, "xs-2027-002") == {world["c"]}


def test_tokens() -> None:
    assert index.tokens("问题线索：张三") == ["问题", "题线", "线索", "索", "张三", "三"]
    assert index.tokens("XS-2027 新升") == ["xs", "2027", "新升", "升"]
    assert index.query_tokens("张") == [("张", True)]
    assert index.query_tokens("张三丰") == [("张三", False), ("三丰", False)]


def test_bad_queries_are_refused_naming_the_field(world: dict[str, Any], api: Any) -> None:
    for params in ({"q": ""}, {"q": "。，"}, {"q": "x" * 101}, {"q": "张三", "kind": "everything"}):
        r = api.get("/api/v1/search", "group_secretary", query_string=params)
        assert r.status_code == 422, params
        assert r.get_json()["details"][0]["field"] == ("kind" if "kind" in params else "q")


# ---- the index follows changes ------------------------------------------------------------------------------


def test_the_index_follows_changes_and_rebuilds_the_same(world: dict[str, Any], api: Any, sessions: Any) -> None:
    with sessions() as s:
        r = s.get(Record, world["b"])
        r.data = {**r.data, "person": "王五", "title": "反映王五违规发放津贴问题"}
        s.commit()
    assert clues(api, "xuchang_secretary", "王五") == {world["b"]}
    assert clues(api, "xuchang_secretary", "李四") == {world["b"]}  # still in the facts
    with sessions() as s:
        s.delete(s.get(Record, world["c"]))
        s.commit()
    assert clues(api, "group_secretary", "张三") == {world["a"]}
    before = found(api, "group_secretary", "廉洁") | found(api, "group_secretary", "张三")
    with sessions() as s:
        conn = s.connection()
        first = index.rebuild(conn)
        assert index.rebuild(conn) == first
        s.commit()
    assert found(api, "group_secretary", "廉洁") | found(api, "group_secretary", "张三") == before


def test_a_renamed_instance_is_found_by_its_new_title(world: dict[str, Any], api: Any, sessions: Any, app: Any) -> None:
    from engine.models import ProcessInstance

    with sessions() as s:
        inst = s.get(ProcessInstance, world["instance"])
        inst.title = "改名后的报告"
        index.put_instance(s.connection(), inst)
        s.commit()
    assert ("instance", world["instance"]) in found(api, "xinsheng_laogan", "改名后")
    assert ("instance", world["instance"]) not in found(api, "xinsheng_laogan", "老干家委廉洁")


# ---- the API and the page agree -----------------------------------------------------------------------------

HIT = re.compile(r'<li data-kind="(\w+)" data-id="(\d+)"')


def page_hits(web: Any, **params: Any) -> list[tuple[str, int]]:
    r = web.get("/search", query_string=params)
    assert r.status_code == 200
    return [(k, int(i)) for k, i in HIT.findall(r.get_data(as_text=True))]


@pytest.mark.parametrize("user", ("group_secretary", "xinsheng_secretary", "xinsheng_laogan", "admin"))
def test_the_page_shows_what_the_api_returns(world: dict[str, Any], api: Any, web: Any, user: str) -> None:
    web.login(user)
    for q in ("张三", "廉洁教育", "纪律检查委员", "XS-2027"):
        overview = page_hits(web, q=q)
        for kind in KINDS:
            r = api.get("/api/v1/search", user, query_string={"q": q, "kind": kind, "per_page": 30})
            ids = [(h["kind"], h["id"]) for h in r.get_json()["items"]]
            assert page_hits(web, q=q, kind=kind) == ids, (q, kind)
            assert [h for h in overview if h[0] == kind] == ids[:5], (q, kind)


def test_the_page_in_chinese(world: dict[str, Any], web: Any) -> None:
    web.login("group_secretary")
    html = web.get("/tasks").get_data(as_text=True)
    assert 'id="site-search"' in html
    html = web.get("/search", query_string={"q": "张三"}).get_data(as_text=True)
    assert "问题线索" in html and "反映张三违规收受礼品卡问题" in html
    assert f'href="/registers/clues/{world["a"]}"' in html
    r = web.get("/search", query_string={"q": "张三", "kind": "nothing"})
    assert r.status_code == 422
    assert "kind must be" not in r.get_data(as_text=True)
    html = web.get("/search", query_string={"q": "没有这样的词"}).get_data(as_text=True)
    assert 'id="search-none"' in html


# ---- the same hits, however they are looked for (engine/services/search.py) -----------------------------------


def ordered(api: Any, user: str, q: str, kind: str | None = None) -> list[tuple[str, int]]:
    params: dict[str, Any] = {"q": q, "per_page": 100}
    if kind:
        params["kind"] = kind
    r = api.get("/api/v1/search", user, query_string=params)
    assert r.status_code == 200, r.get_json()
    return [(h["kind"], h["id"]) for h in r.get_json()["items"]]


def test_looking_among_the_newest_rows_first_finds_the_same(
    world: dict[str, Any], api: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A kind's newest hits are looked for among its WINDOW newest rows first, the rest only when
    there are too few: with a window of one or two rows (the world has more of every kind) each
    reader's results, in order, and the overview are the same as when the window holds all."""
    from engine.services import search as service

    users = ("group_secretary", "xinsheng_secretary", "xinsheng_laogan", "xuchang_secretary", "admin")
    queries = ("张三", "廉洁教育", "纪律检查委员", "XS-2027", "报告", "李四")
    whole = {(u, q, k): ordered(api, u, q, k) for u in users for q in queries for k in (None, "task", "clue")}
    assert sum(len(v) for v in whole.values()) > 50
    for window in (1, 2):
        monkeypatch.setattr(service, "WINDOW", window)
        for (u, q, k), hits in whole.items():
            assert ordered(api, u, q, k) == hits, (window, u, q, k)


def test_the_total_is_capped_and_says_there_are_more(
    world: dict[str, Any], api: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from engine.services import search as service

    body = api.get("/api/v1/search", "group_secretary", query_string={"q": "廉洁", "per_page": 1}).get_json()
    assert body["total"] >= 3 and body["more"] is False
    everything = body["total"]
    monkeypatch.setattr(service, "COUNT_CAP", 1)
    body = api.get("/api/v1/search", "group_secretary", query_string={"q": "廉洁", "per_page": 1}).get_json()
    assert (body["total"], body["more"], len(body["items"])) == (1, True, 1)
    body = api.get("/api/v1/search", "group_secretary", query_string={"q": "廉洁", "per_page": 1, "page": 2}).get_json()
    assert (body["total"], body["more"]) == (2, True)
    last = api.get(
        "/api/v1/search", "group_secretary", query_string={"q": "廉洁", "per_page": 1, "page": everything}
    ).get_json()
    assert (last["total"], last["more"], len(last["items"])) == (everything, False, 1)


def test_the_rules_are_applied_to_the_entries_copies_first(world: dict[str, Any], sessions: Any) -> None:
    """Each kind's visibility rule, with the source row's columns replaced by the entry's copies
    (node, confidential flag, starter), narrows the candidates before their rows are joined."""
    from sqlalchemy.sql import visitors

    from engine.linkage import records
    from engine.org import policy
    from engine.services import search as service

    with sessions() as s:
        p = principal(s, "xinsheng_laogan")
        for table, rule, copies in (
            (service._RECORD, records.visible_clause(p), service._RECORD_COPIES),
            (service._INSTANCE, policy.instances_visible(p, by_set=True), service._INSTANCE_COPIES),
        ):
            [narrowed] = service._among(table, rule, copies)
            tables = {getattr(c, "table", None) for c in visitors.iterate(narrowed)}
            assert table not in tables and index.SearchEntry.__table__ in tables
        assert service._among(service._RECORD, records.visible_clause(principal(s, "group_member")), {}) == []
