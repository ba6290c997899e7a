"""The providers' webhooks: delivery receipts and customers' replies, authenticated per provider.

Requests are made as each provider makes them: Aliyun's JSON pushes behind the secret in the
path, Twilio's signed forms (signed here with the SDK's own RequestValidator), the log
provider's JSON. A refused request (404, 403, 400, 413) changes nothing.
"""

import contextlib
import json
from datetime import datetime, timedelta
from itertools import count

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session
from twilio.request_validator import RequestValidator

from app.extensions import db
from app.models import (
    AuditAction,
    AuditEntry,
    BlacklistEntry,
    BlacklistReason,
    Message,
    MessageKind,
    MessageStatus,
    Role,
    SmsReply,
    utcnow,
)
from app.sending import inbound
from app.sending.providers import Handed, Receipt, Reply, provider

LOG_SECRET = "log-webhook-secret"
ALIYUN_SECRET = "aliyun-webhook-secret"
SID = "AC" + "1" * 32
TOKEN = "twilio-test-token"
PUBLIC = "https://crm.example.com"
TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'

ALIYUN_RECEIPTS = f"/webhooks/sms/aliyun/{ALIYUN_SECRET}/receipts"
ALIYUN_REPLIES = f"/webhooks/sms/aliyun/{ALIYUN_SECRET}/replies"
LOG_RECEIPTS = f"/webhooks/sms/log/{LOG_SECRET}/receipts"
LOG_REPLIES = f"/webhooks/sms/log/{LOG_SECRET}/replies"
TWILIO_RECEIPTS = "/webhooks/sms/twilio/receipts"
TWILIO_REPLIES = "/webhooks/sms/twilio/replies"


@pytest.fixture(autouse=True)
def webhook_settings(app, monkeypatch):
    """Every provider's webhook configured; the provider that sends stays "log"."""
    for name, value in {
        "SMS_LOG_WEBHOOK_SECRET": LOG_SECRET,
        "ALIYUN_WEBHOOK_SECRET": ALIYUN_SECRET,
        "TWILIO_ACCOUNT_SID": SID,
        "TWILIO_AUTH_TOKEN": TOKEN,
        "PUBLIC_BASE_URL": PUBLIC,
    }.items():
        monkeypatch.setitem(app.config, name, value)
    assert app.config["SMS_PROVIDER"] == "log"  # receipts of other providers are taken all the same


_keys = count(1)


@pytest.fixture
def make_message(make_customer):
    def make(provider="aliyun", status=MessageStatus.SENT, provider_ref=None, customer=None, **values):
        customer = customer or make_customer()
        message = Message(
            dedupe_key=f"test:{next(_keys)}",
            customer_id=customer.id,
            kind=MessageKind.MARKETING,
            phone=values.pop("phone", customer.phone),
            body="【示例小店】您好。拒收请回复R",
            provider=provider,
            status=status,
            provider_ref=provider_ref,
            due_at=utcnow(),
            sent_at=values.pop("sent_at", utcnow() if status != MessageStatus.SCHEDULED else None),
            **values,
        )
        db.session.add(message)
        db.session.commit()
        return message

    return make


def _message(message_id: int) -> Message:
    db.session.expire_all()
    return db.session.get(Message, message_id)


def _state():
    """Everything a webhook may change."""
    db.session.expire_all()
    messages = db.session.execute(
        select(Message.id, Message.status, Message.error, Message.delivered_at, Message.provider_ref).order_by(
            Message.id
        )
    ).all()

    def rows(model):
        return db.session.scalar(select(func.count()).select_from(model))

    return messages, rows(SmsReply), rows(BlacklistEntry), rows(AuditEntry)


def _post_json(client, path, body):
    return client.post(path, data=json.dumps(body, ensure_ascii=False), content_type="application/json")


def _twilio_post(client, path, form, *, token=TOKEN, url=None, query=""):
    url = url or f"{PUBLIC}{path}{query}"
    signature = RequestValidator(token).compute_signature(url, form)
    return client.post(f"{path}{query}", data=form, headers={"X-Twilio-Signature": signature})


def _aliyun_report(message, success=True, **values):
    report = {
        "phone_number": message.phone.removeprefix("+86"),
        "send_time": "2026-11-28 10:00:00",
        "report_time": "2026-11-28 10:00:05",
        "success": success,
        "err_code": "DELIVERED" if success else "MK:0001",
        "err_msg": "用户接收成功" if success else "空号",
        "sms_size": "1",
        "biz_id": message.provider_ref or "",
        "out_id": str(message.id),
    }
    return {**report, **values}


def _aliyun_up(phone="13812345678", content="好的", sequence_id=1001, **values):
    return {
        "phone_number": phone,
        "content": content,
        "send_time": "2026-11-28 21:30:00",
        "dest_code": "1234",
        "sequence_id": sequence_id,
        "sign_name": "示例小店",
        **values,
    }


# --- receipts ---------------------------------------------------------------------------------


def test_aliyun_receipts_settle_sent_messages(client, make_message):
    delivered = make_message(provider_ref="9001^0")
    failed = make_message(provider_ref="9002^0")
    response = _post_json(client, ALIYUN_RECEIPTS, [_aliyun_report(delivered), _aliyun_report(failed, success=False)])
    assert response.status_code == 200
    assert response.get_json() == {"code": 0, "msg": "接收成功"}

    delivered, failed = _message(delivered.id), _message(failed.id)
    assert delivered.status == MessageStatus.DELIVERED
    assert delivered.delivered_at == datetime(2026, 11, 28, 2, 0, 5)  # Beijing 10:00:05 is 02:00:05 UTC
    assert failed.status == MessageStatus.FAILED and failed.error == "MK:0001 空号"
    assert failed.delivered_at is None


def test_an_outcome_unknown_message_is_settled_by_its_receipt(client, make_message):
    """Its worker died before recording Aliyun's BizId: the receipt finds it by our OutId."""
    unknown = make_message(status=MessageStatus.UNKNOWN, provider_ref=None, sent_at=None)
    response = _post_json(client, ALIYUN_RECEIPTS, [_aliyun_report(unknown, biz_id="7777^0")])
    assert response.status_code == 200
    unknown = _message(unknown.id)
    assert unknown.status == MessageStatus.DELIVERED and unknown.provider_ref == "7777^0"


def test_a_receipt_without_our_id_is_matched_by_the_providers_id(client, make_message):
    message = make_message(provider_ref="8001^0")
    _post_json(client, ALIYUN_RECEIPTS, [_aliyun_report(message, out_id="")])
    assert _message(message.id).status == MessageStatus.DELIVERED


def test_a_receipt_overtaking_the_worker_settles_the_message(client, make_message):
    sending = make_message(status=MessageStatus.SENDING, sent_at=None)
    _post_json(client, ALIYUN_RECEIPTS, [_aliyun_report(sending, biz_id="5^0")])
    assert _message(sending.id).status == MessageStatus.DELIVERED


def test_a_receipt_never_moves_a_message_back(client, make_message):
    delivered = make_message(status=MessageStatus.DELIVERED, provider_ref="1^0")
    failed = make_message(status=MessageStatus.FAILED, provider_ref="2^0", error="isv.MOBILE_NUMBER_ILLEGAL")
    scheduled = make_message(status=MessageStatus.SCHEDULED)
    skipped = make_message(status=MessageStatus.SKIPPED, sent_at=None)
    before = _state()
    response = _post_json(
        client,
        ALIYUN_RECEIPTS,
        [
            _aliyun_report(delivered, success=False),
            _aliyun_report(failed, success=True),
            _aliyun_report(scheduled),
            _aliyun_report(skipped),
        ],
    )
    assert response.status_code == 200
    assert _state() == before


def test_receipts_about_no_message_of_ours_are_ignored(client, make_message):
    twilio_message = make_message(provider="twilio", provider_ref="SM1")
    mismatched = make_message(provider_ref="1111^0")
    before = _state()
    body = [
        _aliyun_report(twilio_message, biz_id="3^0"),  # our id, but another provider's message
        _aliyun_report(mismatched, biz_id="2222^0"),  # our id, but Aliyun's id says it is another
        {**_aliyun_report(mismatched), "out_id": "99999999999999999999", "biz_id": "nope"},
        {**_aliyun_report(mismatched), "out_id": "abc", "biz_id": ""},
    ]
    assert _post_json(client, ALIYUN_RECEIPTS, body).status_code == 200
    assert _state() == before


def test_odd_times_in_a_receipt_are_left_out(client, make_message):
    first, last = make_message(), make_message()
    body = [
        _aliyun_report(first, report_time="0001-01-01 00:00:00"),
        _aliyun_report(last, report_time="9999-12-31 23:59:59"),
    ]
    assert _post_json(client, ALIYUN_RECEIPTS, body).status_code == 200
    for message in (first, last):
        message = _message(message.id)
        assert message.status == MessageStatus.DELIVERED
        assert abs(message.delivered_at - utcnow()) < timedelta(days=1)  # when it was recorded


def test_twilio_status_callbacks_settle_messages_and_skip_interim_statuses(client, make_message):
    message = make_message(provider="twilio", provider_ref="SM" + "a" * 32, phone="+14155550100")
    query = f"?message={message.id}"
    form = {"MessageSid": "SM" + "a" * 32, "MessageStatus": "sent", "AccountSid": SID, "To": "+14155550100"}
    response = _twilio_post(client, TWILIO_RECEIPTS, form, query=query)
    assert response.status_code == 200 and response.text == TWIML
    assert _message(message.id).status == MessageStatus.SENT

    response = _twilio_post(client, TWILIO_RECEIPTS, {**form, "MessageStatus": "delivered"}, query=query)
    assert response.status_code == 200
    assert _message(message.id).status == MessageStatus.DELIVERED


def test_twilio_undelivered_callback_fails_the_message_with_its_code(client, make_message):
    message = make_message(provider="twilio", status=MessageStatus.UNKNOWN, phone="+14155550100", sent_at=None)
    form = {"MessageSid": "SM" + "b" * 32, "MessageStatus": "undelivered", "ErrorCode": "30003"}
    response = _twilio_post(client, TWILIO_RECEIPTS, form, query=f"?message={message.id}")
    assert response.status_code == 200
    message = _message(message.id)
    assert message.status == MessageStatus.FAILED and message.error == "undelivered (30003)"
    assert message.provider_ref == "SM" + "b" * 32


def test_twilio_signature_is_checked_against_the_requests_own_address_without_a_public_one(
    client, app, monkeypatch, make_message
):
    monkeypatch.setitem(app.config, "PUBLIC_BASE_URL", None)
    message = make_message(provider="twilio", provider_ref="SM9", phone="+14155550100")
    form = {"MessageSid": "SM9", "MessageStatus": "failed"}
    assert _twilio_post(client, TWILIO_RECEIPTS, form, url=f"{PUBLIC}{TWILIO_RECEIPTS}").status_code == 403
    assert _twilio_post(client, TWILIO_RECEIPTS, form, url=f"http://localhost{TWILIO_RECEIPTS}").status_code == 200
    assert _message(message.id).status == MessageStatus.FAILED


def test_log_receipts_and_the_engines_own(client, make_message):
    busy = make_message(provider="log", provider_ref=None)
    response = _post_json(client, LOG_RECEIPTS, [{"message_id": busy.id, "delivered": False, "error": "busy"}])
    assert response.status_code == 204
    assert _message(busy.id).status == MessageStatus.FAILED and _message(busy.id).error == "busy"

    # The engine: what the log provider accepted is delivered a moment later.
    sent = make_message(provider="log", provider_ref=f"log-{next(_keys)}")
    sent_ref = _message(sent.id).provider_ref
    receipts = provider("log").own_receipts([Handed(sent.id, accepted=True, provider_ref=sent_ref)])
    assert inbound.record_receipts("log", receipts) == 1
    db.session.commit()
    assert _message(sent.id).status == MessageStatus.DELIVERED
    assert inbound.record_receipts("log", receipts) == 0  # a second copy changes nothing


# --- replies ----------------------------------------------------------------------------------


def test_an_opt_out_reply_blacklists_the_number_at_once(client, login_as, make_customer):
    customer = make_customer(phone="+8613812345678")
    response = _post_json(client, ALIYUN_REPLIES, [_aliyun_up(content="退订")])
    assert response.status_code == 200 and response.get_json() == {"code": 0, "msg": "接收成功"}

    reply = db.session.scalar(select(SmsReply))
    assert (reply.provider, reply.provider_ref, reply.phone, reply.customer_id) == (
        "aliyun",
        "1001",
        "+8613812345678",
        customer.id,
    )
    assert reply.opted_out and reply.body == "退订"
    assert reply.received_at == datetime(2026, 11, 28, 13, 30)  # Beijing 21:30
    entry = db.session.scalar(select(BlacklistEntry))
    assert (entry.phone, entry.reason, entry.source, entry.customer_id, entry.added_by_id) == (
        "+8613812345678",
        BlacklistReason.OPT_OUT,
        f"sms_reply:{reply.id}",
        customer.id,
        None,
    )
    audit = db.session.scalar(select(AuditEntry).where(AuditEntry.action == AuditAction.BLACKLIST_ADDED))
    assert audit.customer_id == customer.id and audit.actor_id is None and audit.after["reason"] == "opt_out"

    login_as(Role.ADMIN)
    page = client.get(f"/customers/{customer.id}").text
    assert "Phone blacklisted" in page and "Opt-out reply" in page


def test_an_ordinary_reply_is_recorded_on_the_customer(client, make_customer):
    customer = make_customer(phone="+8613812345678")
    assert _post_json(client, ALIYUN_REPLIES, [_aliyun_up(content="请问什么时候发货？")]).status_code == 200
    reply = db.session.scalar(select(SmsReply))
    assert reply.customer_id == customer.id and not reply.opted_out and reply.body == "请问什么时候发货？"
    assert db.session.scalar(select(func.count()).select_from(BlacklistEntry)) == 0


def test_a_reply_delivered_twice_is_recorded_once(client, make_customer):
    make_customer(phone="+8613812345678")
    body = [_aliyun_up(content="TD", sequence_id=77), _aliyun_up(content="TD", sequence_id=77)]
    assert _post_json(client, ALIYUN_REPLIES, body).status_code == 200
    assert _post_json(client, ALIYUN_REPLIES, body[:1]).status_code == 200
    assert db.session.scalar(select(func.count()).select_from(SmsReply)) == 1
    assert db.session.scalar(select(func.count()).select_from(BlacklistEntry)) == 1
    audits = select(func.count()).select_from(AuditEntry).where(AuditEntry.action == AuditAction.BLACKLIST_ADDED)
    assert db.session.scalar(audits) == 1


def test_an_opt_out_from_a_number_already_blacklisted_keeps_its_entry(client, make_customer):
    customer = make_customer(phone="+8613812345678")
    _post_json(client, ALIYUN_REPLIES, [_aliyun_up(content="R", sequence_id=1)])
    _post_json(client, ALIYUN_REPLIES, [_aliyun_up(content="退订", sequence_id=2)])
    assert [r.opted_out for r in db.session.scalars(select(SmsReply).order_by(SmsReply.id))] == [True, True]
    [entry] = db.session.scalars(select(BlacklistEntry))
    assert entry.customer_id == customer.id


def test_twilio_stop_reply_blacklists_and_is_answered_with_empty_twiml(client, make_customer):
    customer = make_customer(phone="+14155550100")
    form = {"MessageSid": "SM" + "c" * 32, "From": "+14155550100", "To": "+15005550006", "Body": "Stop"}
    response = _twilio_post(client, TWILIO_REPLIES, form)
    assert response.status_code == 200 and response.text == TWIML
    assert response.headers["Content-Type"].startswith("text/xml")
    entry = db.session.scalar(select(BlacklistEntry))
    assert entry.phone == "+14155550100" and entry.customer_id == customer.id


def test_log_replies(client, make_customer):
    customer = make_customer(phone="+8613812345678")
    body = [{"phone": "138 1234 5678", "text": "ＴＤ", "id": "r1"}, {"phone": "not a phone", "text": "x"}]
    assert _post_json(client, LOG_REPLIES, body).status_code == 204
    [reply] = db.session.scalars(select(SmsReply))
    assert reply.customer_id == customer.id and reply.opted_out and reply.provider == "log"


def test_a_shared_phone_goes_to_the_customer_last_texted_else_the_last_buyer(app, make_customer, make_message):
    phone = "+8613812345678"
    # (last_paid_at is kept from orders by the segment recompute)
    older = make_customer(phone=phone, last_paid_at=utcnow() - timedelta(days=5))
    newer = make_customer(phone=phone, last_paid_at=utcnow() - timedelta(days=40))
    make_customer(phone=phone)  # never ordered
    assert inbound.customer_for(phone) == older.id  # ordered last

    make_message(customer=newer, phone=phone, sent_at=utcnow() - timedelta(hours=1))
    make_message(customer=older, phone=phone, sent_at=utcnow() - timedelta(days=3))
    assert inbound.customer_for(phone) == newer.id  # the reply answers the latest text
    assert inbound.customer_for("+8613900000009") is None


def test_record_replies_returns_the_new_ones(app, make_customer):
    make_customer(phone="+8613812345678")
    replies = [Reply(phone="+8613812345678", text="好", provider_ref="x1"), Reply(phone="+8613812345678", text="N")]
    recorded = inbound.record_replies("log", replies)
    assert [(r.body, r.opted_out) for r in recorded] == [("好", False), ("N", True)]
    assert inbound.record_replies("log", replies[:1]) == []
    db.session.rollback()


@contextlib.contextmanager
def another_delivery_meanwhile(model, **values):
    """Another request writes (and commits) a `model` row just before this session flushes its
    own: two deliveries of one push racing."""
    done = []

    def write_first(session, flush_context, instances):
        if not done and any(isinstance(row, model) for row in session.new):
            done.append(True)
            with db.engine.begin() as other:
                other.execute(model.__table__.insert().values(**values))

    event.listen(Session, "before_flush", write_first)
    try:
        yield
    finally:
        event.remove(Session, "before_flush", write_first)
    assert done


def test_a_reply_recorded_meanwhile_by_another_delivery_is_recorded_once(app, make_customer):
    make_customer(phone="+8613812345678")
    replies = [
        Reply(phone="+8613812345678", text="TD", provider_ref="dup"),
        Reply(phone="+8613812345678", text="好", provider_ref="next"),
    ]
    row = {"provider": "log", "provider_ref": "dup", "phone": "+8613812345678", "body": "TD", "opted_out": True}
    with another_delivery_meanwhile(SmsReply, **row, received_at=utcnow()):
        recorded = inbound.record_replies("log", replies)
    db.session.commit()
    assert [reply.body for reply in recorded] == ["好"]
    assert db.session.scalar(select(func.count()).select_from(SmsReply)) == 2


def test_a_number_blacklisted_meanwhile_keeps_the_other_entry(app, make_customer):
    if db.engine.dialect.name == "sqlite":
        # One writer at a time: once the reply is written, no other request can blacklist the
        # number before this one commits.
        pytest.skip("SQLite serialises writers: this race needs PostgreSQL")
    make_customer(phone="+8613812345678")
    entry = {"phone": "+8613812345678", "reason": "opt_out", "source": "sms_reply:0", "added_at": utcnow()}
    with another_delivery_meanwhile(BlacklistEntry, **entry):
        [reply] = inbound.record_replies("log", [Reply(phone="+8613812345678", text="退订", provider_ref="r9")])
    db.session.commit()
    assert reply.opted_out
    assert [e.source for e in db.session.scalars(select(BlacklistEntry))] == ["sms_reply:0"]
    assert db.session.scalar(select(func.count()).select_from(SmsReply)) == 1


def test_record_receipts_counts_the_messages_it_changed(app, make_message):
    message = make_message(provider="log", provider_ref="log-x")
    receipts = [
        Receipt(message_id=message.id, provider_ref=None, delivered=True),
        Receipt(message_id=None, provider_ref="nothing", delivered=True),
    ]
    assert inbound.record_receipts("log", receipts) == 1
    db.session.rollback()


# --- refusals: nothing changes ----------------------------------------------------------------


@pytest.fixture
def some_state(make_customer, make_message):
    """A customer with a sent message, and their number: what a refused request must not touch."""
    customer = make_customer(phone="+8613812345678")
    message = make_message(customer=customer, provider_ref="4242^0")
    return message


def _opt_out_push(message):
    return [_aliyun_up(content="退订")], [_aliyun_report(message)]


@pytest.mark.parametrize(
    "path, status",
    [
        ("/webhooks/sms/aliyun/wrong-secret/replies", 403),
        ("/webhooks/sms/aliyun/replies", 403),  # no secret at all
        ("/webhooks/sms/aliyun/wrong-secret/receipts", 403),
        ("/webhooks/sms/log/wrong-secret/replies", 403),
        ("/webhooks/sms/log/秘密/replies", 403),
        ("/webhooks/sms/tencent/replies", 404),
        (f"/webhooks/sms/tencent/{ALIYUN_SECRET}/receipts", 404),
        ("/webhooks/sms/twilio/replies", 403),  # unsigned
    ],
)
def test_a_request_not_from_the_provider_changes_nothing(client, some_state, path, status):
    replies, receipts = _opt_out_push(some_state)
    before = _state()
    body = receipts if path.endswith("receipts") else replies
    response = _post_json(client, path, body)
    assert response.status_code == status
    assert ALIYUN_SECRET not in response.text and "wrong-secret" not in response.text
    assert _state() == before


@pytest.mark.parametrize("setting", ["ALIYUN_WEBHOOK_SECRET", "SMS_LOG_WEBHOOK_SECRET", "TWILIO_AUTH_TOKEN"])
def test_a_provider_without_its_webhook_credential_has_no_webhooks(client, app, monkeypatch, some_state, setting):
    monkeypatch.setitem(app.config, setting, None)
    path = {
        "ALIYUN_WEBHOOK_SECRET": ALIYUN_REPLIES,
        "SMS_LOG_WEBHOOK_SECRET": LOG_REPLIES,
        "TWILIO_AUTH_TOKEN": TWILIO_REPLIES,
    }[setting]
    before = _state()
    assert _post_json(client, path, [_aliyun_up(content="退订")]).status_code == 404
    assert _state() == before


def test_a_wrong_twilio_signature_changes_nothing(client, some_state):
    form = {"MessageSid": "SM" + "d" * 32, "From": "+8613812345678", "Body": "STOP"}
    before = _state()
    assert _twilio_post(client, TWILIO_REPLIES, form, token="another-token").status_code == 403
    signature = RequestValidator(TOKEN).compute_signature(f"{PUBLIC}{TWILIO_REPLIES}", form)
    tampered = {**form, "From": "+8613900000001"}
    response = client.post(TWILIO_REPLIES, data=tampered, headers={"X-Twilio-Signature": signature})
    assert response.status_code == 403
    assert _state() == before


MALFORMED = [
    b"not json",
    b"",
    b'{"phone_number": "13812345678"}',  # an object, not an array of them
    b'["13812345678"]',
    b"[" * 100_000 + b"]" * 100_000,  # nested past the parser's depth
    b"[" + b"9" * 5000 + b"]",  # a number Python will not read
    b"\xff\xfe\x00",
    '[{"phone_number": "13812345678", "content": "退\\u0000订", "sequence_id": 1}]'.encode(),
    b'[{"phone_number": "13812345678", "content": "\\ud800", "sequence_id": 1}]',
    b'[{"phone_number": 13812345678, "content": "TD", "sequence_id": 1}]',
    b'[{"phone_number": "13812345678", "content": null, "sequence_id": 1}]',
    b'[{"phone_number": "13812345678", "content": "TD", "sequence_id": 1.5}]',
    ('[{"phone_number": "13812345678", "content": "TD", "sequence_id": "' + "9" * 65 + '"}]').encode(),
]


@pytest.mark.parametrize("body", MALFORMED, ids=range(len(MALFORMED)))
def test_a_malformed_reply_push_is_refused_and_changes_nothing(client, some_state, body):
    before = _state()
    response = client.post(ALIYUN_REPLIES, data=body, content_type="application/json")
    assert response.status_code == 400
    assert _state() == before


@pytest.mark.parametrize(
    "item",
    [
        {"success": "true"},
        {"success": None},
        {"out_id": 1e300},
        {"biz_id": "x" * 65},
        {"biz_id": {"nested": 1}},
        {"success": False, "err_code": 5},
        {"success": False, "err_msg": ["空号"]},
    ],
)
def test_a_malformed_receipt_push_is_refused_and_changes_nothing(client, some_state, item):
    before = _state()
    response = _post_json(client, ALIYUN_RECEIPTS, [_aliyun_report(some_state), {**_aliyun_report(some_state), **item}])
    assert response.status_code == 400
    assert _state() == before


@pytest.mark.parametrize(
    "path, body",
    [
        (LOG_RECEIPTS, [{"message_id": "1", "delivered": True}]),
        (LOG_RECEIPTS, [{"message_id": True, "delivered": True}]),
        (LOG_RECEIPTS, [{"message_id": 1}]),
        (LOG_REPLIES, [{"phone": "+8613812345678"}]),
        (LOG_REPLIES, [{"phone": "+8613812345678", "text": "TD", "id": ["r1"]}]),
    ],
)
def test_a_malformed_log_push_is_refused(client, some_state, path, body):
    before = _state()
    assert _post_json(client, path, body).status_code == 400
    assert _state() == before


@pytest.mark.parametrize(
    "path, form",
    [
        (TWILIO_RECEIPTS, {"MessageStatus": "delivered"}),
        (TWILIO_RECEIPTS, {"MessageSid": "SM1"}),
        (TWILIO_RECEIPTS, {"MessageSid": "S" * 65, "MessageStatus": "delivered"}),
        (TWILIO_REPLIES, {"MessageSid": "SM1", "Body": "STOP"}),
        (TWILIO_REPLIES, {"MessageSid": "SM1", "From": "+8613812345678"}),
    ],
)
def test_a_malformed_twilio_form_is_refused(client, some_state, path, form):
    before = _state()
    assert _twilio_post(client, path, form).status_code == 400
    assert _state() == before


def test_a_twilio_json_body_is_not_a_form(client, some_state):
    before = _state()
    signature = RequestValidator(TOKEN).compute_signature(f"{PUBLIC}{TWILIO_REPLIES}", {})
    response = client.post(
        TWILIO_REPLIES,
        data=json.dumps({"MessageSid": "SM1", "From": "+8613812345678", "Body": "STOP"}),
        content_type="application/json",
        headers={"X-Twilio-Signature": signature},
    )
    assert response.status_code == 400
    assert _state() == before


def test_a_body_too_large_is_refused(client, some_state):
    before = _state()
    body = [_aliyun_up(content="x" * 1000, sequence_id=n) for n in range(1200)]
    assert _post_json(client, ALIYUN_REPLIES, body).status_code == 413
    assert _state() == before


def test_webhooks_need_no_sign_in_and_no_csrf_token(client, app, monkeypatch, make_customer):
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    make_customer(phone="+8613812345678")
    assert _post_json(client, ALIYUN_REPLIES, [_aliyun_up(content="好")]).status_code == 200
    assert db.session.scalar(select(func.count()).select_from(SmsReply)) == 1
