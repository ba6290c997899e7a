"""Assignment (supervisors): giving customers to sales staff in bulk or balanced, and handing a
leaving person's customers over."""

from flask import Blueprint

bp = Blueprint("assignment", __name__, url_prefix="/assignment")
