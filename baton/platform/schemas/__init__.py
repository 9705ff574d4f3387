"""marshmallow schemas: ``*CreateSchema`` loads, the plain name dumps."""
