"""The organisation tree."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from engine.org import nodes as org

from ..auth import login_required
from ..extensions import db

bp = Blueprint("api_org", __name__, url_prefix="/api/v1")


# ---- organisation -------------------------------------------------------------------------------


@bp.get("/org")
@login_required
def org_tree() -> Response:
    return jsonify(org.tree(db()))
