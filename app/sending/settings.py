"""The shop's sending settings (SPEC §7): its send windows and the marketing frequency cap.

One SendingSettings row (id 1) holds them once an admin has saved them; until then the
defaults apply. Services never commit: the caller does.
"""

from dataclasses import dataclass, replace
from datetime import datetime

from .. import audit_log
from ..extensions import db
from ..models import AuditAction, MessageKind, SendingSettings, User
from ..shop_calendar import shop_zone
from . import windows
from .windows import Curfew, WeekWindows

ROW_ID = 1


@dataclass(frozen=True)
class Settings:
    windows: WeekWindows
    marketing_cap: int  # marketing SMS a customer receives at most …
    cap_days: int  # … in this many days


DEFAULTS = Settings(windows=windows.DEFAULT_WINDOWS, marketing_cap=2, cap_days=7)


def load() -> Settings:
    """The saved settings, or the defaults while none were saved (nothing is written)."""
    row = db.session.get(SendingSettings, ROW_ID)
    if row is None:
        return replace(DEFAULTS, windows=dict(DEFAULTS.windows))  # a copy: the caller may change it
    return Settings(windows.from_stored(row.windows), row.marketing_cap, row.cap_days)


def _stored(settings: Settings) -> dict:
    return {
        "windows": windows.to_stored(settings.windows),
        "marketing_cap": settings.marketing_cap,
        "cap_days": settings.cap_days,
    }


def save(week: WeekWindows, marketing_cap: int, cap_days: int, actor: User) -> Settings:
    """Keep the settings in row 1 (made on the first save); the change log gets what changed."""
    week = {day: windows.checked_day(week.get(day, ())) for day in windows.WEEKDAYS}
    new = Settings(week, marketing_cap, cap_days)
    before, after = _stored(load()), _stored(new)
    row = db.session.get(SendingSettings, ROW_ID)
    if row is None:
        row = SendingSettings(id=ROW_ID)
        db.session.add(row)
    row.windows = after["windows"]
    row.marketing_cap = marketing_cap
    row.cap_days = cap_days
    row.updated_by_id = actor.id
    changed = [key for key in after if before[key] != after[key]]
    if changed:
        audit_log.record(
            AuditAction.SEND_WINDOWS_SAVED,
            subject="settings:sending",
            before={key: before[key] for key in changed},
            after={key: after[key] for key in changed},
            actor=actor,
        )
    return new


def windows_for(kind: str, curfew: Curfew, shop: WeekWindows | None = None) -> WeekWindows:
    """The windows a message of `kind` leaves in: the shop's (`shop`, else as saved) for service
    messages, the shop's minus the provider's marketing curfew for marketing ones."""
    shop = shop if shop is not None else load().windows
    if kind == MessageKind.MARKETING:
        return windows.effective(shop, curfew)
    if kind == MessageKind.SERVICE:
        return shop
    raise ValueError(f"no such kind of message: {kind!r}")


def leaves_at(kind: str, queued: datetime, curfew: Curfew) -> datetime:
    """When a message of `kind` queued at the naive-UTC `queued` may leave, as naive UTC
    (NoSendWindow if it never may)."""
    return windows.next_send_time(queued, windows_for(kind, curfew), shop_zone())
