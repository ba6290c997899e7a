from flask import abort
from flask_login import current_user, login_required

from ..access import follow_up_or_404
from ..extensions import db
from ..htmx import render
from ..models import Outcome
from . import bp, services


@bp.post("/follow-ups/<int:task_id>")
@login_required
def from_follow_up(task_id: int):
    """ "Blacklist the phone", offered on a queue card once the customer asked not to be contacted."""
    task = follow_up_or_404(task_id)
    if task.outcome != Outcome.DO_NOT_CONTACT or not task.customer.phone:
        abort(404)  # the offer exists only after "do not contact", for a customer with a phone
    entry = services.add_for_follow_up(task, current_user)
    db.session.commit()
    return render("blacklist/_from_follow_up.html", task=task, entry=entry)
