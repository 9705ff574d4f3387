"""Resolving the browser session to a principal, and the view guard that checks permissions."""

from __future__ import annotations

import functools
import uuid

from flask import g, redirect, request, url_for
from sqlalchemy import select

from baton.platform.errors import Forbidden
from baton.platform.extensions import db
from baton.platform.models import Membership, User
from baton.platform.permissions import can
from baton.platform.services.auth import principal_for
from baton.tenants.context import Principal


def principal_from_session(
    session, surface: str = "ui", request_id: str | None = None
) -> Principal | None:
    """The principal for the signed-in membership, or None (and a cleared session)."""
    membership_id = session.get("membership_id")
    if not membership_id:
        return None
    try:
        membership_id = uuid.UUID(membership_id)
    except ValueError:
        session.clear()
        return None
    membership = db.session.execute(
        select(Membership)
        .join(User, User.id == Membership.user_id)
        .where(Membership.id == membership_id, User.active.is_(True))
    ).scalar_one_or_none()
    if membership is None or str(membership.user_id) != session.get("user_id"):
        session.clear()
        return None
    return principal_for(membership, surface=surface, request_id=request_id)


def login_required(permission: str | None = None):
    """Send anonymous visitors to sign in; refuse (403) roles without ``permission``."""

    def decorate(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            principal = g.get("principal")
            if principal is None:
                return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
            if permission and not can(principal, permission):
                raise Forbidden()
            return view(*args, **kwargs)

        wrapper.required_permission = permission
        return wrapper

    return decorate
