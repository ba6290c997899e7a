"""The follow-up audit (核查, supervisors): who follows up on schedule, and on which customers.

Supervisors and admins see every person's tasks and every customer here (roles_required).
"""

from flask import Blueprint

bp = Blueprint("followup_audit", __name__, url_prefix="/audit")
