"""docs/metrics.md lists every metric the code defines."""

from pathlib import Path

from baton.platform.metrics.definitions import METRICS

DOC = Path(__file__).resolve().parents[3] / "docs" / "metrics.md"


def test_every_metric_is_documented():
    text = DOC.read_text()
    missing = [key for key in METRICS if f"| `{key}` |" not in text]
    assert not missing, f"add these metrics to docs/metrics.md: {missing}"
