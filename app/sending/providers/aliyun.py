"""Aliyun SMS (dysmsapi 2017-05-25), through its official SDK.

Sending: SendSms, one number a call, rather than SendBatchSms (100 numbers a call, one BizId
and one OutId for all of them):
- each call carries OutId = our message id, which every receipt echoes. A message whose worker
  died after Aliyun accepted it never had its BizId recorded ("outcome unknown"); its receipt
  still finds it by that id, and settles it.
- each message has its own TemplateParam (the customer's name, coupon…) and its own answer: one
  bad number refuses itself, not the 99 others of a batch.
- SendSms is not idempotent (Aliyun's words): a call that times out leaves exactly one message
  unknown, never a hundred.
Aliyun's limit is 5,000 calls a second, so one number a call costs no throughput the engine
could use; `batch_size` is 1.

Answers: Code "OK" is accepted (its BizId kept); another Code, or an HTTP 4xx (bad keys,
throttled), is a refusal, nothing sent. A timeout, a dropped connection, an HTTP 5xx or an
answer that is not Aliyun's raises: the outcome is unknown, and the engine never resends it.
The SDK retries nothing unless told to (its RuntimeOptions.autoretry is off).

Receipts (SmsReport) and replies (SmsUp) come as HTTP pushes registered in Aliyun's console,
unsigned: their URLs carry ALIYUN_WEBHOOK_SECRET,
    /webhooks/sms/aliyun/<secret>/receipts and /webhooks/sms/aliyun/<secret>/replies,
and each is answered {"code": 0, "msg": "接收成功"}. Their times are Beijing time.
"""

import ipaddress
import json
import logging
from datetime import time
from typing import Any
from urllib.parse import urlsplit

from werkzeug import Request

from . import Handed, Outgoing, Provider, Receipt, Reply, reading

logger = logging.getLogger(__name__)

BEIJING = "Asia/Shanghai"
# Aliyun's numbers are mainland numbers without +86 (others with their country code, no "+").
ALIYUN_REGION = "CN"


class AliyunProvider(Provider):
    name = "aliyun"
    counting = "mainland"
    marketing_curfew = ((time(20, 0), time(8, 0)),)  # "no promotional SMS 20:00–08:00"
    opt_out_text = "拒收请回复R"  # marketing templates must end with it
    rate_limit = 5000  # SendSms calls a second, one number each
    batch_size = 1
    needs_template_code = True
    required_settings = ("ALIYUN_ACCESS_KEY_ID", "ALIYUN_ACCESS_KEY_SECRET", "ALIYUN_SIGN_NAME")

    _client: Any = None

    def client(self):
        """The SDK's client, made on first use (the webhooks need no keys). The SDK is imported
        here: it takes a second or more, which only a process that sends should pay."""
        if self._client is None:
            from alibabacloud_dysmsapi20170525.client import Client
            from alibabacloud_tea_openapi.utils_models import Config

            host, protocol = endpoint(self.config["ALIYUN_SMS_ENDPOINT"])
            milliseconds = int(float(self.config["SMS_SEND_TIMEOUT_SECONDS"]) * 1000)
            self._client = Client(
                Config(
                    access_key_id=self.config["ALIYUN_ACCESS_KEY_ID"],
                    access_key_secret=self.config["ALIYUN_ACCESS_KEY_SECRET"],
                    endpoint=host,
                    protocol=protocol,
                    connect_timeout=milliseconds,
                    read_timeout=milliseconds,
                )
            )
        return self._client

    def send(self, batch: list[Outgoing]) -> list[Handed]:
        if len(batch) > self.batch_size:
            raise ValueError(f"Aliyun takes {self.batch_size} message a call, not {len(batch)}")
        return [self._send_one(message) for message in batch]

    def _send_one(self, message: Outgoing) -> Handed:
        from alibabacloud_dysmsapi20170525.models import SendSmsRequest
        from alibabacloud_tea_openapi.exceptions import ClientException, ThrottlingException
        from darabonba.runtime import RuntimeOptions

        if not message.template_code:
            return Handed(message.message_id, accepted=False, error="no Aliyun template code for this message")
        request = SendSmsRequest(
            phone_numbers=aliyun_number(message.phone),
            sign_name=self.config["ALIYUN_SIGN_NAME"],
            template_code=message.template_code,
            template_param=json.dumps(message.params, ensure_ascii=False) if message.params else None,
            out_id=str(message.message_id),
        )
        try:
            response = self.client().send_sms_with_options(request, RuntimeOptions(autoretry=False))
        except (ClientException, ThrottlingException) as error:  # an HTTP 4xx: refused, nothing sent
            return Handed(message.message_id, accepted=False, error=reading.error_text(error.code, error.message))
        body = response.body
        if body is None or not body.code:
            raise RuntimeError(f"Aliyun answered SendSms without a Code (HTTP {response.status_code})")
        if body.code == "OK":
            return Handed(message.message_id, accepted=True, provider_ref=(body.biz_id or None))
        return Handed(message.message_id, accepted=False, error=reading.error_text(body.code, body.message))

    def receipts(self, request: Request) -> list[Receipt]:
        """SmsReport: [{"phone_number", "send_time", "report_time", "success", "err_code",
        "err_msg", "sms_size", "biz_id", "out_id"}, …]."""
        reading.check_path_secret(request, self.config.get("ALIYUN_WEBHOOK_SECRET"), self.name)
        receipts = []
        for item in reading.json_objects(request):
            delivered = reading.flag(item.get("success"), "success")
            error = None
            if not delivered:
                error = reading.error_text(
                    reading.text(item.get("err_code"), "err_code", required=False),
                    reading.text(item.get("err_msg"), "err_msg", required=False),
                )
            receipts.append(
                Receipt(
                    message_id=reading.message_id(reading.ref(item.get("out_id"), "out_id")),
                    provider_ref=reading.ref(item.get("biz_id"), "biz_id"),
                    delivered=delivered,
                    error=error,
                    at=reading.local_time(item.get("report_time"), BEIJING),
                )
            )
        return receipts

    def replies(self, request: Request) -> list[Reply]:
        """SmsUp: [{"phone_number", "content", "send_time", "dest_code", "sequence_id", "sign_name"}, …]."""
        reading.check_path_secret(request, self.config.get("ALIYUN_WEBHOOK_SECRET"), self.name)
        replies = []
        for item in reading.json_objects(request):
            raw_phone = reading.text(item.get("phone_number"), "phone_number")
            content = reading.text(item.get("content"), "content")
            sequence_id = reading.ref(item.get("sequence_id"), "sequence_id")
            phone = reading.phone(raw_phone, ALIYUN_REGION)
            if phone is None:
                logger.warning("Aliyun reply %s left out: %r is not a mobile number", sequence_id, raw_phone[:30])
                continue
            replies.append(
                Reply(
                    phone=phone,
                    text=content,
                    provider_ref=sequence_id,
                    at=reading.local_time(item.get("send_time"), BEIJING),
                )
            )
        return replies

    def webhook_answer(self) -> tuple[str, int, dict]:
        return json.dumps({"code": 0, "msg": "接收成功"}, ensure_ascii=False), 200, {"Content-Type": "application/json"}


def endpoint(setting: str) -> tuple[str, str]:
    """(host[:port], protocol) of ALIYUN_SMS_ENDPOINT: HTTPS always, except on loopback (the
    tests' fake server), so the keys' signatures never cross a network in clear."""
    parts = urlsplit(setting if "//" in setting else f"//{setting}")
    try:
        loopback = parts.hostname == "localhost" or ipaddress.ip_address(parts.hostname or "").is_loopback
    except ValueError:
        loopback = False
    return parts.netloc, "http" if loopback else "https"


def aliyun_number(e164: str) -> str:
    """How SendSms takes a number: 13812345678 for the mainland, 85212345678 elsewhere."""
    return e164[3:] if e164.startswith("+86") else e164.lstrip("+")
