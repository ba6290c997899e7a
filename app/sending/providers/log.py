"""The log provider: records what would be sent, so the portal runs with no SMS account.

It counts and forbids like a mainland provider (Aliyun's rules), so what a shop plans with it is
what Aliyun would let through. Every message is accepted; the engine then records its delivery
itself, through `own_receipts` and app.sending.inbound.record_receipts, as a real
provider's receipt would arrive a moment later.

Its webhooks take JSON, behind the secret SMS_LOG_WEBHOOK_SECRET in their path (no secret set:
they do not exist), for trying the receipt and reply paths by hand:
    POST /webhooks/sms/log/<secret>/receipts  [{"message_id": 12, "delivered": false, "error": "busy"}]
    POST /webhooks/sms/log/<secret>/replies   [{"phone": "+8613812345678", "text": "退订", "id": "r1"}]
"""

import json
import logging
from datetime import time

from werkzeug import Request

from . import Handed, Outgoing, Provider, Receipt, Reply, WebhookRefused, reading

logger = logging.getLogger(__name__)


class LogProvider(Provider):
    name = "log"
    counting = "mainland"
    marketing_curfew = ((time(20, 0), time(8, 0)),)
    opt_out_text = "拒收请回复R"
    rate_limit = 100_000  # no real limit: the engine's own speed is what a bench measures
    batch_size = 1000

    def send(self, batch: list[Outgoing]) -> list[Handed]:
        for message in batch:
            # One line per message, whatever line breaks the text holds.
            logger.info(
                "SMS %d to %s: %s", message.message_id, message.phone, json.dumps(message.text, ensure_ascii=False)
            )
        return [Handed(message.message_id, accepted=True, provider_ref=ref(message.message_id)) for message in batch]

    def own_receipts(self, handed: list[Handed]) -> list[Receipt]:
        """The receipts the log provider "sends" for what it accepted: all delivered."""
        return [
            Receipt(message_id=one.message_id, provider_ref=one.provider_ref, delivered=True)
            for one in handed
            if one.accepted
        ]

    def receipts(self, request: Request) -> list[Receipt]:
        reading.check_path_secret(request, self.config.get("SMS_LOG_WEBHOOK_SECRET"), self.name)
        receipts = []
        for item in reading.json_objects(request):
            raw_id = item.get("message_id")
            if not isinstance(raw_id, int) or isinstance(raw_id, bool):
                raise WebhookRefused(400, "message_id is not a number")
            message_id = reading.message_id(raw_id)
            receipts.append(
                Receipt(
                    message_id=message_id,
                    provider_ref=ref(message_id) if message_id else None,
                    delivered=reading.flag(item.get("delivered"), "delivered"),
                    error=reading.error_text(reading.text(item.get("error"), "error", required=False)),
                )
            )
        return receipts

    def replies(self, request: Request) -> list[Reply]:
        reading.check_path_secret(request, self.config.get("SMS_LOG_WEBHOOK_SECRET"), self.name)
        replies = []
        for item in reading.json_objects(request):
            raw_phone = reading.text(item.get("phone"), "phone")
            body = reading.text(item.get("text"), "text")
            provider_ref = reading.ref(item.get("id"), "id")
            phone = reading.phone(raw_phone, self.config["PHONE_REGION"])
            if phone is None:
                logger.warning("log reply from %r left out: not a mobile number", raw_phone[:30])
                continue
            replies.append(Reply(phone=phone, text=body, provider_ref=provider_ref))
        return replies


def ref(message_id: int) -> str:
    return f"log-{message_id}"
