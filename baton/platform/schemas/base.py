"""Shared schema settings: unknown fields are refused, text is bounded and storable."""

from collections.abc import Mapping

import marshmallow as ma
from marshmallow import validate

UNSTORABLE = "must not contain NUL characters or unpaired surrogates"


class LoadSchema(ma.Schema):
    class Meta:
        unknown = ma.RAISE

    @ma.pre_load
    def refuse_unstorable_text(self, data, **kwargs):
        """PostgreSQL cannot store NUL in text (nor UTF-8 encode a lone surrogate): refuse
        such input as invalid (422), instead of failing in the database (500)."""
        if isinstance(data, Mapping):
            bad = [key for key in data if _unstorable(key) or _unstorable(data[key])]
            if bad:
                raise ma.ValidationError({str(key): [UNSTORABLE] for key in bad})
        return data


class DumpSchema(ma.Schema):
    pass


def text(max_length: int, **kw) -> ma.fields.String:
    return ma.fields.String(validate=validate.Length(max=max_length), **kw)


def required_text(max_length: int, **kw) -> ma.fields.String:
    return ma.fields.String(required=True, validate=validate.Length(min=1, max=max_length), **kw)


def one_of(choices, **kw) -> ma.fields.String:
    return ma.fields.String(validate=validate.OneOf(list(choices)), **kw)


def _unstorable(value) -> bool:
    if isinstance(value, str):
        if "\x00" in value:
            return True
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return True
        return False
    if isinstance(value, Mapping):
        return any(_unstorable(k) or _unstorable(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(_unstorable(v) for v in value)
    return False
