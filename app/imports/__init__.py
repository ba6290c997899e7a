"""Import of order history (being built)."""

from flask import Blueprint

from ..access import roles_required
from ..htmx import render
from ..models import Role

bp = Blueprint("imports", __name__, url_prefix="/imports")


@bp.get("/")
@roles_required(Role.SUPERVISOR, Role.ADMIN)
def index():
    return render("imports/index.html")
