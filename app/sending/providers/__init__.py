"""SMS providers: one small adapter each, behind the interface below (SPEC §7).

The engine hands an adapter a batch of messages and records its answer per message; the
webhooks hand it the provider's HTTP request and get receipts and replies back
(app.sending.inbound records them). Which adapter sends is the SMS_PROVIDER setting;
`provider()` makes it.
"""

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, time
from typing import Any

from flask import current_app
from werkzeug import Request


@dataclass(frozen=True)
class Outgoing:
    """One message as the provider gets it."""

    message_id: int  # ours; providers that carry an id of the caller's get it (Aliyun OutId)
    phone: str  # E.164
    text: str  # the final text: signature and, for marketing, the opt-out text included
    template_code: str | None = None  # the approved template, for providers that need one
    params: dict[str, str] | None = None  # the approved template's variables


@dataclass(frozen=True)
class Handed:
    """The provider's answer for one message of a batch."""

    message_id: int
    accepted: bool
    provider_ref: str | None = None  # the provider's id of it (Aliyun BizId, Twilio sid)
    error: str | None = None  # the provider's words when it refused


@dataclass(frozen=True)
class Receipt:
    """A delivery receipt: did a message arrive. Matched by our id when the provider echoes it,
    else by the provider's id."""

    message_id: int | None
    provider_ref: str | None
    delivered: bool
    error: str | None = None
    at: datetime | None = None  # naive UTC


@dataclass(frozen=True)
class Reply:
    """An SMS a customer sent back."""

    phone: str  # E.164
    text: str
    provider_ref: str | None = None  # the provider's id of the reply: recorded once
    at: datetime | None = None  # naive UTC


class WebhookRefused(Exception):
    """A webhook request that is not authentic or not understood: answered with `status`."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


class Provider(ABC):
    """One provider's adapter, made from the app's settings. One instance may send many
    batches (it keeps its HTTP connection); it holds no state of the messages."""

    name: str
    # How the provider bills length: "mainland" or "international" (app.sending.texts.count).
    counting: str
    # Shop-time hours in which the provider forbids marketing SMS, each (start, end); an end
    # before its start runs past midnight (Aliyun: 20:00–08:00).
    marketing_curfew: tuple[tuple[time, time], ...] = ()
    opt_out_text: str = ""  # appended to every marketing message
    rate_limit: int  # messages a second the provider takes (its published figure)
    batch_size: int  # messages one send() takes at most
    needs_template_code: bool = False  # sends only templates approved in its console
    # Settings it cannot send without (checked when the app starts, for SMS_PROVIDER).
    required_settings: tuple[str, ...] = ()

    def __init__(self, config: Mapping[str, Any]):
        self.config = config

    @abstractmethod
    def send(self, batch: list[Outgoing]) -> list[Handed]:
        """Hand `batch` over; one Handed per message. Raises only when the call's outcome is
        unknown (a timeout, a dropped connection): the engine then never resends blindly."""

    @abstractmethod
    def receipts(self, request: Request) -> list[Receipt]:
        """Authenticate and read a delivery-receipt webhook; WebhookRefused if it is not one."""

    @abstractmethod
    def replies(self, request: Request) -> list[Reply]:
        """Authenticate and read an inbound-reply webhook; WebhookRefused if it is not one."""

    def own_receipts(self, handed: list[Handed]) -> list[Receipt]:
        """Receipts the adapter makes itself for what it accepted (the log provider's); a real
        provider sends its own to the webhooks."""
        return []

    def webhook_answer(self) -> tuple[str, int, dict]:
        """What the provider expects back from a webhook it delivered."""
        return "", 204, {}


PROVIDER_NAMES = ("log", "aliyun", "twilio")


def _adapter_class(name: str) -> type[Provider]:
    # Imported here: the adapters import this module's dataclasses.
    from .aliyun import AliyunProvider
    from .log import LogProvider
    from .twilio import TwilioProvider

    classes = {"log": LogProvider, "aliyun": AliyunProvider, "twilio": TwilioProvider}
    if name not in classes:
        raise ValueError(f"unknown SMS provider {name!r}: one of {', '.join(PROVIDER_NAMES)}")
    return classes[name]


def provider(name: str | None = None) -> Provider:
    """The adapter of provider `name` (default: the SMS_PROVIDER setting), made from the app's
    settings. ValueError for a name that is no provider."""
    config = current_app.config
    return _adapter_class(name or config["SMS_PROVIDER"])(config)


def check_settings(config: Mapping[str, Any]) -> None:
    """Refuse to start with an SMS_PROVIDER that is unknown or lacks settings it needs."""
    try:
        adapter = _adapter_class(config["SMS_PROVIDER"])
    except ValueError as error:
        raise RuntimeError(f"SMS_PROVIDER: {error}") from None
    missing = [setting for setting in adapter.required_settings if not config.get(setting)]
    if missing:
        raise RuntimeError(f"SMS_PROVIDER={adapter.name} needs {', '.join(missing)}")
