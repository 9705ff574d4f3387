"""The API's blueprint: flask-smorest's, with a body parser that answers every body it
cannot read with a 4xx (problem+json) instead of ignoring it or failing."""

from __future__ import annotations

import json

import flask_smorest
from webargs.flaskparser import FlaskParser, abort, is_json_request


class BodyParser(FlaskParser):
    def _raw_load_json(self, req):
        if not is_json_request(req):
            if req.content_length or req.get_data(cache=True):  # webargs would drop it
                abort(415, messages={"body": ["send application/json"]})
            return super()._raw_load_json(req)
        try:
            return super()._raw_load_json(req)
        except RecursionError as exc:  # json.loads has no depth limit of its own
            # (webargs reads an error about an empty document as "no body")
            raise json.JSONDecodeError("nested too deeply", "[", 0) from exc


class Blueprint(flask_smorest.Blueprint):
    ARGUMENTS_PARSER = BodyParser()
