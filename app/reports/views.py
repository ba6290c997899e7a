from flask_login import current_user

from ..access import roles_required
from ..htmx import render
from ..labels import ACTIVITY_LABELS, LAYER_LABELS, TIER_LABELS
from ..models import Role
from . import bp, services


@bp.get("/overview")
@roles_required(Role.SUPERVISOR, Role.ADMIN)
def overview():
    counts, counted_at = services.overview(current_user)
    return render(
        "reports/overview.html",
        counts=counts,
        counted_at=counted_at,
        layers=LAYER_LABELS,
        tiers=TIER_LABELS,
        activities=ACTIVITY_LABELS,
    )
