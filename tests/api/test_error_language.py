"""API errors in the reader's language (issue 14): zh by default, English on Accept-Language: en
or when the web session chose English; `code`, `template` and `params` never change."""
from __future__ import annotations

from typing import Any

from tests.conftest import Api


def zh_api(client: Any) -> Api:
    fresh = client.application.test_client()  # no Accept-Language: the default language
    return Api(fresh, language=None)


def test_a_message_with_params_is_chinese_by_default_and_english_on_request(client, api):
    r = zh_api(client).get("/api/v1/bulletin/999999", "xinsheng_laogan")
    assert r.status_code == 404
    body = r.get_json()
    assert body == {"error": "not_found", "code": "not_found", "template": "bulletin post {post_id} does not exist",
                    "message": "公告 999999 不存在", "params": {"post_id": 999999}, "details": None}
    r = api.get("/api/v1/bulletin/999999", "xinsheng_laogan")  # the test client sends Accept-Language: en
    assert r.get_json()["message"] == "bulletin post 999999 does not exist"
    r = zh_api(client).get("/api/v1/bulletin/999999", "xinsheng_laogan", headers={"Accept-Language": "en-US,en;q=0.9"})
    assert r.get_json()["message"] == "bulletin post 999999 does not exist"
    r = zh_api(client).get("/api/v1/bulletin/999999", "xinsheng_laogan", headers={"Accept-Language": "zh-CN"})
    assert r.get_json()["message"] == "公告 999999 不存在"


def test_field_errors_carry_field_code_params_and_a_chinese_message(client):
    r = zh_api(client).post("/api/v1/bulletin", "xinsheng_secretary", json={"kind": "notice", "title": "", "body": "b"})
    assert r.status_code == 422
    body = r.get_json()
    assert body["error"] == "invalid" and body["template"] == "required text of at most {limit} characters"
    assert body["message"] == "title: 必填，最多 200 个字。" and body["params"] == {"limit": 200}
    assert body["details"] == [{"field": "title", "code": "invalid", "params": {"limit": 200},
                                "message": "必填，最多 200 个字。"}]


def test_english_chosen_on_the_pages_answers_the_api_in_english(client):
    from tests.web.conftest import Web

    web = Web(client.application.test_client())
    web.login("xinsheng_laogan")
    assert web.post("/lang", {"lang": "en"}).status_code == 302
    r = web.client.get("/api/v1/bulletin/999999")
    assert r.status_code == 404 and r.get_json()["message"] == "bulletin post 999999 does not exist"


def test_werkzeug_refusals_are_catalog_messages(client):
    r = client.application.test_client().get("/api/v1/no-such-thing")
    assert r.status_code == 404
    assert r.get_json()["message"] == "服务器上没有所请求的地址"
    assert r.get_json()["template"] == "the requested URL was not found on the server"
