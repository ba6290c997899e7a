"""Webhooks: what the SMS providers push to the portal (delivery receipts, customers' replies).

No sign-in and no CSRF token (a provider has neither): each request is authenticated by its
provider's adapter instead (a signature, or a secret in the path), before its body is read.
"""

from flask import Blueprint

from ..extensions import csrf

bp = Blueprint("webhooks", __name__, url_prefix="/webhooks")
csrf.exempt(bp)
