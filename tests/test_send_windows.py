"""Send windows (app.sending.windows): when a message may leave, on the shop's clock (SPEC §7)."""

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.sending.windows import (
    DEFAULT_WINDOWS,
    MIDNIGHT,
    BadWindows,
    Cut,
    NoSendWindow,
    cuts,
    effective,
    from_stored,
    is_open,
    next_send_time,
    parse_day,
    text,
    to_stored,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
ALIYUN = ((time(20, 0), time(8, 0)),)


def utc(zone: ZoneInfo, *local, fold: int = 0) -> datetime:
    """The naive-UTC moment at which the clock of `zone` reads `local` (the later reading: fold=1)."""
    return datetime(*local, fold=fold, tzinfo=zone).astimezone(UTC).replace(tzinfo=None)


def on_clock(moment: datetime, zone: ZoneInfo) -> datetime:
    return moment.replace(tzinfo=UTC).astimezone(zone)


def every_day(*windows) -> dict:
    return {day: tuple(windows) for day in range(7)}


# --- the edges of the default windows, in Asia/Shanghai (2024-06-03 is a Monday) ------------------


@pytest.mark.parametrize(
    "queued, leaves",
    [
        ((2024, 6, 3, 9, 29, 59), (2024, 6, 3, 9, 30)),
        ((2024, 6, 3, 9, 30), (2024, 6, 3, 9, 30)),
        ((2024, 6, 3, 11, 59, 59), (2024, 6, 3, 11, 59, 59)),  # the last second leaves at once
        ((2024, 6, 3, 12, 0, 0), (2024, 6, 3, 14, 0)),  # the closing minute is outside
        ((2024, 6, 3, 17, 59, 59), (2024, 6, 3, 17, 59, 59)),
        ((2024, 6, 3, 21, 59, 59), (2024, 6, 3, 21, 59, 59)),
        ((2024, 6, 3, 22, 0, 0), (2024, 6, 4, 9, 30)),  # waits for the next day
        ((2024, 6, 3, 3, 0), (2024, 6, 3, 9, 30)),
    ],
)
def test_a_message_leaves_at_once_inside_a_window_or_at_the_next_opening(queued, leaves):
    moment = utc(SHANGHAI, *queued)
    assert next_send_time(moment, DEFAULT_WINDOWS, SHANGHAI) == utc(SHANGHAI, *leaves)
    assert is_open(moment, DEFAULT_WINDOWS, SHANGHAI) == (queued == leaves)


def test_the_result_is_naive_utc_and_keeps_the_moment_to_the_microsecond():
    moment = datetime(2024, 6, 3, 3, 59, 59, 999999)  # 11:59:59.999999 in Shanghai
    assert next_send_time(moment, DEFAULT_WINDOWS, SHANGHAI) == moment
    assert next_send_time(moment + timedelta(microseconds=1), DEFAULT_WINDOWS, SHANGHAI) == datetime(2024, 6, 3, 6)


# --- marketing under the provider's curfew ------------------------------------------------------


def test_aliyuns_curfew_takes_the_evening_window_from_marketing_messages():
    marketing = effective(DEFAULT_WINDOWS, ALIYUN)
    assert marketing[0] == ((time(9, 30), time(12, 0)), (time(14, 0), time(18, 0)))
    assert next_send_time(utc(SHANGHAI, 2024, 6, 3, 19, 0), marketing, SHANGHAI) == utc(SHANGHAI, 2024, 6, 4, 9, 30)
    at = utc(SHANGHAI, 2024, 6, 3, 17, 59, 59)
    assert next_send_time(at, marketing, SHANGHAI) == at
    # A service message keeps the shop's windows: at 19:00 it waits only for 20:00.
    assert next_send_time(utc(SHANGHAI, 2024, 6, 3, 19, 0), DEFAULT_WINDOWS, SHANGHAI) == utc(
        SHANGHAI, 2024, 6, 3, 20, 0
    )


def test_a_curfew_cuts_windows_into_pieces_and_says_where():
    shop = {0: ((time(7, 0), time(9, 0)), (time(19, 0), time(21, 0))), 1: ((time(10, 0), time(11, 0)),)}
    marketing = effective(shop, ALIYUN)
    assert marketing[0] == ((time(8, 0), time(9, 0)), (time(19, 0), time(20, 0)))
    assert marketing[1] == ((time(10, 0), time(11, 0)),)
    assert marketing[2] == ()
    assert cuts(shop, marketing) == [
        Cut(0, (time(7, 0), time(9, 0)), ((time(8, 0), time(9, 0)),)),
        Cut(0, (time(19, 0), time(21, 0)), ((time(19, 0), time(20, 0)),)),
    ]
    # A window the curfew takes whole is left with nothing; a window it does not touch is no cut.
    assert cuts(DEFAULT_WINDOWS, effective(DEFAULT_WINDOWS, ALIYUN))[0] == Cut(0, (time(20, 0), time(22, 0)), ())
    assert len(cuts(DEFAULT_WINDOWS, effective(DEFAULT_WINDOWS, ALIYUN))) == 7
    assert cuts(DEFAULT_WINDOWS, effective(DEFAULT_WINDOWS, ())) == []
    # A curfew in the middle of a window splits it in two.
    middle = effective(every_day((time(9, 0), time(18, 0))), ((time(12, 0), time(13, 0)),))
    assert middle[3] == ((time(9, 0), time(12, 0)), (time(13, 0), time(18, 0)))


def test_curfews_ending_at_midnight_or_round_the_clock():
    late = every_day((time(20, 0), MIDNIGHT))
    assert effective(late, ((time(21, 0), time(0, 0)),))[0] == ((time(20, 0), time(21, 0)),)  # to midnight
    assert effective(late, ((time(23, 0), time(1, 0)),))[0] == ((time(20, 0), time(23, 0)),)
    assert effective(DEFAULT_WINDOWS, ((time(8, 0), time(8, 0)),)) == every_day()  # start == end: all day
    assert effective(DEFAULT_WINDOWS, ((time(0, 0), time(0, 0)),)) == every_day()


def test_no_window_at_all_is_refused():
    with pytest.raises(NoSendWindow):
        next_send_time(datetime(2024, 6, 3), every_day(), SHANGHAI)
    with pytest.raises(NoSendWindow):
        next_send_time(datetime(2024, 6, 3), {}, SHANGHAI)
    only_evenings = every_day((time(20, 0), time(22, 0)))
    with pytest.raises(NoSendWindow):
        next_send_time(datetime(2024, 6, 3), effective(only_evenings, ALIYUN), SHANGHAI)


# --- other zones and days -----------------------------------------------------------------------


def test_a_shop_in_berlin_reads_its_own_clock_summer_and_winter():
    winter = utc(BERLIN, 2024, 1, 15, 12, 30)
    assert winter == datetime(2024, 1, 15, 11, 30)
    assert next_send_time(winter, DEFAULT_WINDOWS, BERLIN) == datetime(2024, 1, 15, 13, 0)  # 14:00 CET
    summer = utc(BERLIN, 2024, 7, 15, 12, 30)
    assert next_send_time(summer, DEFAULT_WINDOWS, BERLIN) == datetime(2024, 7, 15, 12, 0)  # 14:00 CEST
    # One moment, two shops: each reads its own clock.
    moment = datetime(2024, 7, 15, 8, 0)  # 10:00 in Berlin, 16:00 in Shanghai
    assert is_open(moment, DEFAULT_WINDOWS, BERLIN) and is_open(moment, DEFAULT_WINDOWS, SHANGHAI)
    moment = datetime(2024, 7, 15, 12, 30)  # 14:30 in Berlin, 20:30 in Shanghai
    assert is_open(moment, DEFAULT_WINDOWS, BERLIN) and is_open(moment, DEFAULT_WINDOWS, SHANGHAI)
    moment = datetime(2024, 7, 15, 10, 30)  # 12:30 in Berlin, 18:30 in Shanghai
    assert not is_open(moment, DEFAULT_WINDOWS, BERLIN) and not is_open(moment, DEFAULT_WINDOWS, SHANGHAI)
    moment = datetime(2024, 7, 15, 2, 0)  # 04:00 in Berlin, 10:00 in Shanghai
    assert not is_open(moment, DEFAULT_WINDOWS, BERLIN) and is_open(moment, DEFAULT_WINDOWS, SHANGHAI)


def test_a_closed_day_is_skipped():
    week = dict(DEFAULT_WINDOWS)
    week[6] = ()  # Sunday
    saturday_night = utc(SHANGHAI, 2024, 6, 8, 22, 0)
    assert next_send_time(saturday_night, week, SHANGHAI) == utc(SHANGHAI, 2024, 6, 10, 9, 30)  # Monday
    assert not is_open(utc(SHANGHAI, 2024, 6, 9, 10, 0), week, SHANGHAI)
    only_wednesday = {2: ((time(15, 0), time(16, 0)),)}
    assert next_send_time(utc(SHANGHAI, 2024, 6, 5, 16, 0), only_wednesday, SHANGHAI) == utc(
        SHANGHAI, 2024, 6, 12, 15, 0
    )


def test_a_window_closing_at_24_00_takes_the_days_last_instant():
    late = {0: ((time(20, 0), MIDNIGHT),)}
    last = utc(SHANGHAI, 2024, 6, 3, 23, 59, 59, 999999)
    assert is_open(last, late, SHANGHAI)
    assert not is_open(utc(SHANGHAI, 2024, 6, 4, 0, 0), late, SHANGHAI)
    assert next_send_time(utc(SHANGHAI, 2024, 6, 4, 0, 0), late, SHANGHAI) == utc(SHANGHAI, 2024, 6, 10, 20, 0)


def test_spring_forward_a_window_opening_in_the_skipped_hour_opens_at_3_00():
    """2024-03-10, America/New_York: the clock goes from 01:59:59 EST to 03:00:00 EDT."""
    week = {6: ((time(2, 30), time(4, 0)),)}
    at_one = utc(NEW_YORK, 2024, 3, 10, 1, 0)
    leaves = next_send_time(at_one, week, NEW_YORK)
    assert leaves == datetime(2024, 3, 10, 7, 0)
    assert on_clock(leaves, NEW_YORK).strftime("%H:%M %Z") == "03:00 EDT"
    # A window lying wholly in the skipped hour does not happen that day; the next one opens.
    week = {6: ((time(2, 10), time(2, 50)), (time(5, 0), time(6, 0)))}
    assert on_clock(next_send_time(at_one, week, NEW_YORK), NEW_YORK).strftime("%m-%d %H:%M %Z") == "03-10 05:00 EDT"
    # The default windows open at 09:30 EDT that morning, an hour earlier in UTC than the day before.
    saturday_night = utc(NEW_YORK, 2024, 3, 9, 22, 0)
    assert next_send_time(saturday_night, DEFAULT_WINDOWS, NEW_YORK) == datetime(2024, 3, 10, 13, 30)


def test_fall_back_the_hour_shown_twice_is_inside_a_window_both_times():
    """2024-11-03, America/New_York: 01:00–01:59 happens in EDT, then again in EST."""
    week = {6: ((time(1, 30), time(1, 45)),)}
    first_one = utc(NEW_YORK, 2024, 11, 3, 1, 0)  # EDT
    assert first_one == datetime(2024, 11, 3, 5, 0)
    opens = next_send_time(first_one, week, NEW_YORK)
    assert on_clock(opens, NEW_YORK).strftime("%H:%M %Z") == "01:30 EDT"  # the first 01:30
    after_first_pass = utc(NEW_YORK, 2024, 11, 3, 1, 50)  # EDT
    again = next_send_time(after_first_pass, week, NEW_YORK)
    assert again == utc(NEW_YORK, 2024, 11, 3, 1, 30, fold=1) == datetime(2024, 11, 3, 6, 30)
    assert on_clock(again, NEW_YORK).strftime("%H:%M %Z") == "01:30 EST"
    # Between the passes the clock reads 01:00–01:29 EST, before the opening: closed.
    assert not is_open(datetime(2024, 11, 3, 6, 15), week, NEW_YORK)
    # A window over the whole doubled hour is open for two hours of real time.
    doubled = {6: ((time(1, 0), time(2, 0)),)}
    assert all(is_open(datetime(2024, 11, 3, 5, 0) + timedelta(minutes=m), doubled, NEW_YORK) for m in range(120))
    assert not is_open(datetime(2024, 11, 3, 7, 0), doubled, NEW_YORK)  # 02:00 EST
    # The default windows open at 09:30 EST that morning.
    saturday_night = utc(NEW_YORK, 2024, 11, 2, 22, 0)
    assert next_send_time(saturday_night, DEFAULT_WINDOWS, NEW_YORK) == datetime(2024, 11, 3, 14, 30)


def test_a_day_the_clock_skips_whole():
    """Samoa skipped 2011-12-30: after Thursday 23:59:59 (-10) came Saturday 00:00 (+14)."""
    apia = ZoneInfo("Pacific/Apia")
    thursday_night = utc(apia, 2011, 12, 29, 22, 0)
    leaves = next_send_time(thursday_night, DEFAULT_WINDOWS, apia)
    assert on_clock(leaves, apia).strftime("%Y-%m-%d %H:%M") == "2011-12-31 09:30"


# --- reading and writing ------------------------------------------------------------------------


def test_a_day_is_typed_as_windows_separated_by_commas():
    assert parse_day("09:30-12:00, 14:00-18:00, 20:00-22:00") == DEFAULT_WINDOWS[0]
    assert parse_day("20:00-22:00，09:30 – 12:00、14:00~18:00") == DEFAULT_WINDOWS[0]  # any order, CJK marks
    assert parse_day("9:30-12:00") == ((time(9, 30), time(12, 0)),)
    assert parse_day("") == parse_day("  ") == ()  # no window that day
    assert parse_day("20:00-24:00") == parse_day("20:00-00:00") == ((time(20, 0), MIDNIGHT),)
    assert text(parse_day("20:00-24:00, 08:00-09:00")) == "08:00-09:00, 20:00-24:00"


@pytest.mark.parametrize(
    "typed, says",
    [
        ("9-12", "Could not read “9-12”"),
        ("09:30-12:00 and more", "Could not read “and more”"),
        ("25:00-26:00", "25:00 is not a time of day"),
        ("09:60-10:00", "09:60 is not a time of day"),
        ("24:00-24:00", "24:00 is not a time of day"),
        ("12:00-09:30", "12:00-09:30: a window must end after it opens"),
        ("10:00-10:00", "10:00-10:00: a window must end after it opens"),
        ("09:00-12:00, 11:00-13:00", "09:00-12:00 and 11:00-13:00 overlap"),
        (", ".join(f"{h:02d}:00-{h:02d}:30" for h in range(13)), "At most 12 windows a day"),
    ],
)
def test_a_bad_day_says_what_is_wrong(typed, says):
    with pytest.raises(BadWindows) as error:
        parse_day(typed)
    assert says in str(error.value)
    assert isinstance(error.value, ValueError)


def test_windows_are_stored_as_json_and_read_back():
    week = {**DEFAULT_WINDOWS, 5: ((time(20, 0), MIDNIGHT),), 6: ()}
    stored = to_stored(week)
    assert stored["0"] == [["09:30", "12:00"], ["14:00", "18:00"], ["20:00", "22:00"]]
    assert stored["5"] == [["20:00", "24:00"]]
    assert stored["6"] == []
    assert from_stored(stored) == week
    assert from_stored({"0": [["09:30", "12:00"]]})[1] == ()  # a weekday left out has no window
    for broken in ({"0": [["12:00", "09:30"]]}, {"0": [["09:30"]]}, {"0": [["x", "12:00"]]}, {"0": [5]}):
        with pytest.raises(BadWindows):
            from_stored(broken)


# --- any week, any curfew, any moment -----------------------------------------------------------

ZONES = [
    "Asia/Shanghai",
    "America/New_York",
    "Europe/Berlin",
    "Australia/Lord_Howe",  # a half-hour change
    "Asia/Kathmandu",  # +05:45
    "Pacific/Apia",  # a day skipped
    "America/St_Johns",
    "UTC",
]


def _clock(minute: int) -> time:
    return MIDNIGHT if minute == 1440 else time(minute // 60, minute % 60)


@st.composite
def days(draw):
    marks = sorted(draw(st.lists(st.integers(0, 1440), unique=True, max_size=6)))
    if len(marks) % 2:
        marks = marks[:-1]
    return tuple((_clock(a), _clock(b)) for a, b in zip(marks[::2], marks[1::2], strict=True))


weeks = st.fixed_dictionaries({day: days() for day in range(7)})
curfews = st.lists(st.tuples(st.integers(0, 1439).map(_clock), st.integers(0, 1439).map(_clock)), max_size=2).map(tuple)
moments = st.datetimes(min_value=datetime(1900, 1, 2), max_value=datetime(2200, 1, 1))


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(moment=moments, shop=weeks, curfew=curfews, zone=st.sampled_from(ZONES))
def test_the_next_send_time_is_the_first_open_instant_from_the_moment(moment, shop, curfew, zone):
    zone = ZoneInfo(zone)
    week = effective(shop, curfew)
    for day in week.values():  # effective windows are valid windows
        assert parse_day(text(day)) == day
    if not any(week.values()):
        with pytest.raises(NoSendWindow):
            next_send_time(moment, week, zone)
        return
    leaves = next_send_time(moment, week, zone)
    assert leaves >= moment
    assert is_open(leaves, week, zone)
    assert next_send_time(leaves, week, zone) == leaves
    if leaves > moment:
        assert not is_open(moment, week, zone)
        assert not is_open(leaves - timedelta(microseconds=1), week, zone)  # it is an opening
        # No open instant before it, minute by minute (UTC minutes; windows open on whole minutes).
        minute = moment.replace(second=0, microsecond=0) + timedelta(minutes=1)
        while minute < leaves:
            assert not is_open(minute, week, zone), minute
            minute += timedelta(minutes=1)
