"""One record of each kind that has an official document, with the Chinese texts people write."""
from __future__ import annotations

from typing import Any

AT = "2027-03-05T02:00:00+00:00"
MONTHLY: dict[str, Any] = {
    "year": 2027, "month": 2, "period": "2027-02", "branch_id": "xinsheng-laogan", "branch_name": "老干家委党总支",
    "unit_id": "xinsheng", "summary": "本月开展廉洁谈话三次，检查工资公示一次。", "submitted_at": AT,
    "resubmitted_at": AT, "due_date": "2027-03-05", "on_time": True, "status": "reviewed", "return_count": 0,
    "review_opinion": "同意，按即知即改处置。",
    "findings": [{"no": 1, "title": "工资公示不及时", "facts": "二月奖金分配未按时公示。", "person": "张某",
                  "area": "pay", "classification": "immediate_fix", "state": "fixing"}]}
QUARTERLY: dict[str, Any] = {
    "year": 2027, "quarter": 1, "unit_id": "xuchang", "unit_name": "许厂煤矿",
    "statistics": {"reports_expected": 9, "reports_submitted": 9, "reports_on_time": 8, "findings_total": 3,
                   "findings_by_classification": {"immediate_fix": 2, "tendency": 1}, "findings_unclassified": 0,
                   "findings_open": 1, "adhoc_reports": 1, "adhoc_by_severity": {"major": 1}},
    "branch_overview": [{"branch_id": "xuchang-zongcai", "branch_name": "综采一区党支部",
                         "months_reported": ["1月", "2月", "3月"], "findings": 2}],
    "monthly_overview": "各支部均按要求报送。", "findings_overview": "问题均已分类处置。", "work_summary": "联动机制运行顺畅。",
    "problems": "个别支部报告内容较简单。", "next_plan": "加强业务培训。", "submitted_at": AT, "on_time": True,
    "status": "opinion_issued", "group_opinion": "报告内容翔实，请继续压实责任。", "acknowledged_at": None}
ANALYSIS: dict[str, Any] = {"year": 2027, "quarter": 1, "analysis": "各单位联动工作总体平稳。",
                            "daily_knowledge": "日常监督中未发现重大问题。", "issued_at": AT,
                            "units": ["xinsheng", "xuchang"]}
COMMENDATION: dict[str, Any] = {
    "year": 2026, "username": "xinsheng_laogan", "name": "李明", "role": "commissioner", "role_name": "纪律检查委员",
    "node_id": "xinsheng-laogan", "node_name": "老干家委党总支", "unit_id": "xinsheng", "unit_name": "新升实业",
    "deeds": "全年按期报送书面报告，发现并推动整改问题五个。", "bulletin_no": "淄矿纪〔2027〕1号",
    "bulletin_date": "2027-01-20", "published_at": AT}
FORWARDING: dict[str, Any] = {
    "doc_number": "淄矿纪发〔2027〕2号", "doc_title": "关于加强春节期间廉洁自律的通知", "doc_issuer": "集团公司纪委",
    "doc_date": "2027-01-10", "doc_text": "各单位要严格落实中央八项规定精神。", "doc_attachment": None,
    "cover_number": "新升纪〔2027〕1号", "cover_note": "请各支部传达到每名党员。", "unit_id": "xinsheng",
    "unit_name": "新升实业", "ack_deadline": "2027-01-20", "sent_at": AT,
    "recipients": [{"branch_id": "xinsheng-laogan", "name": "老干家委党总支"},
                   {"branch_id": "xinsheng-wuye", "name": "物业服务中心党支部"}],
    "acknowledged": [{"forwarding_key": "f1", "branch_id": "xinsheng-laogan", "branch_name": "老干家委党总支",
                      "receiver": "李明", "receipt_date": "2027-01-12", "implementation_note": "已组织学习。",
                      "acknowledged_at": AT}],
    "pending": ["xinsheng-wuye"], "status": "待签收"}
CLUE: dict[str, Any] = {
    "clue_no": "新升线索〔2027〕1号", "title": "某班组长收受礼金", "unit_id": "xinsheng", "unit_name": "新升实业",
    "branch_id": "xinsheng-wuye", "branch_name": "物业服务中心党支部", "source": "branch_report", "origin": "支部报告",
    "person": "王某", "facts": "春节期间收受职工礼金。", "reporter": None, "registered_at": AT, "status": "谈话函询",
    "level": "一般", "disposal": "谈话函询", "reported_to_group": True,
    "group_ack": {"at": AT, "instructions": "依规处置。"}, "outcome": None,
    "history": [{"step": "登记", "at": AT, "note": "支部报告"}, {"step": "研判处置方式", "at": AT, "level": "一般",
                                                              "disposal": "谈话函询"}]}

# kind -> (owning node, unit, confidential, data, title)
RECORDS: dict[str, tuple[str, str | None, bool, dict[str, Any], str]] = {
    "monthly_report": ("xinsheng-laogan", "xinsheng", False, MONTHLY, "老干家委党总支关于2027年2月纪检监督工作情况的书面报告"),
    "quarterly_report": ("xuchang", "xuchang", False, QUARTERLY, "许厂煤矿关于2027年第一季度三级联动工作情况的报告"),
    "quarterly_analysis": ("group", None, False, ANALYSIS, "关于2027年第一季度各单位三级联动工作报告的综合研判意见"),
    "commendation": ("xinsheng-laogan", "xinsheng", False, COMMENDATION,
                     "关于对2026年度三级联动工作表现突出的纪检干部予以通报表彰的决定"),
    "forwarding": ("xinsheng", "xinsheng", False, FORWARDING, "关于转发《关于加强春节期间廉洁自律的通知》的通知"),
    "clue": ("xinsheng", "xinsheng", True, CLUE, "问题线索处置审批表"),
}
