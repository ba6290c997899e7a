"""Import of order history: upload a platform report, map its columns, import it in the background."""

from flask import Blueprint

bp = Blueprint("imports", __name__, url_prefix="/imports")
