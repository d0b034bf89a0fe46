"""In Chromium (issue 16): a branch commissioner attaches a photo to a finding of the monthly report
(uploaded at once with a progress bar, a second file removed before submitting), submits, and the
unit committee sees it on the review task and the instance page and downloads it."""
from __future__ import annotations

import re

import pytest

from tests.platform import attachment_files as F
from tests.procedures.conftest import PROCESSES
from tests.web.in_browser.conftest import shot, sign_in

pytestmark = pytest.mark.browser


def test_commissioner_attaches_evidence_and_the_unit_committee_downloads_it(pages, api, clock):
    clock.set("2027-03-05T09:00:00+08:00")
    assert api.deploy(PROCESSES / "monthly_report.bpmn").status_code == 201
    r = api.post("/api/v1/process-definitions/monthly_report/start", "group_deputy",
                 json={"variables": {"period": "2027-02"}})
    assert r.status_code == 201, r.get_json()
    [write] = api.tasks("xinsheng_laogan", status="open")

    page = pages.new()
    sign_in(page, "xinsheng_laogan")
    page.goto(f"/tasks/{write['id']}")
    page.fill("#f-summary", "本月对井下作业区开展了两次现场监督")
    page.fill("[name='findings/0/title']", "班组考勤表存在代签")
    page.fill("[name='findings/0/facts']", "2月8日夜班考勤表两处代签")
    page.select_option("[name='findings/0/area']", "micro_corruption")
    field = page.locator("[data-attachment-field='findings/0/evidence']")
    field.locator("input[type=file]").set_input_files([
        {"name": "现场照片.png", "mimeType": "image/png", "buffer": F.PNG},
        {"name": "多余的说明.pdf", "mimeType": "application/pdf", "buffer": F.PDF}])
    done = field.locator("li[data-attachment-id]")
    done.nth(1).wait_for()
    assert field.locator("[data-uploading]").count() == 0
    assert done.count() == 2 and "现场照片.png" in done.nth(0).inner_text()
    shot(page, "attach-01-uploaded")
    field.locator("li", has_text="多余的说明.pdf").locator("[data-remove-file]").click()
    assert field.locator("li[data-attachment-id]").count() == 1
    photo_id = field.locator("li[data-attachment-id]").get_attribute("data-attachment-id")
    page.click("#submit")
    page.wait_for_url(re.compile(r".*/tasks$"))

    # the unit committee: the photo in the earlier input of its review, and on the instance page
    [review] = [t for t in api.tasks("xinsheng_secretary", status="open") if t["instance_id"] == write["instance_id"]]
    other = pages.new()
    sign_in(other, "xinsheng_secretary")
    other.goto(f"/tasks/{review['id']}")
    assert other.locator(f"#previous-input [data-attachment-id='{photo_id}']").count() == 1
    assert "多余的说明.pdf" not in other.content()
    other.goto(f"/instances/{write['instance_id']}")
    listed = other.locator(f"#instance-attachments li[data-attachment-id='{photo_id}']")
    assert "现场照片.png" in listed.inner_text() and "xinsheng_laogan" in listed.inner_text()
    assert listed.locator("img").get_attribute("src") == f"/attachments/{photo_id}/view"  # the preview
    shot(other, "attach-02-instance")
    with other.expect_download() as info:
        listed.locator("[download]").click()
    download = info.value
    assert download.suggested_filename == "现场照片.png"
    with open(download.path(), "rb") as f:
        assert f.read() == F.PNG
