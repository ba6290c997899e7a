"""SMS templates (SPEC §7): the list, the editor and its live preview, archiving."""

import html
import re

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import AuditAction, AuditEntry, Role, SmsTemplate

HX = {"HX-Request": "true"}
GOOD = {
    "name": "双十一预热",
    "kind": "marketing",
    "body": "{name}您好，{coupon}已到账，{expires}前有效。",
    "default_coupon": "满100减10券",
    "default_expires": "11月11日",
}


@pytest.fixture(autouse=True)
def shop(app, monkeypatch):
    monkeypatch.setitem(app.config, "SHOP_NAME", "示例小店")
    monkeypatch.setitem(app.config, "SMS_PROVIDER", "log")


@pytest.fixture
def supervisor(login_as):
    return login_as(Role.SUPERVISOR)


def _template(name: str) -> SmsTemplate:
    db.session.expire_all()
    return db.session.scalar(select(SmsTemplate).where(SmsTemplate.name == name))


def _audits() -> list[AuditEntry]:
    db.session.expire_all()
    return list(
        db.session.scalars(
            select(AuditEntry).where(AuditEntry.action == AuditAction.SMS_TEMPLATE_SAVED).order_by(AuditEntry.id)
        )
    )


def _error(page: str, field: str) -> str:
    """The error shown under `field` (the form macro's <small id="<field>-error">)."""
    found = re.search(rf'<small class="field-error" id="{field}-error">(.*?)</small>', page, re.S)
    return html.unescape(found.group(1)) if found else ""


def _make(**values) -> SmsTemplate:
    template = SmsTemplate(
        name=values.pop("name", "发货通知"),
        kind=values.pop("kind", "service"),
        body=values.pop("body", "{name}您好，您的订单{order_no}已发货。"),
        defaults=values.pop("defaults", {}),
        provider_codes=values.pop("provider_codes", {}),
        **values,
    )
    db.session.add(template)
    db.session.commit()
    return template


# --- creating and editing -----------------------------------------------------------------------


def test_a_supervisor_creates_a_template_and_finds_it_in_the_list(client, supervisor):
    page = client.get("/messages/templates/new").text
    assert 'hx-trigger="input changed delay:300ms"' in page and 'hx-post="/messages/templates/preview"' in page
    response = client.post(
        "/messages/templates/new",
        data={**GOOD, "code_aliyun": "SMS_123456", "variables_aliyun": "user=name\n\ncode = {coupon}\n"},
    )
    assert response.status_code == 302 and response.headers["Location"] == "/messages/templates/"
    template = _template("双十一预热")
    assert template.kind == "marketing" and template.body == GOOD["body"]
    assert template.defaults == {"coupon": "满100减10券", "expires": "11月11日"}
    assert template.provider_codes == {
        "aliyun": {"code": "SMS_123456", "variables": {"user": "name", "code": "coupon"}}
    }
    assert template.created_by_id == supervisor.id and not template.archived

    listing = client.get("/messages/templates/").text
    assert "Template 双十一预热 saved." in listing
    assert "双十一预热" in listing and "Marketing" in listing and "SMS_123456" in listing
    assert "1 part" in listing

    (entry,) = _audits()
    assert entry.subject == f"sms_template:{template.id}" and entry.actor_id == supervisor.id
    assert entry.before is None and entry.after["name"] == "双十一预热"


def test_editing_shows_the_stored_template_and_logs_only_what_changed(client, supervisor):
    template = _make(
        defaults={"order_no": "—"},
        provider_codes={"aliyun": {"code": "SMS_9", "variables": {"no": "order_no"}}},
    )
    page = client.get(f"/messages/templates/{template.id}/edit").text
    assert "发货通知" in page and "SMS_9" in page and "no=order_no" in page
    assert "【示例小店】张三您好，您的订单2026112812345678已发货。" in page  # the sample customer

    data = {
        "name": "发货通知",
        "kind": "service",
        "body": "{name}，订单{order_no}已发出。",
        "default_order_no": "—",
        "code_aliyun": "SMS_9",
        "variables_aliyun": "no=order_no",
    }
    assert client.post(f"/messages/templates/{template.id}/edit", data=data).status_code == 302
    assert _template("发货通知").body == "{name}，订单{order_no}已发出。"
    (entry,) = _audits()
    assert entry.before == {"body": "{name}您好，您的订单{order_no}已发货。"}
    assert entry.after == {"body": "{name}，订单{order_no}已发出。"}
    # Saving it unchanged records nothing.
    assert client.post(f"/messages/templates/{template.id}/edit", data=data).status_code == 302
    assert len(_audits()) == 1


def test_a_name_in_use_is_refused_by_the_name_field(client, supervisor):
    _make(name="双十一预热")
    other = _make(name="另一个")
    response = client.post("/messages/templates/new", data=GOOD)
    assert response.status_code == 422
    assert "Another template has this name." in _error(response.text, "name")
    response = client.post(f"/messages/templates/{other.id}/edit", data=GOOD)
    assert response.status_code == 422 and "Another template has this name." in _error(response.text, "name")
    assert _template("另一个") is not None and _audits() == []


def test_an_unknown_placeholder_is_refused_with_the_known_ones(client, supervisor):
    response = client.post("/messages/templates/new", data={**GOOD, "body": "{Name}您好，{coupon} {姓名}"})
    assert response.status_code == 422
    error = _error(response.text, "body")
    assert "Unknown placeholder {Name}, {姓名}." in error
    assert "{name}, {nickname}, {shop}, {coupon}, {expires}, {link}, {order_no}" in error
    assert _template("双十一预热") is None


def test_the_signature_is_not_written_in_the_text(client, supervisor):
    response = client.post("/messages/templates/new", data={**GOOD, "body": "【示例小店】{name}您好"})
    assert response.status_code == 422
    assert "it is added when the message is sent" in _error(response.text, "body")


def test_a_placeholder_no_customer_has_needs_its_value_in_the_template(client, supervisor):
    response = client.post("/messages/templates/new", data={**GOOD, "default_coupon": " "})
    assert response.status_code == 422
    assert "The text uses {coupon}: give its value here." in _error(response.text, "default_coupon")
    assert _error(response.text, "default_expires") == ""


@pytest.mark.parametrize(
    "fields, field, message",
    [
        ({"code_aliyun": "SMS_1", "variables_aliyun": "user"}, "variables_aliyun", "Line 1: write it as"),
        ({"code_aliyun": "SMS_1", "variables_aliyun": "user=name\n1x=coupon"}, "variables_aliyun", "Line 2: write"),
        ({"code_aliyun": "SMS_1", "variables_aliyun": "user=姓名"}, "variables_aliyun", "姓名 is no placeholder"),
        ({"code_aliyun": "SMS_1", "variables_aliyun": "a=name\na=coupon"}, "variables_aliyun", "given twice"),
        ({"variables_twilio": "user=name"}, "code_twilio", "Give the approved template's code"),
        ({"code_log": "SMS 1"}, "code_log", "Letters, digits, dash and underscore only."),
    ],
)
def test_provider_codes_and_variables_are_checked_by_their_fields(client, supervisor, fields, field, message):
    response = client.post("/messages/templates/new", data={**GOOD, **fields})
    assert response.status_code == 422
    assert message in _error(response.text, field)
    assert '<details class="more-fields" open>' in response.text  # the section is open to show it


# --- the live preview ---------------------------------------------------------------------------


def _preview(client, **fields) -> str:
    response = client.post("/messages/templates/preview", data={**GOOD, **fields}, headers=HX)
    assert response.status_code == 200
    return response.text


def test_the_preview_shows_the_final_text_for_the_sample_customer_and_its_parts(client, supervisor, app):
    text = _preview(client)
    assert "【示例小店】张三您好，满100减10券已到账，11月11日前有效。拒收请回复R" in text
    assert "<h1>" not in text  # the block alone
    counter = re.search(r'<p id="sms-count" hx-swap-oob="innerHTML">(.*?)</p>', text, re.S).group(1)
    assert "39 characters" in counter and "1 part" in counter and "Too long" not in counter
    # A service message gets no opt-out text.
    assert "拒收请回复R" not in _preview(client, kind="service")


def test_the_page_has_a_polite_counter_that_the_preview_updates_in_place(client, supervisor):
    page = client.get("/messages/templates/new").text
    assert re.search(r'<p id="sms-count" class="sms-count" aria-live="polite">', page)
    assert 'hx-target="#preview"' in page and '<div id="preview">' in page


@pytest.mark.parametrize("total, parts", [(70, "1 part"), (71, "2 parts"), (160, "3 parts")])
def test_the_preview_counts_parts_under_the_mainland_rule(client, supervisor, total, parts):
    # 【示例小店】 (6) + 张三 (2) + the rest + 拒收请回复R (6)
    text = _preview(client, body="{name}" + "好" * (total - 14))
    assert f"{total} characters" in text and parts in text


def test_the_preview_says_too_long_past_the_maximum(client, supervisor):
    text = _preview(client, body="好" * 489)  # 6 + 489 + 6 = 501
    assert "501 characters" in text and "8 parts" in text
    assert '<strong class="too-long">Too long: at most 500 characters.</strong>' in text


def test_the_preview_counts_as_twilio_does_when_twilio_sends(client, supervisor, app, monkeypatch):
    monkeypatch.setitem(app.config, "SMS_PROVIDER", "twilio")
    text = _preview(client, kind="marketing", body="Hi {name}")
    assert "Reply STOP to unsubscribe" in text and "UCS-2" in text  # 【】 and 张三 are not GSM-7
    assert "GSM-7: up to 160" in client.get("/messages/templates/new").text


def test_the_preview_says_what_keeps_it_from_being_filled(client, supervisor):
    assert "Unknown placeholder {foo}." in _preview(client, body="{name} {foo}")
    text = _preview(client, default_coupon="")
    assert "The text uses {coupon}: give its value below." in text
    assert "Not counted until the text can be filled." in text


# --- archiving ----------------------------------------------------------------------------------


def test_archiving_keeps_the_template_out_of_the_list_and_restoring_brings_it_back(client, supervisor):
    template = _make(name="旧模板")
    response = client.post(f"/messages/templates/{template.id}/archive", data={"archived": "1"})
    assert response.status_code == 302
    assert _template("旧模板").archived
    listing = client.get("/messages/templates/").text
    assert "Template 旧模板 archived." in listing and "1 archived template" in listing
    assert "No templates yet." in listing

    client.post(f"/messages/templates/{template.id}/archive", data={"archived": "0"})
    assert not _template("旧模板").archived
    assert [(e.before, e.after) for e in _audits()] == [
        ({"archived": False}, {"archived": True}),
        ({"archived": True}, {"archived": False}),
    ]


# --- who may ------------------------------------------------------------------------------------


def test_sales_may_not_see_or_change_templates(client, login_as):
    template = _make()
    login_as(Role.SALES)
    for method, path in [
        ("GET", "/messages/templates/"),
        ("GET", "/messages/templates/new"),
        ("POST", "/messages/templates/new"),
        ("POST", "/messages/templates/preview"),
        ("GET", f"/messages/templates/{template.id}/edit"),
        ("POST", f"/messages/templates/{template.id}/edit"),
        ("POST", f"/messages/templates/{template.id}/archive"),
    ]:
        assert client.open(path, method=method, data=GOOD).status_code == 403, path
    assert "SMS templates" not in client.get("/messages/").text  # not among the SMS pages' tabs
    assert not _template("发货通知").archived and _template("双十一预热") is None


def test_an_admin_may_edit_templates(client, login_as):
    login_as(Role.ADMIN)
    assert client.post("/messages/templates/new", data=GOOD).status_code == 302
    assert 'href="/messages/templates/"' in client.get("/messages/").text  # among the SMS pages' tabs
