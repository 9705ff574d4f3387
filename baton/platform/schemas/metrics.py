"""Query arguments and documents of the metrics API (district and county figures)."""

import marshmallow as ma

from baton.platform.schemas.base import DumpSchema, LoadSchema, one_of
from baton.platform.services.metric_reads import COUNTY_BREAKDOWNS, DISTRICT_BREAKDOWNS

MONTH = ma.validate.Regexp(r"^\d{4}-(0[1-9]|1[0-2])$", error="a month such as 2026-09")


class DistrictFiguresArgs(LoadSchema):
    month = ma.fields.String(load_default=None, validate=MONTH)
    breakdown = one_of(DISTRICT_BREAKDOWNS, load_default="school")


class CountyFiguresArgs(LoadSchema):
    month = ma.fields.String(load_default=None, validate=MONTH)
    breakdown = one_of(COUNTY_BREAKDOWNS, load_default="district")


class ValueSchema(DumpSchema):
    value = ma.fields.Float(allow_none=True)
    numerator = ma.fields.Integer(allow_none=True)
    denominator = ma.fields.Integer(allow_none=True)


class GroupSchema(DumpSchema):
    group = ma.fields.String()
    values = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Nested(ValueSchema))


class SignalSchema(DumpSchema):
    metric = ma.fields.String()
    group = ma.fields.String()
    numerator = ma.fields.Integer()
    denominator = ma.fields.Integer()
    rate = ma.fields.Float()
    rest_rate = ma.fields.Float()
    z = ma.fields.Float()


class DistrictFiguresSchema(DumpSchema):
    month = ma.fields.String()
    weeks = ma.fields.List(ma.fields.Date())
    breakdown = ma.fields.String()
    overall = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Nested(ValueSchema))
    groups = ma.fields.List(ma.fields.Nested(GroupSchema))
    signals = ma.fields.List(ma.fields.Nested(SignalSchema))


class CountyRowSchema(DumpSchema):
    group = ma.fields.String()
    cells = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer(allow_none=True))
    total = ma.fields.Integer(allow_none=True)


class CountyTableSchema(DumpSchema):
    title = ma.fields.String()
    columns = ma.fields.List(ma.fields.String())
    rows = ma.fields.List(ma.fields.Nested(CountyRowSchema))
    column_totals = ma.fields.Dict(
        keys=ma.fields.String(), values=ma.fields.Integer(allow_none=True)
    )
    total = ma.fields.Integer(allow_none=True)


class CountyFiguresSchema(DumpSchema):
    county = ma.fields.String()
    month = ma.fields.String()
    breakdown = ma.fields.String()
    breakdown_label = ma.fields.String()
    suppression_threshold = ma.fields.Integer()
    tables = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Nested(CountyTableSchema))
    rates = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Float(allow_none=True)),
    )
