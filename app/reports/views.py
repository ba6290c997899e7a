from flask_login import current_user

from ..access import roles_required
from ..htmx import render
from ..labels import ACTIVITY_LABELS, LAYER_LABELS, TIER_LABELS
from ..models import Role
from . import bp, services


@bp.get("/overview")
@roles_required(Role.SUPERVISOR, Role.ADMIN)
def overview():
    return render(
        "reports/overview.html",
        counts=services.segment_counts(current_user),
        layers=LAYER_LABELS,
        tiers=TIER_LABELS,
        activities=ACTIVITY_LABELS,
    )
