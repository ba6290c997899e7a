"""The message log (SPEC §7): every message with its state, searched and filtered; each person sees
the messages of the customers they see; an admin settles a message whose outcome is unknown."""

from datetime import datetime, timedelta
from itertools import count

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.followups import services as followups
from app.models import (
    AuditAction,
    AuditEntry,
    Message,
    MessageKind,
    MessageStatus,
    Role,
    SkipReason,
    SmsReply,
    SmsTemplate,
    utcnow,
)
from app.shop_calendar import shop_time_to_utc
from app.templating import localtime

_keys = count(1)


@pytest.fixture
def make_message():
    def make(customer=None, body="【小店】您好", status=MessageStatus.SENT, **values) -> Message:
        values.setdefault("phone", customer.phone if customer else "+8613700000000")
        values.setdefault("due_at", utcnow() - timedelta(hours=1))
        if status in (MessageStatus.SENT, MessageStatus.DELIVERED, MessageStatus.FAILED):
            values.setdefault("sent_at", values["due_at"])
        message = Message(
            dedupe_key=f"test:{next(_keys)}",
            customer_id=customer.id if customer else None,
            kind=values.pop("kind", MessageKind.SERVICE),
            body=body,
            provider="log",
            status=status,
            **values,
        )
        db.session.add(message)
        db.session.commit()
        return message

    return make


@pytest.fixture
def template():
    t = SmsTemplate(name="发货通知", kind=MessageKind.SERVICE, body="您的订单已发货")
    db.session.add(t)
    db.session.commit()
    return t


def _rows(text: str) -> int:
    return text.count('<tr id="message-')


def test_the_log_shows_each_state_in_words(client, login_as, make_customer, make_message, template):
    login_as(Role.SUPERVISOR)
    customer = make_customer(name="王小明")
    make_message(customer, "【小店】已发货", MessageStatus.DELIVERED, template_id=template.id)
    make_message(customer, "【小店】排队中", MessageStatus.SCHEDULED)
    make_message(customer, "【小店】被拦下", MessageStatus.SKIPPED, skip_reason=SkipReason.BLACKLISTED)
    make_message(customer, "【小店】没送到", MessageStatus.FAILED, error="number does not exist")
    make_message(customer, "【小店】不知道", MessageStatus.UNKNOWN)
    make_message(None, "【小店】无主", MessageStatus.SENT)
    text = client.get("/messages/").text
    assert "6 messages" in text
    for words in ("Delivered", "Scheduled", "Skipped", "Blacklisted", "Failed", "number does not exist"):
        assert words in text
    assert "Outcome unknown" in text and "发货通知" in text and "王小明" in text and "【小店】无主" in text


def test_times_are_shown_in_shop_time(client, login_as, make_customer, make_message):
    login_as(Role.SUPERVISOR)
    sent = shop_time_to_utc(datetime(2026, 3, 5, 10, 15))
    make_message(make_customer(), due_at=sent, sent_at=sent)
    assert "2026-03-05 10:15" in client.get("/messages/").text


def test_search_by_phone_fragment_and_customer_name(client, login_as, make_customer, make_message):
    login_as(Role.SUPERVISOR)
    make_message(make_customer(name="李雷", phone="+8613811112222"), "给李雷")
    make_message(make_customer(name="韩梅梅", phone="+8613933334444"), "给韩梅梅")
    for query, found, not_found in (
        ("1111", "给李雷", "给韩梅梅"),
        ("139 3333", "给韩梅梅", "给李雷"),
        ("梅梅", "给韩梅梅", "给李雷"),
        ("李", "给李雷", "给韩梅梅"),
    ):
        text = client.get("/messages/", query_string={"q": query}).text
        assert found in text and not_found not in text, query
    # Search as you type: the results block alone.
    fragment = client.get("/messages/?q=1111", headers={"HX-Request": "true"}).text
    assert fragment.lstrip().startswith('<section id="results"') and "给李雷" in fragment
    assert "<html" not in fragment
    assert "No message matches" in client.get("/messages/?q=%25").text  # a LIKE wildcard is a character


def test_filters_by_template_state_and_days(client, login_as, make_customer, make_message, template):
    login_as(Role.ADMIN)
    customer = make_customer()
    march = shop_time_to_utc(datetime(2026, 3, 5, 23, 30))
    april = shop_time_to_utc(datetime(2026, 4, 1, 0, 30))  # still March 31 in UTC: days are the shop's
    make_message(customer, "三月的", template_id=template.id, due_at=march, sent_at=march)
    make_message(customer, "四月的", MessageStatus.FAILED, due_at=april, sent_at=april)

    text = client.get(f"/messages/?template={template.id}").text
    assert "三月的" in text and "四月的" not in text
    text = client.get("/messages/?status=failed").text
    assert "四月的" in text and "三月的" not in text
    text = client.get("/messages/?from=2026-03-05&to=2026-03-05").text
    assert "三月的" in text and "四月的" not in text
    text = client.get("/messages/?from=2026-04-01").text
    assert "四月的" in text and "三月的" not in text
    # A day out of range or the wrong way round is said next to its field and left out.
    text = client.get("/messages/?from=2026-04-01&to=2026-03-01").text
    assert "Choose a day on or after the first one." in text and "四月的" in text
    assert "Choose a day from 1900-01-01" in client.get("/messages/?from=0001-01-01").text


def test_the_log_is_paged(app, client, login_as, make_customer, make_message):
    login_as(Role.SUPERVISOR)
    customer = make_customer()
    for n in range(app.config["PAGE_SIZE"] + 3):
        make_message(customer, f"第{n}条")
    first = client.get("/messages/").text
    assert _rows(first) == app.config["PAGE_SIZE"] and "Page 1 of 2" in first
    second = client.get("/messages/?page=2").text
    assert _rows(second) == 3 and "第0条" in second


def test_sales_see_only_the_messages_of_their_customers(client, login_as, make_user, make_customer, make_message):
    other = make_user(Role.SALES)
    theirs = make_customer(owner=other, name="别人的客户", phone="+8613900000001")
    make_message(theirs, "别人的短信")
    make_message(make_customer(name="无人认领"), "无人认领的短信")
    make_message(None, "没有客户的短信")
    me = login_as(Role.SALES)
    make_message(make_customer(owner=me, name="我的客户"), "我的短信")
    for query in ("", "?q=13900000001", "?q=别人", "?status=sent", f"?owner={other.id}"):
        text = client.get("/messages/" + query).text
        assert "别人的短信" not in text and "无人认领的短信" not in text and "没有客户的短信" not in text, query
    assert "我的短信" in client.get("/messages/").text
    assert "1 message" in client.get("/messages/").text


def test_supervisors_see_every_message(client, login_as, make_user, make_customer, make_message):
    make_message(make_customer(owner=make_user(Role.SALES)), "别人的短信")
    make_message(None, "没有客户的短信")
    login_as(Role.SUPERVISOR)
    text = client.get("/messages/").text
    assert "别人的短信" in text and "没有客户的短信" in text
    assert 'id="unknown-banner"' not in text  # settling is for admins


# --- outcome unknown ----------------------------------------------------------------------------


def _audits(action) -> list[AuditEntry]:
    return list(db.session.scalars(select(AuditEntry).where(AuditEntry.action == action)))


def test_admins_see_a_banner_and_settle_an_unknown_message_as_sent(client, login_as, make_customer, make_message):
    customer = make_customer()
    lost = make_message(customer, "不知道到了没有", MessageStatus.UNKNOWN, error="the worker stopped")
    make_message(customer, "已发出")
    admin = login_as(Role.ADMIN)
    text = client.get("/messages/").text
    assert "1 message has an unknown outcome" in text and "/messages/?status=unknown" in text
    listed = client.get("/messages/?status=unknown").text
    assert "不知道到了没有" in listed and "已发出" not in listed and f"/messages/{lost.id}/settle" in listed
    fragment = client.get("/messages/?status=unknown", headers={"HX-Request": "true"}).text
    assert f'action="/messages/{lost.id}/settle?status=unknown"' in fragment and "<html" not in fragment

    response = client.post(
        f"/messages/{lost.id}/settle?status=unknown",
        data={f"m{lost.id}-outcome": "sent", f"m{lost.id}-note": "阿里云控制台显示已送达"},
    )
    assert response.status_code == 302 and response.headers["Location"] == "/messages/?status=unknown"
    db.session.expire_all()
    message = db.session.get(Message, lost.id)
    assert message.status == MessageStatus.SENT
    [entry] = _audits(AuditAction.SMS_OUTCOME_RESOLVED)
    assert entry.customer_id == customer.id and entry.actor_id == admin.id
    assert entry.after == {"status": "sent", "note": "阿里云控制台显示已送达"}
    text = client.get("/messages/").text
    assert f"Message {lost.id} settled as Sent." in text and 'id="unknown-banner"' not in text
    # Settling never sends again: nothing was queued.
    assert db.session.scalar(select(func.count()).select_from(Message)) == 2


def test_settling_as_failed_and_the_errors_next_to_the_fields(client, login_as, make_customer, make_message):
    lost = make_message(make_customer(), "不知道", MessageStatus.UNKNOWN)
    login_as(Role.ADMIN)
    response = client.post(f"/messages/{lost.id}/settle", data={f"m{lost.id}-outcome": "failed"})
    assert response.status_code == 422
    assert "Say how you know" in response.text
    response = client.post(
        f"/messages/{lost.id}/settle", data={f"m{lost.id}-outcome": "delivered", f"m{lost.id}-note": "x"}
    )
    assert response.status_code == 422 and "Not a valid choice" in response.text
    db.session.expire_all()
    assert db.session.get(Message, lost.id).status == MessageStatus.UNKNOWN
    response = client.post(
        f"/messages/{lost.id}/settle", data={f"m{lost.id}-outcome": "failed", f"m{lost.id}-note": "号码停机"}
    )
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(Message, lost.id).status == MessageStatus.FAILED


def test_a_message_settled_meanwhile_is_not_settled_again(client, login_as, make_customer, make_message):
    delivered = make_message(make_customer(), "回执已到", MessageStatus.DELIVERED)
    login_as(Role.ADMIN)
    response = client.post(
        f"/messages/{delivered.id}/settle", data={f"m{delivered.id}-outcome": "failed", f"m{delivered.id}-note": "x"}
    )
    assert response.status_code == 302
    assert "no longer of unknown outcome" in client.get(response.headers["Location"]).text
    db.session.expire_all()
    assert db.session.get(Message, delivered.id).status == MessageStatus.DELIVERED
    assert not _audits(AuditAction.SMS_OUTCOME_RESOLVED)


@pytest.mark.parametrize("role", [Role.SALES, Role.SUPERVISOR])
def test_only_admins_settle(client, login_as, make_customer, make_message, role):
    user = login_as(role)
    lost = make_message(make_customer(owner=user), "不知道", MessageStatus.UNKNOWN)
    response = client.post(f"/messages/{lost.id}/settle", data={f"m{lost.id}-outcome": "sent", f"m{lost.id}-note": "x"})
    assert response.status_code == 403
    assert "/settle" not in client.get("/messages/").text
    db.session.expire_all()
    assert db.session.get(Message, lost.id).status == MessageStatus.UNKNOWN


# --- the customer's timeline and the queue card -------------------------------------------------


def _reply(customer, body: str, at: datetime, opted_out: bool = False) -> SmsReply:
    reply = SmsReply(provider="log", phone=customer.phone, customer_id=customer.id, body=body, received_at=at)
    reply.opted_out = opted_out
    db.session.add(reply)
    db.session.commit()
    return reply


def test_the_timeline_shows_messages_and_replies_in_time_order(
    client, login_as, make_customer, make_message, make_order, template
):
    me = login_as(Role.SALES)
    customer = make_customer(owner=me)
    make_order(customer, days_ago=5, order_no="T-ORDER")
    make_message(
        customer,
        "【小店】您的订单已发货",
        MessageStatus.DELIVERED,
        template_id=template.id,
        due_at=utcnow() - timedelta(days=4),
        created_by_id=me.id,
    )
    _reply(customer, "收到，谢谢", utcnow() - timedelta(days=3))
    make_message(
        customer,
        "【小店】上新了",
        MessageStatus.SKIPPED,
        skip_reason=SkipReason.FREQUENCY_CAP,
        due_at=utcnow() - timedelta(days=2),
    )
    _reply(customer, "退订", utcnow() - timedelta(days=1), opted_out=True)

    text = client.get(f"/customers/{customer.id}").text
    timeline = text[text.index('class="timeline"') :]
    order = [timeline.index(s) for s in ("退订", "【小店】上新了", "收到，谢谢", "【小店】您的订单已发货", "T-ORDER")]
    assert order == sorted(order)  # newest first, among the other events
    assert "Delivered" in timeline and "发货通知" in timeline and me.display_name in timeline
    assert "Skipped" in timeline and "Over the frequency cap" in timeline
    assert "SMS reply" in timeline and "an opt-out: the phone was blacklisted" in timeline
    # The inline timeline of a queue card: the same block.
    fragment = client.get(f"/customers/{customer.id}", headers={"HX-Request": "true"}).text
    assert "收到，谢谢" in fragment and "【小店】您的订单已发货" in fragment


def test_a_settled_message_says_so_on_the_timeline(client, login_as, make_customer, make_message):
    customer = make_customer()
    lost = make_message(customer, "不知道", MessageStatus.UNKNOWN)
    login_as(Role.ADMIN)
    client.post(f"/messages/{lost.id}/settle", data={f"m{lost.id}-outcome": "failed", f"m{lost.id}-note": "空号"})
    text = client.get(f"/customers/{customer.id}").text
    assert "SMS outcome settled" in text and "“空号”" in text


def test_the_queue_card_shows_replies_since_the_last_contact(client, login_as, make_customer):
    me = login_as(Role.SALES)
    customer = make_customer(owner=me, name="回复的客户")
    first = followups.start(customer, now=utcnow() - timedelta(days=20))
    db.session.commit()
    followups.record_outcome(first, followups.Outcome.INTERESTED, "phone", "", me, now=utcnow() - timedelta(days=16))
    db.session.commit()
    task = followups.open_task_of(customer.id)
    task.due_at = utcnow() - timedelta(days=1)
    db.session.commit()
    _reply(customer, "上次说的那款还有吗", utcnow() - timedelta(days=17))  # before the last contact
    _reply(customer, "有红色的吗", utcnow() - timedelta(days=2))
    _reply(customer, "TD", utcnow() - timedelta(hours=3), opted_out=True)

    text = client.get("/follow-ups/").text
    card = text[text.index(f'id="task-{task.id}"') :]
    assert "Replied: “有红色的吗”" in card
    assert localtime(utcnow() - timedelta(days=2))[:10] in card
    assert "上次说的那款还有吗" not in card and "TD" not in card
