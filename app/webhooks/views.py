"""POST /webhooks/sms/<provider>/receipts and …/replies.

Providers that cannot sign their pushes (log, Aliyun) are given URLs with a secret as the
segment before the last, /webhooks/sms/aliyun/<secret>/receipts; Twilio signs its requests and
uses /webhooks/sms/twilio/receipts. The secret is the whole credential: it is compared in
constant time, and the portal writes it nowhere (its refusals and log lines name the provider
only); the web server's access log and any proxy in front see the path, so keep those logs
private, or drop the path from them.

Answers: an unknown provider, or one whose webhook credential is not set, 404; a wrong secret
or signature 403; a body that is not what the provider sends 400 (nothing of it recorded); a
body over WEBHOOK_MAX_BYTES 413. No rate limit: providers push in bursts. Receipts are taken for
every configured provider, not only SMS_PROVIDER: messages sent before a switch still settle.
"""

import logging

from flask import request

from ..extensions import db
from ..sending import inbound
from ..sending.providers import PROVIDER_NAMES, Provider, WebhookRefused, provider
from . import bp

logger = logging.getLogger(__name__)

# A push holds a few hundred receipts at most (~300 bytes each).
WEBHOOK_MAX_BYTES = 1024 * 1024
TEXT = {"Content-Type": "text/plain; charset=utf-8"}


@bp.before_request
def limit_body_size():
    # (Setting request.max_content_length would come too late: the app's NUL check has opened
    # the body's stream already, under the uploads' limit.)
    if (request.content_length or 0) > WEBHOOK_MAX_BYTES:
        return "the body is too large", 413, TEXT
    return None


@bp.post("/sms/<provider_name>/receipts", defaults={"secret": None})
@bp.post("/sms/<provider_name>/<secret>/receipts")
def receipts(provider_name: str, secret: str | None):
    adapter = _adapter(provider_name)
    if adapter is None:
        return "no such provider", 404, TEXT
    try:
        read = adapter.receipts(request)
    except WebhookRefused as refused:
        return _refusal(provider_name, "receipts", refused)
    inbound.record_receipts(adapter.name, read)
    db.session.commit()
    return adapter.webhook_answer()


@bp.post("/sms/<provider_name>/replies", defaults={"secret": None})
@bp.post("/sms/<provider_name>/<secret>/replies")
def replies(provider_name: str, secret: str | None):
    adapter = _adapter(provider_name)
    if adapter is None:
        return "no such provider", 404, TEXT
    try:
        read = adapter.replies(request)
    except WebhookRefused as refused:
        return _refusal(provider_name, "replies", refused)
    inbound.record_replies(adapter.name, read)
    db.session.commit()
    return adapter.webhook_answer()


def _adapter(name: str) -> Provider | None:
    return provider(name) if name in PROVIDER_NAMES else None


def _refusal(provider_name: str, kind: str, refused: WebhookRefused):
    logger.warning("%s %s webhook refused (%d): %s", provider_name, kind, refused.status, refused.message)
    return refused.message, refused.status, TEXT
