"""Login throttling without lockout (issue 13, item 7): failing clients are slowed down per account
and per address, the account's owner is never locked out, and unknown users cost an argon2
verification like known ones (no enumeration by timing; asserted by counting verifications)."""
from __future__ import annotations

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select, update

from app import create_app
from engine.org import auth
from engine.models import EventLog, User
from engine.org.throttle import client_key
from tests.web.conftest import Web

ATTACKER, OWNER = "198.51.100.66", "203.0.113.5"  # documentation addresses: nothing is sent anywhere


def client_at(app, address):
    c = app.test_client()
    c.environ_base["REMOTE_ADDR"] = address
    return c


def login(c, username, password="demo12345"):
    return c.post("/api/v1/auth/login", json={"username": username, "password": password})


def events(sessions, type_):
    with sessions() as s:
        return list(s.scalars(select(EventLog).where(EventLog.type == type_).order_by(EventLog.id)))


@pytest.mark.slow
def test_an_attacker_failing_from_one_address_does_not_lock_the_owner_out(app, clock, sessions):
    attacker, owner = client_at(app, ATTACKER), client_at(app, OWNER)
    failures, delays = 0, []
    while failures < 20:  # 20 real wrong passwords, waiting out each delay as an attacker would
        r = login(attacker, "xuchang_secretary", f"guess-{failures}")
        if r.status_code == 429:
            delays.append(int(r.headers["Retry-After"]))
            clock.advance(seconds=delays[-1])
            continue
        assert r.status_code == 401
        failures += 1
    # the owner, on their own device, at once: not subject to the attacker's delay (e3f511d: 429)
    r = login(owner, "xuchang_secretary")
    assert r.status_code == 200 and r.get_json()["password_change_required"] is False
    me = owner.get("/api/v1/me", headers={"Authorization": f"Bearer {r.get_json()['token']}"})
    assert me.get_json()["username"] == "xuchang_secretary"
    assert delays == [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300, 300, 300, 300, 300]  # grows, capped
    r = login(attacker, "xuchang_secretary")  # even the right password waits, from the failing client
    assert r.status_code == 429 and int(r.headers["Retry-After"]) == 300
    assert r.get_json()["details"]["reason"] == "account"
    # the owner's success does not reset the attacker's delay
    assert login(attacker, "xuchang_secretary", "guess-again").status_code == 429
    throttled = events(sessions, "login_throttled")
    assert len(throttled) == len(delays) + 2
    assert {e.actor for e in throttled} == {"xuchang_secretary"}
    assert {(e.payload["client"], e.payload["reason"]) for e in throttled} == {(ATTACKER, "account")}
    failed = events(sessions, "login_failed")
    assert len(failed) == 20 and {e.payload["client"] for e in failed} == {ATTACKER}


@pytest.mark.slow
def test_one_address_is_limited_across_accounts(app, clock, sessions):
    with sessions() as s:
        usernames = list(s.scalars(select(User.username).order_by(User.id)))[:28]
    sprayer = client_at(app, ATTACKER)
    statuses = [login(sprayer, name, "Summer2027!").status_code for name in usernames]
    assert statuses == [401] * 20 + [429] * 8  # one wrong password on 28 accounts: the 21st is refused
    r = login(sprayer, usernames[0])  # the right password too: the address is refused as a whole
    assert r.status_code == 429 and int(r.headers["Retry-After"]) == 900
    assert r.get_json()["details"]["reason"] == "client"
    assert {e.payload["reason"] for e in events(sessions, "login_throttled")} == {"client"}
    # the accounts themselves are not locked: their owners sign in from elsewhere
    assert login(client_at(app, OWNER), usernames[25]).status_code == 200
    # the window passes: the address may try again
    clock.advance(seconds=900)
    assert login(sprayer, usernames[27], "Autumn2027!").status_code == 401
    assert login(sprayer, usernames[27]).status_code == 200


def test_the_delay_ends_and_the_right_password_then_works_from_the_same_client(app, clock):
    c = client_at(app, OWNER)
    for i in range(5):
        assert login(c, "group_member", f"typo-{i}").status_code == 401
    r = login(c, "group_member")
    assert r.status_code == 429 and r.headers["Retry-After"] == "1"
    clock.advance(seconds=1)
    assert login(c, "group_member").status_code == 200
    # the success forgave this client: after its next typo it waits as for a first failure (1 s),
    # although the account has 6 failures (which would mean 2 s for a client that caused them)
    assert login(c, "group_member", "typo-again").status_code == 401
    r = login(c, "group_member")
    assert r.status_code == 429 and r.headers["Retry-After"] == "1"
    clock.advance(seconds=1)
    assert login(c, "group_member").status_code == 200


def test_the_owner_who_mistypes_while_under_attack_waits_a_second_not_the_attackers_delay(app, clock):
    attacker, owner = client_at(app, ATTACKER), client_at(app, OWNER)
    for i in range(12):  # 12 failures, each after the delay: the account's delay is now 2^(12-5) = 128 s
        if i:
            clock.advance(seconds=200)
        assert login(attacker, "group_deputy", f"g{i}").status_code == 401
    r = login(attacker, "group_deputy")
    assert r.status_code == 429 and r.headers["Retry-After"] == "128"
    assert login(owner, "group_deputy", "mistyped-1").status_code == 401
    r = login(owner, "group_deputy")
    assert r.status_code == 429 and r.headers["Retry-After"] == "1"
    clock.advance(seconds=1)
    assert login(owner, "group_deputy").status_code == 200
    r = login(attacker, "group_deputy")  # the owner's typo was the 13th failure: 256 s from it
    assert r.status_code == 429 and r.headers["Retry-After"] == "255"


def test_the_throttle_is_shared_by_workers(app, clean_db, settings, clock):
    """Two app instances (two gunicorn workers) see the same counts: they are in the database."""
    other_worker = create_app(settings, clock=clock, engine=clean_db)
    for i in range(5):
        assert login(client_at(app if i % 2 else other_worker, ATTACKER), "xinsheng_member", f"x{i}").status_code == 401
    assert login(client_at(other_worker, ATTACKER), "xinsheng_member").status_code == 429
    assert login(client_at(app, ATTACKER), "xinsheng_member").status_code == 429


@pytest.fixture
def verified(monkeypatch):
    """The hash of every argon2 verification a login makes (the real hasher still verifies)."""
    calls: list[str] = []

    class Counting(PasswordHasher):
        def verify(self, hash, password):  # noqa: A002 - argon2's own parameter name
            calls.append(hash if isinstance(hash, str) else hash.decode())
            return super().verify(hash, password)

    monkeypatch.setattr(auth, "_hasher", Counting())
    return calls


def test_unknown_and_inactive_users_cost_an_argon2_verification_like_known_ones(app, sessions, verified):
    c = client_at(app, OWNER)
    with sessions() as s:
        s.execute(update(User).where(User.username == "daizhuang_member").values(active=False))
        s.commit()
        known_hash = s.scalar(select(User.password_hash).where(User.username == "xuchang_member"))
        inactive_hash = s.scalar(select(User.password_hash).where(User.username == "daizhuang_member"))
    r = login(c, "no_such_person", "whatever-1")
    assert r.status_code == 401 and len(verified) == 1  # e3f511d verified nothing here (0.008 s vs 0.2–0.6 s)
    assert verified == [auth.dummy_hash()]
    assert auth.dummy_hash().startswith("$argon2id$") and auth.dummy_hash() != known_hash
    verified.clear()
    r = login(c, "daizhuang_member")  # inactive, even with the right password
    assert r.status_code == 401 and verified == [inactive_hash]
    verified.clear()
    r = login(c, "xuchang_member", "wrong-password")
    assert r.status_code == 401 and verified == [known_hash]
    # the same answer for all three: nothing tells them apart
    bodies = {login(client_at(app, f"192.0.2.{i}"), name, "nope-nope-1").get_data() for i, name in
              enumerate(("no_such_person", "daizhuang_member", "xuchang_member"))}
    assert len(bodies) == 1


def test_the_login_page_is_throttled_the_same_way(app, clock):
    web = Web(client_at(app, ATTACKER))
    web.get("/login")
    for _ in range(5):
        assert web.post("/login", {"username": "owner", "password": "wrong-password"}).status_code == 401
    r = web.post("/login", {"username": "owner", "password": "demo12345"})
    assert r.status_code == 429 and r.headers["Retry-After"] == "1"
    assert "登录失败次数过多，请 1 分钟后再试" in r.get_data(as_text=True)
    assert Web(client_at(app, OWNER)).login("owner").headers["Location"] == "/tasks"


@pytest.mark.parametrize("address, key", [
    ("203.0.113.5", "203.0.113.5"),
    ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),  # one host usually holds a whole /64
    ("2001:db8:1:2:ffff::1", "2001:db8:1:2::/64"),
    ("::ffff:203.0.113.5", "203.0.113.5"),
    (None, "unknown"),
    ("not an address", "not an address"),
])
def test_client_key(address, key):
    assert client_key(address) == key


def test_concurrent_failures_are_all_counted(live_server, sessions):
    """Wrong passwords sent at once through a threaded server (as by several workers): every
    failure is counted, none is lost or answered 5xx (atomic upserts of the counters)."""
    from concurrent.futures import ThreadPoolExecutor

    import requests

    from engine.models import LoginCounter

    def attempt(i):
        return requests.post(f"{live_server.url}/api/v1/auth/login", timeout=60,
                             json={"username": "xinsheng_standing", "password": f"wrong-{i}"}).status_code

    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(attempt, range(16)))
    assert all(s in (401, 429) for s in statuses), statuses  # which ones wait depends on the interleaving
    with sessions() as s:
        account = s.get(LoginCounter, ("account", "xinsheng_standing"))
        failed = s.scalars(select(EventLog).where(EventLog.type == "login_failed")).all()
    assert account.failures == statuses.count(401) == len(failed) >= 5
