from flask import flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from ..access import roles_required
from ..extensions import db
from ..htmx import render
from ..labels import MESSAGE_KIND_LABELS, WEEKDAY_LABELS
from ..models import MessageKind, Role, utcnow
from ..sending import settings as sending_settings
from ..sending.windows import text
from ..shop_calendar import shop_time_to_utc, shop_zone, to_shop_time
from . import bp, services
from .forms import SendingForm, WhenForm

# "A message queued at … leaves at …", for each kind of message and each answer.
LEAVES = {
    MessageKind.MARKETING: _l("A marketing message queued at %(queued)s leaves at %(leaves)s."),
    MessageKind.SERVICE: _l("A service message queued at %(queued)s leaves at %(leaves)s."),
}
LEAVES_AT_ONCE = {
    MessageKind.MARKETING: _l("A marketing message queued at %(queued)s leaves at once: that is inside a window."),
    MessageKind.SERVICE: _l("A service message queued at %(queued)s leaves at once: that is inside a window."),
}
NEVER_LEAVES = {
    MessageKind.MARKETING: _l("A marketing message never leaves: the provider's curfew takes every window."),
    MessageKind.SERVICE: _l("A service message never leaves: no day has a window."),
}


def _shop_moment(moment) -> str:
    """A naive-UTC moment as the shop's clock and calendar show it: "Tuesday 2025-06-03 09:30"."""
    local = to_shop_time(moment)
    clock = "%Y-%m-%d %H:%M:%S" if local.second else "%Y-%m-%d %H:%M"
    return f"{WEEKDAY_LABELS[local.weekday()]} {local.strftime(clock)}"


def _answer(form: WhenForm, curfew) -> str | None:
    """The answer to the "when does it leave" question, if one was asked (and asked well)."""
    queued = form.queued()
    if queued is None:
        return None
    kind = MessageKind(form.kind.data)
    queued = shop_time_to_utc(queued)
    leaves = services.leaves_at(kind, queued, curfew)
    if leaves is None:
        return NEVER_LEAVES[kind]
    said = {"queued": _shop_moment(queued), "leaves": _shop_moment(leaves)}
    return (LEAVES_AT_ONCE if leaves == queued else LEAVES)[kind] % said


@bp.route("/sending/", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def sending():
    saved = sending_settings.load()
    form = SendingForm.of(saved)
    if form.validate_on_submit():
        sending_settings.save(form.week(), form.marketing_cap.data, form.cap_days.data, current_user)
        db.session.commit()
        flash(_("Sending settings saved."), "success")
        return redirect(url_for("settings.sending"))
    curfew = services.active_curfew()
    now = to_shop_time(utcnow()).replace(tzinfo=None, second=0, microsecond=0)
    when = WhenForm(request.args, at=now)  # asked about once a time is sent; now until then
    return render(
        "settings/sending.html",
        "when",
        status=422 if form.is_submitted() else 200,
        form=form,
        when=when,
        answer=_answer(when, curfew),
        days=services.days(saved, curfew),
        saved=saved,
        provider=services.active_provider(),
        curfew=curfew,
        curfew_hours=[f"{start:%H:%M}–{end:%H:%M}" for start, end in curfew],
        zone=shop_zone().key,
        text=text,
        weekdays=WEEKDAY_LABELS,
        kinds=MESSAGE_KIND_LABELS,
    )
