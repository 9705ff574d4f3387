"""Shared schema settings: unknown fields are refused, text is bounded."""

import marshmallow as ma
from marshmallow import validate


class LoadSchema(ma.Schema):
    class Meta:
        unknown = ma.RAISE


class DumpSchema(ma.Schema):
    pass


def text(max_length: int, **kw) -> ma.fields.String:
    return ma.fields.String(validate=validate.Length(max=max_length), **kw)


def required_text(max_length: int, **kw) -> ma.fields.String:
    return ma.fields.String(required=True, validate=validate.Length(min=1, max=max_length), **kw)


def one_of(choices, **kw) -> ma.fields.String:
    return ma.fields.String(validate=validate.OneOf(list(choices)), **kw)
