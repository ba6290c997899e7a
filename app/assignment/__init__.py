"""Assignment (supervisors): giving customers to sales staff, one by one, in bulk, or balanced."""

from flask import Blueprint

bp = Blueprint("assignment", __name__, url_prefix="/assignment")
