"""The SMS providers' adapters: the real SDKs against a fake provider on loopback.

pytest-httpserver plays Aliyun's and Twilio's APIs; what the adapters put on the wire is read
back from its log. A server that never answers, or drops the connection, is a plain socket.
"""

import base64
import contextlib
import hashlib
import hmac
import logging
import socket
import threading
from datetime import time
from urllib.parse import parse_qsl, quote

import pytest

from app.sending.providers import Handed, Outgoing, check_settings, provider
from app.sending.providers.aliyun import aliyun_number, endpoint

KEY_ID = "LTAI-test-key"
KEY_SECRET = "test-key-secret"
SID = "AC" + "1" * 32
TOKEN = "twilio-test-token"


@pytest.fixture
def settings(app, monkeypatch):
    def set_(**values):
        for name, value in values.items():
            monkeypatch.setitem(app.config, name, value)

    set_(SMS_SEND_TIMEOUT_SECONDS=2)
    return set_


@pytest.fixture
def aliyun(settings, httpserver):
    settings(
        ALIYUN_ACCESS_KEY_ID=KEY_ID,
        ALIYUN_ACCESS_KEY_SECRET=KEY_SECRET,
        ALIYUN_SIGN_NAME="示例小店",
        ALIYUN_SMS_ENDPOINT=f"http://127.0.0.1:{httpserver.port}",
    )
    return provider("aliyun")


@pytest.fixture
def twilio(settings, httpserver):
    settings(
        TWILIO_ACCOUNT_SID=SID,
        TWILIO_AUTH_TOKEN=TOKEN,
        TWILIO_FROM="+15005550006",
        TWILIO_API_BASE_URL=f"http://127.0.0.1:{httpserver.port}",
        PUBLIC_BASE_URL="https://crm.example.com",
    )
    return provider("twilio")


def _message(message_id=41, phone="+8613812345678", **values):
    values.setdefault("text", "【示例小店】张三您好，您的优惠券明天到期。拒收请回复R")
    values.setdefault("template_code", "SMS_123456")
    values.setdefault("params", {"name": "张三"})
    return Outgoing(message_id=message_id, phone=phone, **values)


# --- the registry ---------------------------------------------------------------------------


def test_the_default_provider_is_the_setting(app, settings):
    assert provider().name == "log"
    settings(SMS_PROVIDER="twilio")
    assert provider().name == "twilio"
    assert provider("aliyun").name == "aliyun"


def test_an_unknown_provider_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown SMS provider 'tencent': one of log, aliyun, twilio"):
        provider("tencent")


def test_each_provider_declares_its_rules(app, settings):
    log, aliyun, twilio = provider("log"), provider("aliyun"), provider("twilio")
    assert (log.counting, aliyun.counting, twilio.counting) == ("mainland", "mainland", "international")
    assert log.marketing_curfew == aliyun.marketing_curfew == ((time(20), time(8)),)
    assert twilio.marketing_curfew == ((time(21), time(8)),)
    assert log.opt_out_text == aliyun.opt_out_text == "拒收请回复R"
    assert twilio.opt_out_text == "Reply STOP to unsubscribe"
    assert (aliyun.batch_size, twilio.batch_size) == (1, 1) and log.batch_size >= 100
    assert aliyun.needs_template_code and not twilio.needs_template_code and not log.needs_template_code
    assert (aliyun.rate_limit, twilio.rate_limit) == (5000, 1) and log.rate_limit >= 10_000
    settings(TWILIO_RATE_LIMIT=100)  # a short code
    assert provider("twilio").rate_limit == 100


def test_the_app_refuses_to_start_with_a_provider_it_cannot_use(app):
    check_settings({**app.config, "SMS_PROVIDER": "log"})
    with pytest.raises(RuntimeError, match="SMS_PROVIDER=aliyun needs ALIYUN_ACCESS_KEY_ID, ALIYUN_ACCESS_KEY_SECRET"):
        check_settings({**app.config, "SMS_PROVIDER": "aliyun", "ALIYUN_SIGN_NAME": "店"})
    with pytest.raises(RuntimeError, match="unknown SMS provider 'tencent'"):
        check_settings({**app.config, "SMS_PROVIDER": "tencent"})


# --- log --------------------------------------------------------------------------------------


def test_the_log_provider_records_one_line_per_message_and_accepts_all(app, caplog, monkeypatch):
    # The test run's in-process migration (alembic's fileConfig) disables loggers made before it.
    monkeypatch.setattr(logging.getLogger("app.sending.providers.log"), "disabled", False)
    caplog.set_level(logging.INFO, logger="app.sending.providers.log")
    batch = [_message(7, text="第一行\n第二行"), _message(8, phone="+8613900000002", text="hi")]
    handed = provider("log").send(batch)
    assert handed == [
        Handed(7, accepted=True, provider_ref="log-7"),
        Handed(8, accepted=True, provider_ref="log-8"),
    ]
    lines = [record.getMessage() for record in caplog.records]
    assert lines == ['SMS 7 to +8613812345678: "第一行\\n第二行"', 'SMS 8 to +8613900000002: "hi"']
    receipts = provider("log").own_receipts([*handed, Handed(9, accepted=False, error="x")])
    assert [(r.message_id, r.provider_ref, r.delivered) for r in receipts] == [(7, "log-7", True), (8, "log-8", True)]


# --- Aliyun -----------------------------------------------------------------------------------


def _aliyun_signature_is_valid(request) -> bool:
    """Recompute the ACS3-HMAC-SHA256 signature as Aliyun does, with the shared key secret."""
    scheme, _, fields = request.headers["Authorization"].partition(" ")
    parts = dict(field.split("=", 1) for field in fields.split(","))
    signed = parts["SignedHeaders"].split(";")
    query = "&".join(
        f"{name}={quote(value, safe='~')}" for name, value in sorted(parse_qsl(request.query_string.decode()))
    )
    headers = "".join(f"{name}:{request.headers[name].strip()}\n" for name in signed)
    payload = hashlib.sha256(request.get_data()).hexdigest()
    assert request.headers["x-acs-content-sha256"] == payload
    canonical = f"{request.method}\n{request.path}\n{query}\n{headers}\n{parts['SignedHeaders']}\n{payload}"
    to_sign = f"{scheme}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
    expected = hmac.new(KEY_SECRET.encode(), to_sign.encode(), hashlib.sha256).hexdigest()
    return parts["Credential"] == KEY_ID and hmac.compare_digest(parts["Signature"], expected)


def test_aliyun_sends_one_number_with_its_template_and_our_id(aliyun, httpserver):
    httpserver.expect_request("/", method="POST").respond_with_json(
        {"Code": "OK", "Message": "OK", "BizId": "900619746936498440^0", "RequestId": "F655A8D5"}
    )
    assert aliyun.send([_message()]) == [Handed(41, accepted=True, provider_ref="900619746936498440^0")]

    [(request, _)] = httpserver.log
    assert request.method == "POST" and request.path == "/"
    assert dict(request.args) == {
        "PhoneNumbers": "13812345678",
        "SignName": "示例小店",
        "TemplateCode": "SMS_123456",
        "TemplateParam": '{"name": "张三"}',
        "OutId": "41",
    }
    assert request.headers["x-acs-action"] == "SendSms" and request.headers["x-acs-version"] == "2017-05-25"
    assert request.headers["Authorization"].startswith(f"ACS3-HMAC-SHA256 Credential={KEY_ID},")
    assert _aliyun_signature_is_valid(request)


def test_aliyun_template_without_variables_sends_no_param(aliyun, httpserver):
    httpserver.expect_request("/").respond_with_json({"Code": "OK", "BizId": "1^0"})
    aliyun.send([_message(params=None)])
    [(request, _)] = httpserver.log
    assert "TemplateParam" not in request.args


@pytest.mark.parametrize(
    "status, answer, error",
    [
        (200, {"Code": "isv.MOBILE_NUMBER_ILLEGAL", "Message": "非法手机号"}, "isv.MOBILE_NUMBER_ILLEGAL 非法手机号"),
        (200, {"Code": "isv.BUSINESS_LIMIT_CONTROL", "Message": "业务限流"}, "isv.BUSINESS_LIMIT_CONTROL 业务限流"),
        (404, {"Code": "InvalidAccessKeyId.NotFound", "Message": "Specified access key is not found."}, None),
    ],
)
def test_aliyun_refusals_are_recorded_with_its_code(aliyun, httpserver, status, answer, error):
    httpserver.expect_request("/").respond_with_json({**answer, "RequestId": "R1"}, status=status)
    [handed] = aliyun.send([_message()])
    assert not handed.accepted and handed.provider_ref is None
    assert handed.error.startswith(answer["Code"])
    if error:
        assert handed.error == error
    assert len(handed.error) <= 300


def test_aliyun_refuses_a_message_without_template_code_without_calling(aliyun, httpserver):
    [handed] = aliyun.send([_message(template_code=None)])
    assert not handed.accepted and "template code" in handed.error
    assert httpserver.log == []


def test_aliyun_takes_one_message_a_call(aliyun):
    with pytest.raises(ValueError):
        aliyun.send([_message(1), _message(2)])


def test_aliyun_server_error_leaves_the_outcome_unknown(aliyun, httpserver):
    httpserver.expect_request("/").respond_with_json({"Code": "InternalError", "Message": "..."}, status=500)
    with pytest.raises(Exception, match="InternalError"):
        aliyun.send([_message()])
    assert len(httpserver.log) == 1  # never retried


def test_aliyun_answer_that_is_not_aliyuns_leaves_the_outcome_unknown(aliyun, httpserver):
    httpserver.expect_request("/").respond_with_data("<html>proxy error</html>", status=200)
    with pytest.raises(Exception):  # noqa: B017  (the SDK's own error: what matters is that it raises)
        aliyun.send([_message()])
    httpserver.clear_log()
    httpserver.clear_all_handlers()
    httpserver.expect_request("/").respond_with_json({"RequestId": "R2"})
    with pytest.raises(RuntimeError, match="without a Code"):
        aliyun.send([_message()])


def test_aliyun_endpoint_is_https_except_on_loopback():
    assert endpoint("dysmsapi.aliyuncs.com") == ("dysmsapi.aliyuncs.com", "https")
    assert endpoint("http://dysmsapi.aliyuncs.com") == ("dysmsapi.aliyuncs.com", "https")
    assert endpoint("http://127.0.0.1:8080") == ("127.0.0.1:8080", "http")
    assert endpoint("localhost:8080") == ("localhost:8080", "http")
    assert aliyun_number("+8613812345678") == "13812345678"
    assert aliyun_number("+85291234567") == "85291234567"


# --- Twilio -----------------------------------------------------------------------------------


def _twilio_message_json(sid="SM" + "a" * 32):
    return {"sid": sid, "status": "queued", "account_sid": SID, "to": "+14155550100", "from": "+15005550006"}


def test_twilio_posts_the_form_with_basic_auth_and_our_status_callback(twilio, httpserver):
    path = f"/2010-04-01/Accounts/{SID}/Messages.json"
    httpserver.expect_request(path, method="POST").respond_with_json(_twilio_message_json(), status=201)
    message = _message(41, phone="+14155550100", text="Hi Ann, your coupon ends tomorrow. Reply STOP to unsubscribe")
    assert twilio.send([message]) == [Handed(41, accepted=True, provider_ref="SM" + "a" * 32)]

    [(request, _)] = httpserver.log
    assert request.headers["Authorization"] == "Basic " + base64.b64encode(f"{SID}:{TOKEN}".encode()).decode()
    assert request.content_type == "application/x-www-form-urlencoded"
    assert dict(request.form) == {
        "To": "+14155550100",
        "From": "+15005550006",
        "Body": "Hi Ann, your coupon ends tomorrow. Reply STOP to unsubscribe",
        "StatusCallback": "https://crm.example.com/webhooks/sms/twilio/receipts?message=41",
    }


def test_twilio_without_a_public_address_asks_for_no_callback(twilio, settings, httpserver):
    settings(PUBLIC_BASE_URL=None, TWILIO_FROM="MG" + "b" * 32)  # a Messaging Service
    httpserver.expect_request(f"/2010-04-01/Accounts/{SID}/Messages.json").respond_with_json(
        _twilio_message_json(), status=201
    )
    provider("twilio").send([_message(phone="+14155550100")])
    [(request, _)] = httpserver.log
    assert "StatusCallback" not in request.form and "From" not in request.form
    assert request.form["MessagingServiceSid"] == "MG" + "b" * 32


def test_twilio_refusal_is_recorded_with_its_code(twilio, httpserver):
    httpserver.expect_request(f"/2010-04-01/Accounts/{SID}/Messages.json").respond_with_json(
        {"code": 21610, "message": "Attempt to send to unsubscribed recipient", "status": 400}, status=400
    )
    [handed] = twilio.send([_message(phone="+14155550100")])
    assert not handed.accepted
    assert handed.error.startswith("21610 ") and "unsubscribed recipient" in handed.error


def test_twilio_server_error_leaves_the_outcome_unknown(twilio, httpserver):
    httpserver.expect_request(f"/2010-04-01/Accounts/{SID}/Messages.json").respond_with_json(
        {"code": 20500, "message": "Internal Server Error", "status": 500}, status=500
    )
    with pytest.raises(Exception, match="Internal Server Error"):
        twilio.send([_message(phone="+14155550100")])
    assert len(httpserver.log) == 1  # never retried


# --- servers that never answer, or drop the call ---------------------------------------------


@contextlib.contextmanager
def broken_server(behaviour: str):
    """A loopback server that reads a request and then never answers ("hang") or closes the
    connection ("drop"). Yields its port."""
    listener = socket.create_server(("127.0.0.1", 0))
    held = []

    def serve():
        while True:
            try:
                connection, _ = listener.accept()
            except OSError:  # closed: the test is over
                return
            connection.recv(65536)
            if behaviour == "drop":
                connection.close()
            else:
                held.append(connection)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        with contextlib.suppress(OSError):
            listener.shutdown(socket.SHUT_RDWR)
        listener.close()
        for connection in held:
            connection.close()
        thread.join(timeout=5)


# The SDKs' own errors (requests' for Twilio, wrapped by Aliyun's): what matters is that the
# adapter raises, so the engine records the outcome as unknown and never resends.
BROKEN = {"hang": "timed out", "drop": "aborted|reset|Broken pipe"}


@pytest.mark.parametrize("behaviour", BROKEN)
def test_aliyun_raises_when_the_server_hangs_or_drops(aliyun, settings, behaviour):
    with broken_server(behaviour) as port:
        settings(ALIYUN_SMS_ENDPOINT=f"127.0.0.1:{port}", SMS_SEND_TIMEOUT_SECONDS=0.3)
        with pytest.raises(Exception, match=BROKEN[behaviour]):
            provider("aliyun").send([_message()])


@pytest.mark.parametrize("behaviour", BROKEN)
def test_twilio_raises_when_the_server_hangs_or_drops(twilio, settings, behaviour):
    with broken_server(behaviour) as port:
        settings(TWILIO_API_BASE_URL=f"http://127.0.0.1:{port}", SMS_SEND_TIMEOUT_SECONDS=0.3)
        with pytest.raises(Exception, match=BROKEN[behaviour]):
            provider("twilio").send([_message(phone="+14155550100")])
