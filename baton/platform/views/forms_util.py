"""Small helpers the HTML views share: field messages from services, local times, ids."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from flask import request

from baton.platform.errors import InvalidInput


def form_status() -> int:
    return 422 if request.method == "POST" else 200


def attach(form, exc: InvalidInput) -> None:
    """Put a service's field messages next to the form's fields (others above the form)."""
    for name, message in (exc.fields or {}).items():
        field = getattr(form, name, None)
        if field is not None and hasattr(field, "errors"):
            field.errors = [*list(field.errors or []), message]
        else:
            form.form_errors.append(f"{name.replace('_', ' ')}: {message}")
    if not exc.fields:
        form.form_errors.append(exc.detail)


def uuid_or_none(value: str | None) -> uuid.UUID | None:
    try:
        return uuid.UUID(value) if value else None
    except ValueError:
        return None


def to_utc(local: datetime | None, timezone: str) -> datetime | None:
    """A naive datetime typed in the district's time zone, as UTC."""
    if local is None:
        return None
    try:
        return local.replace(tzinfo=ZoneInfo(timezone)).astimezone(UTC)
    except (OverflowError, ValueError) as exc:  # e.g. 9999-12-31 23:59 west of Greenwich
        raise InvalidInput(fields={"appointment_at": "enter a real date and time"}) from exc


def local(moment: datetime | None, timezone: str) -> str:
    if moment is None:
        return "—"
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(ZoneInfo(timezone)).strftime("%a %d %b %Y, %H:%M")
