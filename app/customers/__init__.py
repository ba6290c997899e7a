"""The customer registry: list and search, register, edit, the customer page, export."""

from flask import Blueprint

bp = Blueprint("customers", __name__, url_prefix="/customers")
