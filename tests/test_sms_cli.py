"""`flask sms parts`: what a text costs to send, counted as the provider bills it."""

import json

import pytest


@pytest.fixture(autouse=True)
def shop(app, monkeypatch):
    monkeypatch.setitem(app.config, "SHOP_NAME", "示例小店")
    monkeypatch.setitem(app.config, "SMS_PROVIDER", "log")


def _parts(app, *args):
    result = app.test_cli_runner().invoke(args=["sms", "parts", *args])
    return result, (json.loads(result.stdout) if result.stdout.strip() else None)


def test_sms_parts_counts_the_text_as_it_would_be_sent(app):
    result, answer = _parts(app, "亲，您的订单已发货")
    assert result.exit_code == 0
    assert answer == {"text": "【示例小店】亲，您的订单已发货拒收请回复R", "length": 21, "encoding": None, "parts": 1}
    _, answer = _parts(app, "--kind", "service", "好" * 65)  # 6 + 65 = 71
    assert (answer["length"], answer["parts"]) == (71, 2)


def test_sms_parts_counts_as_the_provider_given(app):
    _, answer = _parts(app, "--provider", "twilio", "--bare", "a" * 152 + "{" + "a" * 152)
    assert (answer["length"], answer["encoding"], answer["parts"]) == (306, "GSM-7", 3)
    _, answer = _parts(app, "--provider", "twilio", "--kind", "marketing", "Hi")
    assert answer["text"] == "【示例小店】Hi Reply STOP to unsubscribe" and answer["encoding"] == "UCS-2"


def test_sms_parts_fails_past_the_maximum(app):
    result, answer = _parts(app, "--bare", "中" * 501)
    assert result.exit_code == 1
    assert answer["length"] == 501 and answer["parts"] == 8
    assert "too long: 501 of at most 500" in result.stderr


def test_sms_parts_refuses_an_unknown_provider(app):
    result, _ = _parts(app, "--provider", "nope", "x")
    assert result.exit_code == 2 and "one of log, aliyun, twilio" in result.stderr
