"""My follow-up queue: the day's tasks of a sales person, and recording their outcomes."""

from functools import cache

from flask import abort, flash, redirect, request, url_for
from flask_babel import get_locale, get_translations
from flask_babel import gettext as _
from flask_login import current_user, login_required

from .. import labels
from ..access import customer_or_404, follow_up_or_404, roles_required
from ..extensions import db
from ..htmx import is_partial, render
from ..models import FollowUp, FollowUpState, Role, User, utcnow
from ..params import record_id
from . import bp, services
from .cycles import Bucket, Outcome
from .forms import NOTE_MAX, OutcomeForm

SECTIONS = (Bucket.OVERDUE, Bucket.TODAY, Bucket.THIS_WEEK)
CHANGED = {"follow-ups-changed": True}  # the counters re-fetch themselves on this event


def _labels() -> dict:
    """What every card shows, translated once for the whole page rather than once per card."""
    return _translated(str(get_locale())) | {"note_max": NOTE_MAX, "links": _card_links()}


@cache
def _translated(locale: str) -> dict:
    """The cards' words in `locale` (the request's): the same for every page in that language,
    so translated once per process (the ~50 gettext calls were a twentieth of a page)."""
    shown = {
        "outcomes": labels.OUTCOME_LABELS,
        "channels": labels.CHANNEL_LABELS,
        "kinds": labels.KIND_LABELS,
        "statuses": labels.ORDER_STATUS_LABELS,
    }
    translated = {name: {value: str(label) for value, label in texts.items()} for name, texts in shown.items()}
    # The outcome form's labels (app.followups.forms), for the fields the cards write out.
    translated["texts"] = {"channel": _("Channel"), "note": _("Note"), "outcome": _("Outcome")}
    # The card's own words, unformatted (the card fills in the numbers): a gettext call costs
    # about 0.07 ms, and a page of cards made ~150 of them.
    catalog = get_translations()
    translated["texts"] |= {
        "cycle": catalog.ugettext("Cycle %(num)d"),
        "due": catalog.ugettext("Due %(day)s"),
        "last_time": _("Last time:"),
        "not_contacted": _("Not contacted yet."),
        "new_order": _("New order since last contact"),
        "timeline": _("Timeline"),
        "replied": _("Replied:"),
        "send_sms": _("Send an SMS"),
        "overdue": {n: catalog.ungettext("%(num)d day overdue", "%(num)d days overdue", n) for n in (1, 2)},
    }
    return translated


def _card_links() -> dict[str, str]:
    """The card's links as format strings of {customer} and {task}, built once for the whole
    page: url_for for each of a page's 120 links was a sixth of its time."""
    customer, task = 1000000001, 1000000002  # stand-ins for each card's ids

    def link(endpoint: str, **values) -> str:
        return url_for(endpoint, **values).replace(str(customer), "{customer}").replace(str(task), "{task}")

    return {
        "customer": link("customers.show", customer_id=customer),
        "send_sms": link("messages.send", customer_id=customer, follow_up=task),
        "record": link("followups.record", task_id=task),
    }


def _owner() -> User:
    """Whose queue: one's own; supervisors and admins may look at anyone's (?owner=)."""
    user_id = record_id(request.args, "owner")
    if user_id is None or user_id == current_user.id:
        return current_user
    user = db.session.get(User, user_id) if current_user.sees_everyone else None
    if user is None:
        abort(404)
    return user


def _outcome_form(task_id: int) -> OutcomeForm:
    return OutcomeForm(prefix=f"task{task_id}")


def _whose(owner: User) -> int | None:
    """The ?owner= the queue's links keep: none on one's own queue."""
    return owner.id if owner.id != current_user.id else None


def _page(owner: User):
    """The whole queue page: the counters, and the cards of the first section that has any;
    the sections below it load when scrolled to (a page of all three sections' cards cost
    three times as much, for cards most people see only after scrolling: bench/README.md)."""
    now = utcnow()
    counts = services.queue_counts(owner.id, now)
    first = next((s for s in SECTIONS if counts[s]), None)
    read = services.queue_pages(owner.id, [first] if first else [], now)
    # A section's part: its cards and whether more follow, or None if it loads when scrolled to.
    parts = {s: read[s] if s == first else None if counts[s] else ([], False) for s in SECTIONS}
    people = services.queue_people() if current_user.sees_everyone else []
    if current_user.sees_everyone and owner.id != current_user.id and owner not in people:
        people.append(owner)  # say, a deactivated person whose customers are not handed over yet
    return render(
        "followups/queue.html",
        owner=owner,
        counts=counts,
        parts=parts,
        after=None,
        people=people,
        whose=_whose(owner),
        **_labels(),
    )


@bp.get("/")
@login_required
def queue():
    owner, after = _owner(), record_id(request.args, "after")
    section = request.args.get("section")
    if section in SECTIONS and is_partial():
        # A section's cards after the task `after` ("Show more"), or from its first (a section
        # the page left to load when scrolled to).
        part = services.queue_cards(owner.id, Bucket(section), utcnow(), after)
        return render(
            "followups/queue.html", "more", section=section, part=part, after=after, whose=_whose(owner), **_labels()
        )
    return _page(owner)  # ?after= is for htmx's "Show more" alone


@bp.get("/counters")
@login_required
def counters():
    owner, _after = _owner(), record_id(request.args, "after")  # a tampered link: 404, as the page
    if not is_partial():
        return _page(owner)
    counts = services.queue_counts(owner.id, utcnow())
    return render("followups/queue.html", "counters", counts=counts, whose=_whose(owner))


def _card(task: FollowUp, form: OutcomeForm | None = None, status: int = 200, trigger: dict | None = None, **answer):
    """The task's card (in place of the one on the page): with an answer, what came of it;
    without, the card as it is now (with the form's errors, if any)."""
    card = None if answer else services.cards_of([task.id], utcnow())[0]
    return render(
        "followups/_card.html",
        card=card,
        task=task,
        form=form,
        status=status,
        trigger=trigger,
        answer=answer,
        **_labels(),
    )


# The queue's forms post through htmx: each answer is the card to put in place of the old one.
@bp.post("/<int:task_id>/outcome")
@login_required
def record(task_id: int):
    task = follow_up_or_404(task_id)
    form = _outcome_form(task_id)
    if not form.validate_on_submit():
        return _card(task, form, status=422)
    try:
        recorded = services.record_outcome(
            task, Outcome(form.outcome.data), form.channel.data, form.note.data, current_user
        )
        db.session.commit()
    except services.AlreadyRecorded as taken:
        db.session.rollback()
        return _card(taken.task, trigger=CHANGED, already=True)
    return _card(task, trigger=CHANGED, recorded=recorded)


@bp.post("/customers/<int:customer_id>/bring-back")
@roles_required(Role.SUPERVISOR, Role.ADMIN)
def bring_back(customer_id: int):
    customer = customer_or_404(customer_id)
    if customer.follow_up_state == FollowUpState.ACTIVE:
        flash(_("%(name)s is already followed up.", name=customer.name), "info")
        return redirect(url_for("customers.show", customer_id=customer.id))
    task = services.bring_back(customer, current_user)
    db.session.commit()
    if task is None:
        flash(
            _("%(name)s is back in the follow-ups; a task opens when someone is assigned.", name=customer.name),
            "success",
        )
    else:
        flash(
            _(
                "%(name)s is back in the follow-ups: a win-back contact is due on %(day)s.",
                name=customer.name,
                day=task.due_on.isoformat(),
            ),
            "success",
        )
    return redirect(url_for("customers.show", customer_id=customer.id))
