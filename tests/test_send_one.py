"""Sending one message by hand (SPEC §6–7): from a customer's page or a queue card, a template
previewed as it is picked (final text, parts, when it leaves), refused with the reason before
anything is queued, sent once whatever is clicked twice, and handed to the provider by a job."""

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.blacklist import services as blacklist
from app.extensions import db
from app.followups import services as followups
from app.models import (
    AuditAction,
    AuditEntry,
    BlacklistReason,
    Message,
    MessageKind,
    MessageStatus,
    Role,
    SendingSettings,
    SmsTemplate,
    utcnow,
)

HX = {"HX-Request": "true"}
ALL_DAY = {str(day): [["00:00", "24:00"]] for day in range(7)}


def set_windows(windows: dict, marketing_cap: int = 2, cap_days: int = 7) -> None:
    db.session.add(SendingSettings(id=1, windows=windows, marketing_cap=marketing_cap, cap_days=cap_days))
    db.session.commit()


@pytest.fixture
def all_day(app):
    """Windows open all day, every day: a service message leaves at once, whatever the clock says."""
    set_windows(ALL_DAY)


def make_template(
    name="发货通知", kind=MessageKind.SERVICE, body="{name}您好，您的订单已发货。", **values
) -> SmsTemplate:
    template = SmsTemplate(name=name, kind=kind, body=body, **values)
    db.session.add(template)
    db.session.commit()
    return template


def form_of(client, customer, **query) -> dict:
    """The send form as the page gives it: its one-time key and hidden fields."""
    page = client.get(f"/messages/customers/{customer.id}/send", query_string=query).text
    hidden = dict(re.findall(r'<input id="(\w+)" name="\w+" type="hidden" value="([^"]*)"', page))
    return {name: value for name, value in hidden.items() if name in ("key", "follow_up")}


def send(client, customer, template, **form):
    data = {**form_of(client, customer), "template": str(template.id), **form}
    return client.post(f"/messages/customers/{customer.id}/send", data=data)


def messages() -> list[Message]:
    db.session.expire_all()
    return list(db.session.scalars(select(Message).order_by(Message.id)))


def audits(action=AuditAction.SMS_SENT_BY_HAND) -> list[AuditEntry]:
    return list(db.session.scalars(select(AuditEntry).where(AuditEntry.action == action)))


# --- the form and its preview -------------------------------------------------------------------


def test_the_customer_page_links_to_the_send_form(client, login_as, make_customer):
    me = login_as(Role.SALES)
    customer = make_customer(owner=me)
    assert f'href="/messages/customers/{customer.id}/send"' in client.get(f"/customers/{customer.id}").text


def test_the_form_offers_templates_not_archived(client, login_as, make_customer, all_day):
    me = login_as(Role.SALES)
    customer = make_customer(owner=me)
    make_template("发货通知")
    make_template("旧模板", archived=True)
    page = client.get(f"/messages/customers/{customer.id}/send").text
    assert "发货通知 · Service" in page and "旧模板" not in page
    assert re.search(r'name="key" type="hidden" value="[0-9a-f]{32}"', page)


def test_the_preview_shows_the_final_text_its_parts_and_that_it_leaves_now(
    app, client, login_as, make_customer, all_day
):
    me = login_as(Role.SALES)
    customer = make_customer(owner=me, name="王小明")
    template = make_template()
    preview = client.get(f"/messages/customers/{customer.id}/send?template={template.id}", headers=HX).text
    assert preview.lstrip().startswith('<section id="preview"')
    shop = app.config["SHOP_NAME"]
    text = f"【{shop}】王小明您好，您的订单已发货。"
    assert text in preview
    assert f"{len(text)} characters" in preview and "billed as 1 part" in preview
    assert "Leaves now." in preview
    assert not messages()  # a preview writes nothing


def test_a_long_text_is_billed_in_parts(client, login_as, make_customer, all_day):
    me = login_as(Role.SALES)
    customer = make_customer(owner=me, name="李")
    template = make_template(body="{name}" + "好" * 80)
    preview = client.get(f"/messages/customers/{customer.id}/send?template={template.id}", headers=HX).text
    assert "billed as 2 parts" in preview


def test_the_preview_says_when_it_leaves_in_shop_time(client, login_as, make_customer):
    set_windows({str(day): [["03:00", "03:01"]] for day in range(7)})  # one minute a day
    me = login_as(Role.SALES)
    customer = make_customer(owner=me)
    template = make_template()
    preview = client.get(f"/messages/customers/{customer.id}/send?template={template.id}", headers=HX).text
    assert re.search(r"Leaves at \d{4}-\d\d-\d\d 03:00 ", preview), preview
    response = send(client, customer, template)
    assert response.status_code == 302
    [message] = messages()
    assert re.search(r"it leaves at \d{4}-\d\d-\d\d 03:00\.", client.get("/customers/").text)
    assert message.status == MessageStatus.SCHEDULED and message.due_at > utcnow()


# --- sending ----------------------------------------------------------------------------------


def test_sending_queues_one_message_and_the_job_hands_it_to_the_provider(
    app, client, login_as, make_customer, all_day, run_jobs
):
    me = login_as(Role.SALES)
    customer = make_customer(owner=me, name="王小明", phone="+8613812345678")
    template = make_template()
    response = send(client, customer, template)
    assert response.status_code == 302 and response.headers["Location"] == f"/customers/{customer.id}"
    assert "SMS to 王小明 queued" in client.get(response.headers["Location"]).text
    [message] = messages()
    assert message.status == MessageStatus.SCHEDULED
    assert message.body == f"【{app.config['SHOP_NAME']}】王小明您好，您的订单已发货。"
    assert (message.customer_id, message.template_id, message.created_by_id) == (customer.id, template.id, me.id)
    assert message.phone == "+8613812345678" and message.dedupe_key.startswith("one:")
    [entry] = audits()
    assert entry.customer_id == customer.id and entry.actor_id == me.id and entry.after["template"] == "发货通知"

    run_jobs()
    [message] = messages()
    assert message.status == MessageStatus.SENT
    assert message.sent_at is not None and message.provider == "log"
    # On the customer's timeline, with its state.
    timeline = client.get(f"/customers/{customer.id}").text
    assert "王小明您好，您的订单已发货。" in timeline


def test_the_same_form_sent_twice_sends_one_message(client, login_as, make_customer, all_day):
    me = login_as(Role.SALES)
    customer = make_customer(owner=me)
    template = make_template()
    form = {**form_of(client, customer), "template": str(template.id)}
    first = client.post(f"/messages/customers/{customer.id}/send", data=form)
    second = client.post(f"/messages/customers/{customer.id}/send", data=form)
    assert first.status_code == second.status_code == 302
    assert "This message was sent already: nothing more was queued." in client.get(second.headers["Location"]).text
    assert len(messages()) == 1 and len(audits()) == 1
    # A new form is a new message.
    assert send(client, customer, template).status_code == 302
    assert len(messages()) == 2


def test_a_form_without_its_key_is_refused(client, login_as, make_customer, all_day):
    me = login_as(Role.SALES)
    customer = make_customer(owner=me)
    template = make_template()
    response = client.post(f"/messages/customers/{customer.id}/send", data={"template": str(template.id), "key": "x"})
    assert response.status_code == 422 and "This form is out of date: open it again." in response.text
    assert not messages()


def test_a_template_must_be_chosen_and_not_archived(client, login_as, make_customer, all_day):
    me = login_as(Role.SALES)
    customer = make_customer(owner=me)
    make_template("发货通知")
    old = make_template("旧模板", archived=True)
    response = send(client, customer, old)
    assert response.status_code == 422 and "Not a valid choice" in response.text
    response = client.post(f"/messages/customers/{customer.id}/send", data={**form_of(client, customer)})
    assert response.status_code == 422 and "Choose a template." in response.text
    assert not messages()


# --- refused before anything is queued ----------------------------------------------------------


def refused(client, customer, template, words: str):
    preview = client.get(f"/messages/customers/{customer.id}/send?template={template.id}", headers=HX).text
    assert words in preview, preview
    response = send(client, customer, template)
    assert response.status_code == 422
    assert words in response.text and "Nothing was sent." in response.text
    assert not messages() and not audits()


def test_a_blacklisted_phone_is_refused(client, login_as, make_customer, all_day):
    me = login_as(Role.SALES)
    customer = make_customer(owner=me)
    blacklist.add(customer.phone, BlacklistReason.OPT_OUT, source="test", actor=None)
    db.session.commit()
    refused(client, customer, make_template(), "The phone is blacklisted: no SMS of any kind reaches it.")


def test_a_customer_without_a_phone_is_refused(client, login_as, make_customer, all_day):
    me = login_as(Role.SALES)
    customer = make_customer(owner=me, name="没电话", phone=None)
    refused(client, customer, make_template(), "没电话 has no valid mobile phone.")


def test_a_flagged_customer_gets_no_marketing_but_service_messages(client, login_as, make_customer, all_day):
    me = login_as(Role.SALES)
    customer = make_customer(owner=me, name="差评客", flag_bad_reviewer=True)
    marketing = make_template("上新", MessageKind.MARKETING, "{name}，新品上市")
    refused(client, customer, marketing, "差评客 is flagged")
    assert send(client, customer, make_template()).status_code == 302
    assert len(messages()) == 1


def test_marketing_over_the_frequency_cap_is_refused(client, login_as, make_customer, all_day):
    me = login_as(Role.SALES)
    customer = make_customer(owner=me, name="常客")
    for n in range(2):  # the cap: 2 marketing messages in 7 days
        db.session.add(
            Message(
                dedupe_key=f"earlier:{n}",
                customer_id=customer.id,
                kind=MessageKind.MARKETING,
                phone=customer.phone,
                body="【店】早先的",
                provider="log",
                status=MessageStatus.SENT,
                due_at=utcnow() - timedelta(days=n + 1),
                sent_at=utcnow() - timedelta(days=n + 1),
            )
        )
    db.session.commit()
    marketing = make_template("上新", MessageKind.MARKETING, "{name}，新品上市")
    preview = client.get(f"/messages/customers/{customer.id}/send?template={marketing.id}", headers=HX).text
    assert "常客 has had as many marketing messages as the frequency cap allows." in preview
    response = send(client, customer, marketing)
    assert response.status_code == 422 and "frequency cap" in response.text
    assert len(messages()) == 2 and not audits()


def test_a_missing_placeholder_value_is_refused_naming_it(client, login_as, make_customer, all_day):
    me = login_as(Role.SALES)
    customer = make_customer(owner=me, name="无券")
    template = make_template("优惠券", MessageKind.SERVICE, "{name}，您的优惠券{coupon}即将到期")
    refused(client, customer, template, "无券 has no value for {coupon}")


def test_a_template_not_approved_by_the_provider_is_refused(app, client, login_as, make_customer, all_day, monkeypatch):
    monkeypatch.setitem(app.config, "SMS_PROVIDER", "aliyun")
    me = login_as(Role.SALES)
    customer = make_customer(owner=me)
    template = make_template()
    refused(client, customer, template, "This template has no approved template code for aliyun")


# --- who may send, and from the queue -----------------------------------------------------------


def test_sales_cannot_send_to_another_persons_customer(client, login_as, make_user, make_customer, all_day):
    other = make_user(Role.SALES)
    theirs = make_customer(owner=other, name="别人的客户")
    template = make_template()
    login_as(Role.SALES)
    assert client.get(f"/messages/customers/{theirs.id}/send").status_code == 404
    assert client.get(f"/messages/customers/{theirs.id}/send?template={template.id}", headers=HX).status_code == 404
    response = client.post(
        f"/messages/customers/{theirs.id}/send", data={"template": str(template.id), "key": "a" * 32}
    )
    assert response.status_code == 404 and "别人的客户" not in response.text
    assert not messages()


def test_supervisors_send_to_anyone(client, login_as, make_user, make_customer, all_day):
    customer = make_customer(owner=make_user(Role.SALES))
    login_as(Role.SUPERVISOR)
    assert send(client, customer, make_template()).status_code == 302
    assert len(messages()) == 1


def test_from_a_queue_card(client, login_as, make_customer, all_day):
    me = login_as(Role.SALES)
    customer = make_customer(owner=me, name="卡片上的客户")
    task = followups.start(customer, now=utcnow() - timedelta(days=10))
    db.session.commit()
    template = make_template()
    queue = client.get("/follow-ups/").text
    link = f"/messages/customers/{customer.id}/send?follow_up={task.id}"
    assert f'href="{link}"' in queue
    form = form_of(client, customer, follow_up=task.id)
    assert form["follow_up"] == str(task.id)
    response = client.post(f"/messages/customers/{customer.id}/send", data={**form, "template": str(template.id)})
    assert response.status_code == 302 and response.headers["Location"] == "/follow-ups/"
    [message] = messages()
    assert message.follow_up_id == task.id


def test_a_follow_up_of_another_customer_is_not_found(client, login_as, make_customer, all_day):
    me = login_as(Role.SALES)
    customer = make_customer(owner=me)
    other = make_customer(owner=me)
    task = followups.start(other)
    db.session.commit()
    assert client.get(f"/messages/customers/{customer.id}/send?follow_up={task.id}").status_code == 404
    assert db.session.scalar(select(func.count()).select_from(Message)) == 0
