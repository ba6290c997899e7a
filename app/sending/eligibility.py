"""Who may receive a message (SPEC §6–7): checked when it is planned and again right before it
is handed to the provider."""

from dataclasses import dataclass

from ..models import MessageKind, SkipReason


@dataclass(frozen=True)
class Recipient:
    phone: str | None  # E.164; None when the customer has no valid phone
    blacklisted: bool
    flagged: bool  # a bad reviewer or picky: no marketing
    recent_marketing: int  # marketing messages sent to them within the cap's days


def skip_reason(recipient: Recipient, kind: str, marketing_cap: int) -> SkipReason | None:
    """Why `recipient` must not get a message of `kind`, or None when they may."""
    if not recipient.phone:
        return SkipReason.NO_PHONE
    if recipient.blacklisted:
        return SkipReason.BLACKLISTED  # no SMS of any kind
    if kind == MessageKind.MARKETING:
        if recipient.flagged:
            return SkipReason.FLAGGED
        if recipient.recent_marketing >= marketing_cap:
            return SkipReason.FREQUENCY_CAP
    return None
