"""The supervisor's overview: how the customers split by layer, tier and province."""

from flask import Blueprint
from flask_login import current_user

from ..access import roles_required
from ..htmx import render
from ..labels import ACTIVITY_LABELS, LAYER_LABELS, TIER_LABELS
from ..models import Role
from . import services

bp = Blueprint("reports", __name__, url_prefix="/reports")


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
