"""Twilio, through its official SDK.

Sending: one message a request (Messages.json takes one `To`), from TWILIO_FROM (a number, or
a Messaging Service when it starts with "MG"). The status callback is
PUBLIC_BASE_URL/webhooks/sms/twilio/receipts?message=<our id>: our id rides in the URL Twilio
signs, so a receipt finds its message even when the worker died before recording Twilio's sid
("outcome unknown"). Without PUBLIC_BASE_URL no receipt comes back (messages stay "sent").
A refusal (HTTP 4xx: a bad number, an unsubscribed recipient) is recorded with Twilio's code and
words; a timeout, a dropped connection or an HTTP 5xx raises: the outcome is unknown, and the
engine never resends it. The SDK's HTTP client retries nothing (no max_retries).

Webhooks: status callbacks at /webhooks/sms/twilio/receipts and incoming messages at
/webhooks/sms/twilio/replies (set as the number's "A message comes in" URL), both signed by
Twilio with the auth token (X-Twilio-Signature) over the URL it requested and the form. That URL
is PUBLIC_BASE_URL + the path and query when PUBLIC_BASE_URL is set (behind a proxy the portal
sees another address), else the request's own. Replies are answered with empty TwiML (no
automatic answer; Twilio itself answers STOP).

Rate: a US long code takes about one message a second, a toll-free number 3, a short code 100+:
TWILIO_RATE_LIMIT says which. Quiet hours are the TCPA's 21:00–08:00, in the shop's time zone
(the engine's clock): a shop texting the US sets SHOP_TIMEZONE to its recipients' zone.
"""

import logging
from datetime import time
from typing import Any

from flask import current_app
from twilio.base.exceptions import TwilioRestException
from twilio.request_validator import RequestValidator
from werkzeug import Request

from . import Handed, Outgoing, Provider, Receipt, Reply, WebhookRefused, reading

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Twilio-Signature"
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'
# Final statuses of a status callback; the others (queued, sending, sent, accepted…) change nothing.
DELIVERED_STATUSES = {"delivered", "read"}
NOT_DELIVERED_STATUSES = {"undelivered", "failed", "canceled"}


class TwilioProvider(Provider):
    name = "twilio"
    counting = "international"
    marketing_curfew = ((time(21, 0), time(8, 0)),)  # TCPA quiet hours
    opt_out_text = "Reply STOP to unsubscribe"
    batch_size = 1
    required_settings = ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_FROM")

    _client: Any = None

    def __init__(self, config):
        super().__init__(config)
        self.rate_limit = int(config.get("TWILIO_RATE_LIMIT") or 1)

    def client(self):
        if self._client is None:
            # Imported here: the REST client takes ~0.4 s to import, which only senders should pay.
            from twilio.http.http_client import TwilioHttpClient
            from twilio.rest import Client

            sid = self.config["TWILIO_ACCOUNT_SID"]
            http_client = TwilioHttpClient(timeout=float(self.config["SMS_SEND_TIMEOUT_SECONDS"]))
            self._client = Client(sid, self.config["TWILIO_AUTH_TOKEN"], account_sid=sid, http_client=http_client)
            if self.config.get("TWILIO_API_BASE_URL"):
                self._client.api.base_url = self.config["TWILIO_API_BASE_URL"].rstrip("/")
        return self._client

    def status_callback(self, message_id: int) -> str | None:
        base = self.config.get("PUBLIC_BASE_URL")
        if not base:
            return None
        path = current_app.url_map.bind("").build("webhooks.receipts", {"provider_name": self.name})
        return f"{base.rstrip('/')}{path}?message={message_id}"

    def send(self, batch: list[Outgoing]) -> list[Handed]:
        if len(batch) > self.batch_size:
            raise ValueError(f"Twilio takes {self.batch_size} message a request, not {len(batch)}")
        return [self._send_one(message) for message in batch]

    def _send_one(self, message: Outgoing) -> Handed:
        sender = self.config["TWILIO_FROM"]
        options = {"messaging_service_sid": sender} if sender.startswith("MG") else {"from_": sender}
        callback = self.status_callback(message.message_id)
        if callback:
            options["status_callback"] = callback
        try:
            created = self.client().messages.create(to=message.phone, body=message.text, **options)
        except TwilioRestException as error:
            if not isinstance(error.status, int) or error.status >= 500:
                raise  # Twilio's own trouble: it may or may not have taken the message
            return Handed(message.message_id, accepted=False, error=reading.error_text(error.code, error.msg))
        return Handed(message.message_id, accepted=True, provider_ref=created.sid)

    def receipts(self, request: Request) -> list[Receipt]:
        """A status callback: MessageSid, MessageStatus, ErrorCode; our id in `message` of the URL."""
        self.check_signature(request)
        sid = reading.ref(request.form.get("MessageSid"), "MessageSid", required=True)
        status = reading.text(request.form.get("MessageStatus"), "MessageStatus").strip().lower()
        if status not in DELIVERED_STATUSES | NOT_DELIVERED_STATUSES:
            return []  # on its way: nothing to record yet
        delivered = status in DELIVERED_STATUSES
        error_code = reading.text(request.form.get("ErrorCode"), "ErrorCode", required=False)
        return [
            Receipt(
                message_id=reading.message_id(request.args.get("message")),
                provider_ref=sid,
                delivered=delivered,
                error=None if delivered else reading.error_text(status, f"({error_code})" if error_code else None),
            )
        ]

    def replies(self, request: Request) -> list[Reply]:
        """An incoming message: From, Body, MessageSid."""
        self.check_signature(request)
        sid = reading.ref(request.form.get("MessageSid"), "MessageSid", required=True)
        raw_phone = reading.text(request.form.get("From"), "From")
        body = reading.text(request.form.get("Body"), "Body")
        phone = reading.phone(raw_phone, self.config["PHONE_REGION"])
        if phone is None:
            logger.warning("Twilio reply %s left out: %r is not a mobile number", sid, raw_phone[:30])
            return []
        return [Reply(phone=phone, text=body, provider_ref=sid)]

    def webhook_answer(self) -> tuple[str, int, dict]:
        return EMPTY_TWIML, 200, {"Content-Type": "text/xml"}

    def check_signature(self, request: Request) -> None:
        token = self.config.get("TWILIO_AUTH_TOKEN")
        if not token:
            raise WebhookRefused(404, "twilio webhooks are not configured")
        signature = request.headers.get(SIGNATURE_HEADER)
        url = signed_url(request, self.config)
        if not signature or not RequestValidator(token).validate(url, request.form, signature):
            raise WebhookRefused(403, "wrong signature")


def signed_url(request: Request, config) -> str:
    """The URL Twilio requested, as it signed it."""
    base = config.get("PUBLIC_BASE_URL")
    if not base:
        return request.url
    query = request.query_string.decode("utf-8", "replace")
    return f"{base.rstrip('/')}{request.path}{'?' + query if query else ''}"
