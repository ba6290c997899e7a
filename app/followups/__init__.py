"""My follow-up queue: the day's tasks of a sales person, and recording their outcomes."""

from flask import Blueprint

bp = Blueprint("followups", __name__, url_prefix="/follow-ups")
