"""Shared pieces of the hostile-input sweeps: the values, the HTML form reader, and the row
counts that prove a refused request wrote nothing."""

from __future__ import annotations

from html.parser import HTMLParser
from urllib.parse import urlencode, urlsplit

from sqlalchemy import text

from baton.platform.extensions import db

LONG = "x" * 10_000
HUGE = str(2**70)
# What anyone can type into any box (and what a script can post in its place).
# Emoji (a ZWJ sequence), a right-to-left override, and bytes that are not UTF-8 at all.
UNICODE = "😀🏳️‍🌈 \u202eevil\u202c".encode() + b" \xff\xfe\xc3("
NUL = "a\x00b"
TEXT_VALUES = {"empty": "", "long": LONG, "unicode": UNICODE}
NUMBER_VALUES = {"negative": "-1", "huge": HUGE, "float": "1e999", "word": "abc"}
DATE_VALUES = {
    "impossible": "2024-02-30",
    "far": "99999-01-01",
    "edge": "9999-12-31T23:59",
    "year0": "0000-01-01T00:00",
}
CHOICE_VALUES = {"unknown": "not-a-choice"}

# Audit rows a request writes when it only reads (a refused request still audits its read).
READ_ACTIONS = (
    "read",
    "read-refused",
    "list",
    "login-failed",
    "status-link-view",
    "status-link-refused",
)


def write_counts(engine) -> dict[str, int]:
    """Rows per table (audit rows of reads not counted): equal before and after means the
    request wrote nothing."""
    parts = []
    for table in db.metadata.sorted_tables:
        where = ""
        if table.name == "audit_log":
            where = " WHERE action NOT IN ({})".format(", ".join(f"'{a}'" for a in READ_ACTIONS))
        parts.append(f"SELECT '{table.name}' AS t, count(*) AS n FROM {table.name}{where}")
    with engine.connect() as conn:
        return dict(conn.execute(text(" UNION ALL ".join(parts))).all())


def changed(before: dict, after: dict) -> dict:
    return {t: (before[t], after[t]) for t in before if before[t] != after[t]}


def form_body(pairs) -> bytes:
    """An urlencoded body from (name, value) pairs; bytes values go as they are (not UTF-8)."""
    return urlencode(list(pairs)).encode()


class Form:
    """One <form> of a page: method, action and its fields in document order."""

    def __init__(self, method: str, action: str):
        self.method = method
        self.action = action
        self.fields: list[dict] = []

    def baseline(self) -> list[tuple[str, str]]:
        """What a browser submits untouched: inputs' values, checked boxes, first or selected
        options, textareas' text."""
        pairs = []
        for field in self.fields:
            if field["kind"] in ("checkbox", "radio"):
                if field.get("checked"):
                    pairs.append((field["name"], field["value"]))
            elif field["kind"] == "select":
                options = field["options"]
                chosen = [v for v, sel in options if sel] or options[:1] and [options[0][0]]
                pairs += [(field["name"], value) for value in chosen]
            elif field["kind"] not in ("submit", "button", "reset"):
                pairs.append((field["name"], field.get("value", "")))
        if not any(kind == "radio" for kind in self.kinds().values()):
            return pairs
        for name, kind in self.kinds().items():  # an unchecked radio group: its first choice
            if kind == "radio" and name not in dict(pairs):
                first = next(f for f in self.fields if f["name"] == name)
                pairs.append((name, first["value"]))
        return pairs

    def kinds(self) -> dict[str, str]:
        """Field name -> kind (the first field of that name decides)."""
        found: dict[str, str] = {}
        for field in self.fields:
            found.setdefault(field["name"], field["kind"])
        return found

    def choices(self, name: str) -> list[str]:
        values = []
        for field in self.fields:
            if field["name"] == name:
                values += [v for v, _ in field.get("options", [])] or [field.get("value", "")]
        return values


class FormReader(HTMLParser):
    """Every form on a page, with the fields a browser would submit."""

    def __init__(self, page_url: str):
        super().__init__(convert_charrefs=True)
        self.page_url = page_url
        self.forms: list[Form] = []
        self._form: Form | None = None
        self._select: dict | None = None
        self._option: list | None = None
        self._textarea: dict | None = None

    def handle_starttag(self, tag, attrs):
        a = {k: (v if v is not None else "") for k, v in attrs}
        if tag == "form":
            action = a.get("action") or self.page_url
            self._form = Form((a.get("method") or "get").lower(), action)
            self.forms.append(self._form)
        elif self._form is None or not a.get("name") and tag != "option":
            return
        elif tag in ("input", "button"):
            kind = (a.get("type") or ("submit" if tag == "button" else "text")).lower()
            field = {"name": a["name"], "kind": kind, "value": a.get("value", "")}
            if kind in ("checkbox", "radio"):
                field["value"] = a.get("value", "on")
                field["checked"] = "checked" in a
            self._form.fields.append(field)
        elif tag == "select":
            self._select = {"name": a["name"], "kind": "select", "options": []}
            self._select["multiple"] = "multiple" in a
            self._form.fields.append(self._select)
        elif tag == "option" and self._select is not None:
            self._option = [a.get("value"), "selected" in a, ""]
            self._select["options"].append(self._option)
        elif tag == "textarea":
            self._textarea = {"name": a["name"], "kind": "textarea", "value": ""}
            self._form.fields.append(self._textarea)

    def handle_data(self, data):
        if self._textarea is not None:
            self._textarea["value"] += data
        elif self._option is not None:
            self._option[2] += data

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None
        elif tag == "select" and self._select is not None:
            self._select["options"] = [
                (value if value is not None else label.strip(), selected)
                for value, selected, label in self._select["options"]
            ]
            self._select = None
        elif tag == "option":
            self._option = None
        elif tag == "textarea":
            self._textarea = None


def forms_of(html: str, page_url: str) -> list[Form]:
    reader = FormReader(page_url)
    reader.feed(html)
    return reader.forms


def path_of(url: str) -> str:
    return urlsplit(url).path
