"""Where schools and service sites are: checking a point, and miles between two points."""

from __future__ import annotations

import math

from baton.platform.errors import InvalidInput

EARTH_RADIUS_MILES = 3958.8  # mean radius; plenty for "how far is the clinic"
RANGES = {"latitude": (-90.0, 90.0), "longitude": (-180.0, 180.0)}


def check_location(latitude, longitude) -> tuple[float | None, float | None]:
    """A point as two floats, or (None, None) for no location.

    Raises InvalidInput with a message per field when a value is not a number, is out of
    range (latitude -90..90, longitude -180..180), or only one of the two is given."""
    values = {"latitude": _blank(latitude), "longitude": _blank(longitude)}
    if all(v is None for v in values.values()):
        return None, None
    errors, checked = {}, {}
    for name, value in values.items():
        low, high = RANGES[name]
        if value is None:
            errors[name] = "give both latitude and longitude, or neither"
            continue
        try:
            number = float(value)
        except (TypeError, ValueError):
            number = math.nan
        if not (low <= number <= high):  # NaN fails this too
            errors[name] = f"{name} must be a number from {low:g} to {high:g}"
        checked[name] = number
    if errors:
        raise InvalidInput("That location is not a real point.", fields=errors)
    return checked["latitude"], checked["longitude"]


def _blank(value):
    if isinstance(value, bool):  # True is not a coordinate, though float(True) == 1.0
        return math.nan
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return value


def miles_between(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle (haversine) distance in miles between two (latitude, longitude) points."""
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * EARTH_RADIUS_MILES * math.asin(math.sqrt(min(1.0, h)))
