"""The message log: every SMS with its state, for everyone (each sees the messages of the customers
they see), and an admin's settling of a message whose outcome is unknown."""

from flask import current_app, flash, redirect, request
from flask_babel import gettext as _
from flask_login import current_user, login_required

from ..access import message_or_404, roles_required
from ..extensions import db
from ..htmx import render
from ..labels import MESSAGE_KIND_LABELS, MESSAGE_STATUS_LABELS, SKIP_REASON_LABELS
from ..models import Role
from ..pagination import page_of
from ..params import page_number
from ..templating import url_with_query
from . import bp, log
from .message_forms import SETTLE_NOTE_MAX, MessageFilterForm, SettleForm

LABELS = {"statuses": MESSAGE_STATUS_LABELS, "skip_reasons": SKIP_REASON_LABELS, "kinds": MESSAGE_KIND_LABELS}


def _settle_form(message_id: int) -> SettleForm:
    return SettleForm(prefix=f"m{message_id}")


def _log(settling: int | None = None, settle_form: SettleForm | None = None, status: int = 200):
    form = MessageFilterForm.from_args(request.args, log.template_choices())
    page = page_of(
        log.messages_of(current_user, form.filters()), page_number(request.args), current_app.config["PAGE_SIZE"]
    )
    admin = current_user.role == Role.ADMIN
    forms = {}
    if admin:
        forms = {m.id: _settle_form(m.id) for m in page.items if m.status == "unknown"}
        if settling in forms and settle_form is not None:
            forms[settling] = settle_form
    return render(
        "messages/log.html",
        "results",
        form=form,
        page=page,
        unknown=log.unknown_count(current_user) if admin else 0,
        settle_forms=forms,
        note_max=SETTLE_NOTE_MAX,
        status=status,
        **LABELS,
    )


@bp.get("/", endpoint="log")
@login_required
def log_index():
    return _log()


@bp.post("/<int:message_id>/settle")
@roles_required(Role.ADMIN)
def settle(message_id: int):
    """Settle an "outcome unknown" message as sent or failed. The form posts to an address that
    keeps the log's query, so an error shows the same page of the log, next to the field."""
    message = message_or_404(message_id)
    form = _settle_form(message_id)
    if not form.validate_on_submit():
        return _log(message_id, form, status=422)
    try:
        log.settle(message, form.settled_as(), form.note.data.strip(), current_user)
        db.session.commit()
    except log.NotUnknown:
        db.session.rollback()
        flash(_("This message is no longer of unknown outcome: it was settled meanwhile."), "warning")
    else:
        flash(
            _("Message %(id)d settled as %(state)s.", id=message.id, state=MESSAGE_STATUS_LABELS[message.status]),
            "success",
        )
    return redirect(url_with_query("messages.log"))
