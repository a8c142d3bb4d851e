"""Alert rules: dwell, hysteresis, one alert per (kind, subject), lifecycle."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from gudang.collector.alerts.notify import sign
from gudang.collector.alerts.rules import AlertBook, Condition
from gudang.contract import LocalizedText

T = LocalizedText(id="stok menipis", en="low stock")
T0 = 1_764_000_000_000


def cond(qty: float, minimum: float = 10, hyst: float = 1) -> Condition:
    return "bad" if qty <= minimum else "good" if qty >= minimum + hyst else "between"


def test_raise_after_dwell_then_clear_after_dwell() -> None:
    book = AlertBook(dwell_ms=60_000)
    assert book.observe("low_stock", "RB", "bad", T0 + 0, T, 9) is None
    assert book.observe("low_stock", "RB", "bad", T0 + 59_999, T, 9) is None
    raised = book.observe("low_stock", "RB", "bad", T0 + 60_000, T, 8)
    assert raised is not None
    assert (raised.state, raised.raised_at, raised.value) == ("raised", T0, 8)
    assert book.observe("low_stock", "RB", "bad", T0 + 90_000, T, 7) is None  # one active alert
    assert book.observe("low_stock", "RB", "good", T0 + 100_000, T, 12) is None
    cleared = book.observe("low_stock", "RB", "good", T0 + 160_000, T, 12)
    assert cleared is not None
    assert cleared.state == "cleared"
    assert ("low_stock", "RB") not in book.active


def test_a_short_dip_that_recovers_raises_nothing() -> None:
    book = AlertBook(dwell_ms=60_000)
    book.observe("low_stock", "RB", "bad", T0 + 0, T)
    assert book.observe("low_stock", "RB", "good", T0 + 30_000, T) is None
    assert book.observe("low_stock", "RB", "bad", T0 + 70_000, T) is None  # the dwell starts again
    assert book.observe("low_stock", "RB", "bad", T0 + 129_999, T) is None


def test_wobbling_inside_the_hysteresis_band_stays_low() -> None:
    book = AlertBook(dwell_ms=60_000)
    book.observe("low_stock", "RB", "bad", T0 + 0, T)
    assert book.observe("low_stock", "RB", "between", T0 + 30_000, T) is None
    raised = book.observe("low_stock", "RB", "between", T0 + 61_000, T)
    assert raised is not None
    assert raised.raised_at == T0


def test_acknowledge_keeps_it_active_until_cleared() -> None:
    book = AlertBook(dwell_ms=0)
    book.observe("low_stock", "RB", "bad", T0 + 0, T)
    acked = book.acknowledge("low_stock", "RB", "budi", "PO 2611-07 sent", T0 + 5)
    assert acked is not None
    assert (acked.state, acked.acknowledged_by, acked.note) == (
        "acknowledged",
        "budi",
        "PO 2611-07 sent",
    )
    assert book.observe("low_stock", "RB", "bad", T0 + 10, T) is None  # not raised again
    assert book.acknowledge("low_stock", "OTHER", "budi", None, T0 + 5) is None
    cleared = book.observe("low_stock", "RB", "good", T0 + 20, T)
    assert cleared is not None
    assert cleared.acknowledged_by == "budi"


def test_restore_after_restart() -> None:
    book = AlertBook(dwell_ms=0)
    raised = book.observe("scale_fault", "scale-a1", "bad", T0 + 0, T)
    acked = book.acknowledge("scale_fault", "scale-a1", "budi", None, T0 + 1)
    assert raised is not None
    assert acked is not None
    again = AlertBook(dwell_ms=0)
    again.restore([acked])
    assert again.observe("scale_fault", "scale-a1", "bad", T0 + 2, T) is None
    assert again.observe("scale_fault", "scale-a1", "good", T0 + 3, T).state == "cleared"  # type: ignore[union-attr]


@given(st.lists(st.floats(min_value=8.0, max_value=12.0), min_size=1, max_size=400))
def test_noise_around_the_minimum_raises_at_most_one_alert_per_excursion(
    noise: list[float],
) -> None:
    """Readings wobbling by up to +-2 around a minimum of 10 with hysteresis 3:
    between a raise and the next raise there is always a clear, and a clear
    needs the quantity to reach 13, which this noise never does."""
    book = AlertBook(dwell_ms=2_000)
    events = []
    for i, qty in enumerate(noise):
        a = book.observe("low_stock", "RB", cond(qty, 10, 3), T0 + i * 1000, T, qty)
        if a is not None:
            events.append(a.state)
    assert events in ([], ["raised"])


def test_webhook_signature() -> None:
    assert sign(b"k", "1764000000000", b"{}") == (
        "sha256=" + __import__("hmac").new(b"k", b"1764000000000.{}", "sha256").hexdigest()
    )
