"""Send windows (SPEC §7): the hours in which SMS may leave, as plain functions over plain values.

A shop's week is a `WeekWindows`: for each weekday (0 = Monday … 6 = Sunday) its windows in
shop time, sorted and not overlapping. A window (opening, closing) includes its opening instant
and excludes its closing one: 09:30–12:00 takes 09:30:00 up to 11:59:59.999999. A window never
runs past midnight; a closing time of `MIDNIGHT` (00:00) means the end of the day, 24:00, and
is stored and typed as "24:00".

Whether a moment is inside a window is read on the shop's clock: a stored (naive UTC) moment
becomes the shop's local time, and its weekday and time of day are looked up. So across the
changes of daylight saving time:
- a window opening at a time the clock skips (02:30 on America/New_York's spring-forward day)
  opens at the first instant that exists after it (03:00 EDT); a window lying wholly in the
  skipped hour does not happen that day;
- hours the clock shows twice (01:00–02:00 on the fall-back day) are inside a window both
  times: a window opening at 01:30 opens at the first 01:30 (EDT), closes at 02:00 EST, and is
  closed between the first 02:00 and the second 01:30, when the clock reads before its opening.

A provider's marketing curfew is a tuple of (start, end) in shop time, the same every day; an
end not after its start runs past midnight (Aliyun: (20:00, 08:00)), so start == end forbids
the whole day. `effective` takes the curfew's hours out of the shop's windows.

Nothing here reads the database or the app's settings: app.sending.settings does.
"""

import re
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask_babel import lazy_gettext as _l

Window = tuple[time, time]
WeekWindows = dict[int, tuple[Window, ...]]
Curfew = tuple[tuple[time, time], ...]

MIDNIGHT = time(0, 0)  # as a closing time: 24:00, the end of the day
WEEKDAYS = range(7)  # Monday first, as datetime.weekday()
MAX_WINDOWS_A_DAY = 12

DAY = timedelta(days=1)
DEFAULT_WINDOWS: WeekWindows = {
    day: ((time(9, 30), time(12, 0)), (time(14, 0), time(18, 0)), (time(20, 0), time(22, 0))) for day in WEEKDAYS
}


class NoSendWindow(Exception):
    """The week has no window at all: no message would ever leave."""


class BadWindows(ValueError):
    """What was typed (or stored) is no day's windows; str() says why, in the reader's language."""


@dataclass(frozen=True)
class Cut:
    """A shop window the provider's marketing curfew cuts: what is left of it (nothing, or pieces)."""

    weekday: int
    window: Window
    left: tuple[Window, ...]


# --- times of day as durations since midnight ---------------------------------------------------


def _since_midnight(moment: time) -> timedelta:
    return timedelta(hours=moment.hour, minutes=moment.minute, seconds=moment.second, microseconds=moment.microsecond)


def _opening(window: Window) -> timedelta:
    return _since_midnight(window[0])


def _closing(window: Window) -> timedelta:
    return DAY if window[1] == MIDNIGHT else _since_midnight(window[1])


def _window(start: timedelta, end: timedelta) -> Window:
    def of_day(span: timedelta) -> time:
        return MIDNIGHT if span >= DAY else (datetime.min + span).time()

    return of_day(start), of_day(end)


# --- reading and writing ------------------------------------------------------------------------

_TIME = r"(\d{1,2})\s*[:：]\s*(\d{2})"
_WINDOW = re.compile(_TIME + r"\s*[-–—~～至到]\s*" + _TIME)
_SEPARATORS = re.compile(r"[\s,，、;；]*")


def _time_of_day(hours: str, minutes: str, closing: bool) -> time:
    hour, minute = int(hours), int(minutes)
    if closing and (hour, minute) == (24, 0):
        return MIDNIGHT
    if hour > 23 or minute > 59:
        typed = f"{hours}:{minutes}"
        raise BadWindows(_l("%(time)s is not a time of day.", time=typed))
    return time(hour, minute)


def text(windows: tuple[Window, ...]) -> str:
    """A day's windows as typed in the settings form: "09:30-12:00, 14:00-18:00" (parse_day reads it)."""
    return ", ".join(f"{_clock(opening)}-{_clock(closing, closing=True)}" for opening, closing in windows)


def _clock(moment: time, closing: bool = False) -> str:
    if closing and moment == MIDNIGHT:
        return "24:00"
    return moment.isoformat(timespec="minutes" if not (moment.second or moment.microsecond) else "auto")


def parse_day(typed: str) -> tuple[Window, ...]:
    """One day's windows as typed ("09:30-12:00, 14:00-18:00"; nothing: no window that day).

    Windows may be typed in any order; they are returned sorted. BadWindows says what is wrong.
    """
    typed = typed or ""
    found = list(_WINDOW.finditer(typed))
    edges = [0, *(edge for match in found for edge in match.span()), len(typed)]
    rest = [typed[a:b] for a, b in zip(edges[::2], edges[1::2], strict=True) if not _SEPARATORS.fullmatch(typed[a:b])]
    if rest:
        raise BadWindows(
            _l(
                "Could not read “%(text)s”. Write each window as 09:30-12:00, separated by commas.",
                text=rest[0].strip()[:20],
            )
        )
    windows = [(_time_of_day(m[1], m[2], closing=False), _time_of_day(m[3], m[4], closing=True)) for m in found]
    return checked_day(windows)


def checked_day(windows) -> tuple[Window, ...]:
    """A day's windows sorted, or BadWindows if one is empty or two overlap."""
    if len(windows) > MAX_WINDOWS_A_DAY:
        raise BadWindows(_l("At most %(count)d windows a day.", count=MAX_WINDOWS_A_DAY))
    for window in windows:
        if _closing(window) <= _opening(window):
            raise BadWindows(
                _l("%(window)s: a window must end after it opens (24:00 is midnight).", window=text((window,)))
            )
    ordered = sorted(windows, key=_opening)
    for earlier, later in zip(ordered, ordered[1:], strict=False):
        if _opening(later) < _closing(earlier):
            raise BadWindows(_l("%(first)s and %(second)s overlap.", first=text((earlier,)), second=text((later,))))
    return tuple(ordered)


def from_stored(stored: dict) -> WeekWindows:
    """The week as SendingSettings.windows keeps it: {"0": [["09:30", "12:00"], ...], ...}.

    A weekday missing from it has no window. BadWindows if it holds anything else.
    """
    week: WeekWindows = {}
    for day in WEEKDAYS:
        windows = []
        for pair in stored.get(str(day), []):
            try:
                opening, closing = pair
                windows.append((_stored_time(opening, False), _stored_time(closing, True)))
            except (TypeError, ValueError) as error:
                raise BadWindows(f"weekday {day}: {pair!r} is not a window") from error
        week[day] = checked_day(windows)
    return week


def _stored_time(value: str, closing: bool) -> time:
    if closing and value == "24:00":
        return MIDNIGHT
    return time.fromisoformat(value)


def to_stored(week: WeekWindows) -> dict:
    return {
        str(day): [[_clock(opening), _clock(closing, closing=True)] for opening, closing in week.get(day, ())]
        for day in WEEKDAYS
    }


# --- the provider's curfew ----------------------------------------------------------------------


def _forbidden(curfew: Curfew) -> list[tuple[timedelta, timedelta]]:
    """The curfew as spans of one day, [start, end) each."""
    spans = []
    for start, end in curfew:
        a, b = _since_midnight(start), _since_midnight(end)
        if b > a:
            spans.append((a, b))
        else:  # runs past midnight: to the day's end, and from its start
            spans.append((a, DAY))
            if b > timedelta(0):
                spans.append((timedelta(0), b))
    return spans


def _without(span: tuple[timedelta, timedelta], forbidden) -> list[tuple[timedelta, timedelta]]:
    pieces = [span]
    for a, b in forbidden:
        pieces = [
            piece
            for start, end in pieces
            for piece in ((start, min(end, a)), (max(start, b), end))
            if piece[1] > piece[0]
        ]
    return sorted(pieces)


def effective(shop: WeekWindows, curfew: Curfew) -> WeekWindows:
    """The shop's windows minus the provider's forbidden hours (for marketing messages)."""
    forbidden = _forbidden(curfew)
    return {
        day: tuple(
            _window(*piece)
            for window in shop.get(day, ())
            for piece in _without((_opening(window), _closing(window)), forbidden)
        )
        for day in WEEKDAYS
    }


def cuts(shop: WeekWindows, effective: WeekWindows) -> list[Cut]:
    """Each shop window that is not whole in `effective`, with what is left of it."""
    found = []
    for day in WEEKDAYS:
        for window in shop.get(day, ()):
            left = tuple(
                piece
                for piece in effective.get(day, ())
                if _opening(window) <= _opening(piece) and _closing(piece) <= _closing(window)
            )
            if left != (window,):
                found.append(Cut(day, window, left))
    return found


# --- when a message leaves ----------------------------------------------------------------------


def _offset(moment: datetime, zone: ZoneInfo) -> timedelta:
    """The shop clock's offset from UTC at the naive-UTC `moment`."""
    return moment.replace(tzinfo=UTC).astimezone(zone).utcoffset()


def _open_on_clock(clock: datetime, week: WeekWindows) -> bool:
    since = clock - datetime.combine(clock.date(), MIDNIGHT)
    return any(_opening(w) <= since < _closing(w) for w in week.get(clock.weekday(), ()))


def is_open(moment: datetime, windows: WeekWindows, zone: ZoneInfo) -> bool:
    """Whether the naive-UTC `moment` is inside a window on the shop's clock."""
    return _open_on_clock(moment + _offset(moment, zone), windows)


def _has_window(week: WeekWindows) -> bool:
    return any(_closing(w) > _opening(w) for day in WEEKDAYS for w in week.get(day, ()))


def _next_open_on_clock(clock: datetime, week: WeekWindows) -> datetime:
    """The first clock reading at or after `clock` inside a window, as if the clock never jumped."""
    day = datetime.combine(clock.date(), MIDNIGHT)
    since = clock - day
    for ahead in range(8):
        start = day + ahead * DAY
        for window in week.get(start.weekday(), ()):
            if _closing(window) <= _opening(window):
                continue
            if ahead == 0 and _opening(window) <= since < _closing(window):
                return clock
            if ahead or _opening(window) > since:
                return start + _opening(window)
    raise NoSendWindow


# How far apart two checks of the zone's offset are: a change of the offset is found between
# them. Two changes that undo each other within this span would be missed; no zone has any.
_OFFSET_CHECK = timedelta(hours=6)


def _first_change(start: datetime, end: datetime, offset: timedelta, zone: ZoneInfo) -> datetime | None:
    """The first instant in (start, end] at which the zone's offset is no longer `offset`."""
    checked = start
    while checked < end:
        later = min(checked + _OFFSET_CHECK, end)
        if _offset(later, zone) != offset:
            before, after = checked, later  # the change is in (before, after]
            while after - before > timedelta(microseconds=1):
                middle = before + (after - before) // 2
                if _offset(middle, zone) == offset:
                    before = middle
                else:
                    after = middle
            return after
        checked = later
    return None


def next_send_time(moment: datetime, windows: WeekWindows, zone: ZoneInfo) -> datetime:
    """When a message due at the naive-UTC `moment` may leave, as naive UTC: `moment` itself if
    it is inside a window on the shop's clock, else the next window's opening.

    NoSendWindow if the week has no window. Within each stretch of time in which the zone's
    offset stays the same, the clock runs evenly; where it jumps (daylight saving time), the
    search goes on from the jump.
    """
    if not _has_window(windows):
        raise NoSendWindow
    start = moment
    for _ in range(100):  # a zone changes its offset a few times a year at most
        offset = _offset(start, zone)
        candidate = _next_open_on_clock(start + offset, windows) - offset
        change = _first_change(start, candidate, offset, zone)
        if change is None:
            return candidate
        start = change
    raise NoSendWindow
