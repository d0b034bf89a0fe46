"""The pages as a new user meets them, in Chromium: the phone menu reaches every item (390 and
360 px wide, nothing scrolls sideways); an instance diagram shows only the instance's own process,
fitted inside its box (no shape outside it, the bpmn.io logo beside the canvas, one legend key
for every colour drawn, the caption in Chinese); the start page asks before a start that fans
out and links to the new instance; and a sweep over every page the demo users reach, in
Chinese, finds no technical identifier in the visible text (innerText)."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urljoin, urlparse

import pytest

from engine.org.demo import demo_users
from tests.conftest import Api, LiveServer, sign_in
from tests.web.builtins import deploy_builtins, start_by_timer

PHONE = {"is_mobile": True, "has_touch": True, "device_scale_factor": 2}
# what a business reader should never see: snake_case words, form file names, BPMN kinds,
# lowerCamel property names and the engine's English state words
IDENTIFIER = re.compile(
    r"\b[a-z][a-z0-9]*_[a-z0-9_]+\b|\w\.json\b|\b[a-z]+(?:Task|Gateway|Event|Activity|Flow)\b"
    r"|\b[a-z]+[A-Z][a-zA-Z]*\b|\b(?:running|suspended|completed|terminated|pending|undefined|null|None|True|False)\b"
)
USERNAMES = {u for u, _, _, _ in demo_users()}
# Pages left out of the sweep, and why (each is another part's, or technical by design):
EXCLUDED = [
    # the modeler (helper `modeler`): the diagram's own ids are its subject
    (re.compile(r"^/processes/[^/]+/edit$|^/processes/new$"), "modeler"),
    # the form editor (issue 15): the JSON Schema's own keys are its subject, like the modeler's ids
    (re.compile(r"^/forms/edit$"), "form editor"),
    # the auditor's log shows the immutable raw record (event types, payload keys) by design
    (re.compile(r"^/audit"), "audit log"),
]
SKIP = re.compile(r"/logout|/api/|\.bpmn$|/download|/files/|/static/|/language|\.csv$|/export|/attachments/")
SWEEP_USERS = [
    "admin",
    "owner",
    "group_secretary",
    "xinsheng_secretary",
    "xinsheng_laogan",
    "xinsheng_dept",
    "security_admin",
]


@pytest.fixture
def lived(app: Any, clock: Any) -> dict[str, Any]:
    """The built-in processes; January's monthly report started (one instance per branch), one
    branch's instance suspended, so the pages have something to show."""
    clock.set("2027-01-01T09:00:00+08:00")
    deploy_builtins(app)
    parent = start_by_timer(app, "monthly_report")
    api = Api(app.test_client())
    children = api.get("/api/v1/process-instances", "admin", query_string={"per_page": 50}).get_json()["items"]
    child_ids = sorted(c["id"] for c in children if c["id"] != parent)
    assert len(child_ids) == 9
    r = api.post(f"/api/v1/process-instances/{child_ids[-1]}/suspend", "admin", json={"reason": "核对"})
    assert r.status_code == 200, r.get_json()
    return {"parent": parent, "children": child_ids, "suspended": child_ids[-1], "api": api}


@pytest.fixture
def site(app: Any, browser: Any) -> Iterator[Any]:
    with LiveServer(app) as server:
        contexts: list[Any] = []

        def page(user: str, width: int = 1280, height: int = 900, phone: bool = False) -> Any:
            options: dict[str, Any] = {
                "viewport": {"width": width, "height": height},
                "locale": "zh-CN",
                "base_url": server.url,
                "timezone_id": "Asia/Shanghai",
            }
            if phone:
                options.update(PHONE)
            context = browser.new_context(**options)
            context.set_default_timeout(20_000)
            contexts.append(context)
            p = context.new_page()
            p.errors = []
            p.net = {"inflight": 0, "last": time.monotonic()}  # settle(): requests still under way
            p.on("pageerror", lambda exc: p.errors.append(str(exc)))
            p.on("request", lambda _r: _net(p, +1))
            p.on("requestfinished", lambda _r: _net(p, -1))
            p.on("requestfailed", lambda _r: _net(p, -1))
            p.on("dialog", lambda d: d.accept())
            sign_in(p, user)
            return p

        yield page
        for c in contexts:
            c.close()


def _net(page: Any, delta: int) -> None:
    page.net["inflight"] = max(0, page.net["inflight"] + delta)
    page.net["last"] = time.monotonic()


def settle(page: Any, quiet: float = 0.15) -> None:
    """Wait until no request has been under way for `quiet` seconds and no diagram is still
    loading (Playwright's networkidle waits a fixed 500 ms on every page: most of the sweep's time)."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if page.net["inflight"] == 0 and time.monotonic() - page.net["last"] >= quiet:
            break
        page.wait_for_timeout(50)
    page.wait_for_function("() => !document.querySelector('[data-state=loading]')", timeout=20_000)


# ---- the phone menu ----------------------------------------------------------------------------------


@pytest.mark.parametrize("width", [390, 360])
def test_phone_menu_reaches_every_item(lived, site, width):
    for user in ("admin",):  # the most menu items
        page = site(user, width, 780, phone=True)
        hrefs = page.eval_on_selector_all("#main-nav a", "els => els.map(e => e.getAttribute('href'))")
        assert len(hrefs) >= 5
        assert page.is_hidden("#main-nav") and page.is_visible("#menu-toggle")
        assert page.evaluate("() => document.documentElement.scrollWidth") <= width
        for i, href in enumerate(hrefs):
            if i:
                page.goto("/tasks")
            page.click("#menu-toggle")
            assert page.get_attribute("#menu-toggle", "aria-expanded") == "true"
            link = page.locator("#main-nav a").nth(i)
            link.scroll_into_view_if_needed()
            box = link.bounding_box()
            assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width, (href, box)
            link.click()
            page.wait_for_load_state()
            assert urlparse(page.url).path == urlparse(href).path, (href, page.url)
            assert page.evaluate("() => document.documentElement.scrollWidth") <= width, page.url
        # the tools (language, password, sign out) are in the menu too
        page.click("#menu-toggle")
        for tool in ("#change-password", "#logout"):
            box = page.locator(tool).bounding_box()
            assert box is not None and box["x"] + box["width"] <= width, tool
        assert page.errors == []


# ---- the instance diagram ----------------------------------------------------------------------------

OUTSIDE = """root => {
    const box = root.querySelector('.sanji-viewer-canvas').getBoundingClientRect();
    const out = [];
    for (const g of root.querySelectorAll('.sanji-viewer-canvas g.djs-element.djs-shape')) {
        const r = g.querySelector('.djs-visual').getBoundingClientRect();
        if (!r.width && !r.height) continue;
        if (r.left < box.left - 1 || r.top < box.top - 1 || r.right > box.right + 1 || r.bottom > box.bottom + 1)
            out.push(g.dataset.elementId);
    }
    const logo = root.querySelector('.bjs-powered-by');
    const l = logo && logo.getBoundingClientRect();
    const overLogo = !!l && l.right > box.left && l.left < box.right && l.bottom > box.top && l.top < box.bottom;
    const markers = ['completed', 'active', 'suspended', 'failed', 'highlight']
        .filter(m => root.querySelector(`.sanji-viewer-canvas .djs-element.sanji-${m}`));
    const keys = [...root.querySelectorAll('.sanji-legend .sanji-key')].map(k =>
        [...k.classList].find(c => c.startsWith('sanji-key-')).slice('sanji-key-'.length));
    return { out, shapes: root.querySelectorAll('.sanji-viewer-canvas g.djs-shape').length, hasLogo: !!logo,
             overLogo, markers, keys, caption: root.querySelector('[data-role=info]').innerText,
             drawn: [...root.querySelectorAll('.sanji-viewer-canvas g.djs-element')].map(g => g.dataset.elementId) };
}"""


def diagram(page: Any, selector: str) -> dict[str, Any]:
    settle(page)
    assert page.get_attribute(selector, "data-state") == "ready", page.inner_text(selector)[:300]
    return page.eval_on_selector(selector, OUTSIDE)


def check_fits(d: dict[str, Any]) -> None:
    assert d["shapes"] > 3
    assert d["out"] == [], f"{len(d['out'])} of {d['shapes']} shapes outside the box: {d['out']}"
    assert d["hasLogo"] and not d["overLogo"]
    assert set(d["markers"]) <= set(d["keys"]), (d["markers"], d["keys"])
    assert not re.search(r"[A-Za-z]{3,}", d["caption"]), d["caption"]


@pytest.mark.parametrize("width", [1366, 390])
def test_instance_diagrams_fit_their_box(lived, site, width):
    page = site("admin", width, 900, phone=width < 500)
    # the monthly report: its own pool only, not the branch and finding pools of the same file
    page.goto(f"/instances/{lived['parent']}")
    d = diagram(page, "#instance-diagram")
    check_fits(d)
    assert "write_report" not in d["drawn"] and "init_period" in d["drawn"]
    assert d["caption"].endswith("进行中"), d["caption"]
    # a branch's report: waiting at the commissioner's task
    page.goto(f"/instances/{lived['children'][0]}")
    d = diagram(page, "#instance-diagram")
    check_fits(d)
    assert "write_report" in d["drawn"] and "active" in d["markers"]
    # zoom in, then fit again: everything inside once more
    page.click("#instance-diagram [data-zoom=in]")
    page.click("#instance-diagram [data-zoom=fit]")
    check_fits(page.eval_on_selector("#instance-diagram", OUTSIDE))
    # a suspended instance: its step in the suspended colour, which the legend lists
    page.goto(f"/instances/{lived['suspended']}")
    d = diagram(page, "#instance-diagram")
    check_fits(d)
    assert "suspended" in d["markers"] and "active" not in d["markers"]
    assert d["caption"].endswith("已挂起"), d["caption"]
    assert page.errors == []


def test_task_page_diagram_lists_the_current_step_colour(lived, site):
    page = site("xinsheng_laogan")
    task = next(t for t in lived["api"].tasks("xinsheng_laogan") if t["spec_id"] == "write_report")
    page.goto(f"/tasks/{task['id']}")
    d = diagram(page, "#diagram")
    check_fits(d)
    assert "highlight" in d["markers"] and "highlight" in d["keys"]
    assert page.inner_text("#diagram .sanji-legend").count("当前任务") == 1


# ---- the start page ----------------------------------------------------------------------------------


def test_start_page_describes_and_confirms_a_fan_out(lived, site):
    page = site("group_secretary")
    page.goto("/start")
    card = page.locator("#start-monthly_report")
    text = card.inner_text()
    assert "每月1日 09:00 自动发起" in text and "书面报告" in text
    assert not IDENTIFIER.search(page.inner_text("main")), page.inner_text("main")
    before = len(
        lived["api"].get("/api/v1/process-instances", "admin", query_string={"per_page": 100}).get_json()["items"]
    )
    card.locator("button[type=submit]").click()
    page.wait_for_selector("#start-confirm")
    assert "9 个流程实例" in page.inner_text("#start-count") and "3 个单位" in page.inner_text("#start-count")
    assert "老干家委党总支" in page.inner_text("#start-created")
    # nothing was created by asking
    after = lived["api"].get("/api/v1/process-instances", "admin", query_string={"per_page": 100}).get_json()["items"]
    assert len(after) == before
    page.click("#confirm-start")
    page.wait_for_selector("#started-link")
    href = page.get_attribute("#started-link", "href")
    page.click("#started-link")
    page.wait_for_url(re.compile(r".*/instances/\d+$"))
    assert urlparse(page.url).path == href
    assert "月度书面报告" in page.inner_text("#instance-title")


# ---- the sweep ---------------------------------------------------------------------------------------


def findings(text: str) -> set[str]:
    return {m.group(0) for m in IDENTIFIER.finditer(text)} - USERNAMES


def pattern(path: str) -> str:
    """One visit per kind of page: /instances/N, /processes/K/heatmap…"""
    return re.sub(r"\d+", "N", re.sub(r"^/processes/[^/]+", "/processes/K", path))


@pytest.mark.parametrize("user", SWEEP_USERS)
def test_zh_page_sweep_finds_no_identifiers(lived, site, user):
    """Per user (one test each, so parallel runs spread them), up to 30 kinds of page reached by links."""
    found: dict[str, set[str]] = {}
    visited = 0
    for user in [user]:
        page = site(user)
        seen: set[str] = set()
        queue = [
            "/tasks",
            "/start",
            "/nope-no-such-page",
            "/processes/nope",
            "/processes/monthly_report_branch",
            f"/instances/{lived['children'][0]}",
        ]
        while queue and len(seen) < 30:  # 30 distinct page kinds per user keep CI short
            url = queue.pop(0)
            path = urlparse(url).path
            key = pattern(path) + "?" + "&".join(sorted(k.split("=")[0] for k in urlparse(url).query.split("&")))
            if key in seen or any(rx.search(path) for rx, _ in EXCLUDED):
                continue
            seen.add(key)
            page.goto(url)
            settle(page)
            visited += 1
            hits = findings(page.inner_text("body"))
            if hits:
                found[f"{user} {url}"] = hits
            for href in page.eval_on_selector_all("a[href]", "els => els.map(e => e.getAttribute('href'))"):
                u = urlparse(urljoin(page.url, href))
                if u.netloc == urlparse(page.url).netloc and not SKIP.search(u.path):
                    queue.append(u.path + (f"?{u.query}" if u.query else ""))
        assert page.errors == [], (user, page.errors)
    assert visited >= 10  # the start pages and what they link to (12 to 30 kinds per user when written)
    assert found == {}
