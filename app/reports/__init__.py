"""The supervisor's overview: how the customers split by layer, tier and province."""

from flask import Blueprint

bp = Blueprint("reports", __name__, url_prefix="/reports")
