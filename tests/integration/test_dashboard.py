"""The dashboard in headless Chromium (Debian's chromium + chromium-driver,
driven by Selenium), with every part real: simulated scales -> edge ->
Mosquitto -> collector -> InfluxDB -> API -> browser. Screenshots are kept in
test-artifacts/ at the repository root."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from gudang.replenishment import Calendar, Forecast, Pick, Policy, forecast
from gudang.services import InfluxServer, free_port
from gudang.settings import MqttSettings
from gudang.sim.control import ControlClient
from gudang.testing import GudangProcess, MqttRecorder, http_ok, wait_for

ROOT = Path(__file__).parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"

pytestmark = pytest.mark.skipif(
    not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)),
    reason="needs Debian's chromium and chromium-driver (make test installs them)",
)


@pytest.fixture
def browser() -> Iterator[object]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    os.environ["SE_OFFLINE"] = "true"  # never let Selenium Manager download anything
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                "--window-size=1280,900", "--lang=id"):  # fmt: skip
        opts.add_argument(arg)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=opts)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


def _expected_forecast(history: list[int], stock: float) -> Forecast:
    """What the API should say after the history and today's two picks (3
    bars, then 43), by gudang.replenishment (its own tests check the math)."""
    now = int(time.time() * 1000)
    picks = [Pick(ts, -2.0, "pick") for ts in history[1:]]
    picks += [Pick(now, -3.0, "pick"), Pick(now, -43.0, "pick")]
    return forecast(picks, stock, now_ms=now, first_seen_ms=history[0],
                    calendar=Calendar(ZoneInfo("Asia/Jakarta")), policy=Policy(),
                    whole_units=True)  # fmt: skip


def _three_weeks_of_picks(mqtt: MqttSettings, site_id: str) -> list[int]:
    """C1 (rebar, 7.4 kg a bar on a 60 kg tare) over the last three weeks: 2
    bars picked each working day (today too), ending at the simulator's 50."""
    from datetime import datetime, timedelta

    from gudang.contract import WeightReading

    tz = ZoneInfo("Asia/Jakarta")
    now = datetime.now(tz)
    days = Calendar(tz).working_days((now - timedelta(days=21)).date(), now.date())
    bars = 50 + 2 * len(days)
    stamps = [datetime(days[0].year, days[0].month, days[0].day, 7, tzinfo=tz)]
    stamps += [min(datetime(d.year, d.month, d.day, 10, tzinfo=tz), now - timedelta(minutes=2))
               for d in days]  # fmt: skip
    with MqttRecorder(mqtt, []) as rec:
        for seq, when in enumerate(stamps):
            if seq:
                bars -= 2
            r = WeightReading(device_id="scale-1", boot_id="history", seq=seq,
                              ts=int(when.timestamp() * 1000), weight=60 + 7.4 * bars, unit="kg",
                              stable=True, reason="change")  # fmt: skip
            rec.publish(f"gudang/v1/{site_id}/device/scale-1/reading", r.model_dump_json())
    return [int(w.timestamp() * 1000) for w in stamps]


def test_dashboard_shows_live_stock_acknowledges_and_switches_language(
    make_site: Callable[..., Path],
    spawn: Callable[..., GudangProcess],
    api_keys: dict[str, str],
    browser: object,
    mqtt_settings: MqttSettings,
    site_id: str,
) -> None:
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
    from selenium.webdriver.common.by import By

    driver = browser  # typed loosely: selenium is a test-only dependency
    site = make_site(extra="alerts: {dwell_s: 0}\n")
    control, port = free_port(), free_port()
    sim = spawn("sim", "--site", str(site), "--control-port", str(control), "--settle", "0.5")
    collector = spawn("collector", "--site", str(site))
    wait_for(lambda: sim.logged("sim_start") and collector.logged("mqtt_subscribed"),
             what="sim and collector")  # fmt: skip
    history = _three_weeks_of_picks(mqtt_settings, site_id)  # before the edge: history first
    spawn("edge", "--site", str(site))
    spawn("api", "--site", str(site), "--port", str(port), GUDANG_API__LIVE_POLL_S="0.5",
          GUDANG_API__CONSUMPTION_REFRESH_S="0.5")  # fmt: skip
    ARTIFACTS.mkdir(exist_ok=True)

    def qty(bin_id: str) -> str:
        # A live update replaces the card: an element found a moment ago may be gone.
        try:
            els = driver.find_elements(By.CSS_SELECTOR, f'.bin[data-bin="{bin_id}"] .qty')  # type: ignore[attr-defined]
            return els[0].text if els else ""
        except StaleElementReferenceException:
            return ""

    wait_for(lambda: http_ok(f"http://127.0.0.1:{port}/healthz"), what="api")
    driver.get(f"http://127.0.0.1:{port}/#key={api_keys['staff']}")  # type: ignore[attr-defined]
    wait_for(lambda: qty("C1") == "50", timeout=30, what="C1 shows 50 pieces")
    assert driver.find_element(By.CSS_SELECTOR, "#live").text == "langsung"  # type: ignore[attr-defined]
    assert driver.find_element(By.CSS_SELECTOR, 'nav a[data-view="racks"]').text == "Rak"  # type: ignore[attr-defined]

    assert driver.find_element(By.CSS_SELECTOR, '.bin[data-bin="C1"] .unit').text == "batang"  # type: ignore[attr-defined]

    def cover(bin_id: str) -> str:
        try:
            return driver.find_element(By.CSS_SELECTOR, f'.bin[data-bin="{bin_id}"] .cover').text  # type: ignore[attr-defined]
        except (StaleElementReferenceException, NoSuchElementException):
            return ""

    # Days of cover from three weeks of picks at 2 bars a day: 50 bars, 25 days.
    wait_for(lambda: cover("C1") == "Cukup untuk 25 hari kerja", timeout=15, what="C1's cover")

    def moved(bin_id: str) -> str:
        try:
            return (
                driver.find_element(By.CSS_SELECTOR, f'.bin[data-bin="{bin_id}"]').get_attribute(
                    "data-moved"
                )
                or ""
            )  # type: ignore[attr-defined]
        except (StaleElementReferenceException, NoSuchElementException):
            return ""

    with ControlClient(control) as sim_ctl:
        sim_ctl.send(op="take", bin="C1", qty=3)
        wait_for(lambda: qty("C1") == "47", timeout=15, what="C1 shows 47 without a reload")
        # The card flashed for a recorded pick (not for a level's noise).
        wait_for(lambda: moved("C1") == "pick", timeout=5, what="C1 marked as just picked")
        driver.save_screenshot(str(ARTIFACTS / "dashboard-racks.png"))  # type: ignore[attr-defined]
        sim_ctl.send(op="set_qty", bin="C1", qty=4)  # under the minimum of 10: low stock
        wait_for(lambda: qty("C1") == "4", timeout=15, what="C1 shows 4")

    wait_for(lambda: driver.find_element(By.ID, "alert-count").text != "", timeout=15,  # type: ignore[attr-defined]
             what="an alert on the badge")  # fmt: skip
    driver.find_element(By.CSS_SELECTOR, 'nav a[data-view="alerts"]').click()  # type: ignore[attr-defined]
    card = 'li[data-alert="low_stock/RB-D10"]'
    wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, f"{card} form"), what="low stock card")  # type: ignore[attr-defined]
    assert "menipis" in driver.find_element(By.CSS_SELECTOR, card).text  # type: ignore[attr-defined]
    driver.find_element(By.CSS_SELECTOR, f'{card} input[name="by"]').send_keys("Sari")  # type: ignore[attr-defined]
    driver.find_element(By.CSS_SELECTOR, f"{card} button").click()  # type: ignore[attr-defined]

    def card_class() -> str:
        try:
            return driver.find_element(By.CSS_SELECTOR, card).get_attribute("class") or ""  # type: ignore[attr-defined]
        except (StaleElementReferenceException, NoSuchElementException):
            return ""  # re-rendered by a live update: look again

    wait_for(
        lambda: "acknowledged" in card_class(),
        timeout=15,
        what="the card turns acknowledged (state from the collector, over the live stream)",
    )
    assert "ditangani oleh Sari" in driver.find_element(By.CSS_SELECTOR, card).text  # type: ignore[attr-defined]
    # Each acknowledgement stays listed with who and when (a second one adds).
    wait_for(lambda: "Sari" in driver.find_element(By.CSS_SELECTOR, f"{card} .acks").text,  # type: ignore[attr-defined]
             what="the acknowledgement listed")  # fmt: skip
    driver.save_screenshot(str(ARTIFACTS / "dashboard-alerts.png"))  # type: ignore[attr-defined]

    driver.find_element(By.ID, "lang").click()  # type: ignore[attr-defined]
    assert driver.find_element(By.CSS_SELECTOR, 'nav a[data-view="racks"]').text == "Racks"  # type: ignore[attr-defined]
    assert "Low stock" in driver.find_element(By.CSS_SELECTOR, card).text  # type: ignore[attr-defined]
    assert driver.find_element(By.TAG_NAME, "html").get_attribute("lang") == "en"  # type: ignore[attr-defined]
    driver.find_element(By.CSS_SELECTOR, 'nav a[data-view="racks"]').click()  # type: ignore[attr-defined]
    driver.save_screenshot(str(ARTIFACTS / "dashboard-racks-en.png"))  # type: ignore[attr-defined]

    # The SKU page: its history chart, its movements (the picks above), its alerts.
    driver.find_element(By.CSS_SELECTOR, '.bin[data-bin="C1"]').click()  # type: ignore[attr-defined]
    rows = wait_for(
        lambda: driver.find_elements(By.CSS_SELECTOR, "#sku-moves tbody tr"),  # type: ignore[attr-defined]
        timeout=15, what="movements on the SKU page",
    )  # fmt: skip
    assert any("pick" in r.text and "bars" in r.text for r in rows)
    # Today's picks (3, then 43 down to 4 bars) weigh most: the page shows the
    # server's forecast for the stock now, marked urgent (it lasts less than
    # the lead time).
    f = _expected_forecast(history, stock=4.0)
    assert f.rate is not None and f.days_of_cover is not None and f.suggested_order is not None
    plan = driver.find_element(By.ID, "sku-plan")  # type: ignore[attr-defined]
    assert f"{round(f.rate, 2):g} bars a day" in plan.text, plan.text
    assert f"Lasts {round(f.days_of_cover, 1):g} working days" in plan.text, plan.text
    assert f"Suggested order {round(f.suggested_order, 2):g} bars" in plan.text, plan.text
    assert "urgent" in (plan.get_attribute("class") or "")
    # The chart: a level line, values and dates on its axes, the unit, the
    # minimum and reorder point named; a range of 1, 7 or 30 days.
    assert driver.find_elements(By.CSS_SELECTOR, "#sku-chart polyline.level")  # type: ignore[attr-defined]
    ticks = [e.text for e in driver.find_elements(By.CSS_SELECTOR, "#sku-chart text.tick")]  # type: ignore[attr-defined]
    assert "0" in ticks and len(ticks) >= 7, ticks
    labels = driver.find_element(By.ID, "sku-chart").text  # type: ignore[attr-defined]
    assert "min 10" in labels and "Reorder point 20" in labels and "bars" in labels, labels
    assert "Low stock" in driver.find_element(By.ID, "sku-alerts").text  # type: ignore[attr-defined]
    driver.save_screenshot(str(ARTIFACTS / "dashboard-sku-en.png"))  # type: ignore[attr-defined]
    driver.find_element(By.CSS_SELECTOR, '#sku-range button[data-range="1d"]').click()  # type: ignore[attr-defined]
    wait_for(lambda: "active" in (driver.find_element(By.CSS_SELECTOR, '#sku-range button[data-range="1d"]').get_attribute("class") or ""),  # type: ignore[attr-defined]
             what="the 1-day range")  # fmt: skip
    # An SKU nobody touched says so instead of showing an empty table.
    driver.get(f"http://127.0.0.1:{port}/#sku/OFFCUT")  # type: ignore[attr-defined]
    wait_for(lambda: "No movements" in driver.find_element(By.ID, "sku-moves").text,  # type: ignore[attr-defined]
             what="the empty state of movements")  # fmt: skip

    # On a small phone (360 px), in both languages: no page scrolls sideways
    # (a wide table scrolls inside its own box).
    driver.set_window_size(360, 780)  # type: ignore[attr-defined]

    def overflow() -> tuple[int, int]:
        return (driver.execute_script("return document.documentElement.scrollWidth"),  # type: ignore[attr-defined]
                driver.execute_script("return document.documentElement.clientWidth"))  # type: ignore[attr-defined]  # fmt: skip

    for lang in ("en", "id"):
        for view in ("racks", "alerts", "reorder", "devices", "sku/RB-D10"):
            driver.execute_script(f"location.hash = '{view}'")  # type: ignore[attr-defined]
            shown = "view-" + view.split("/")[0]
            wait_for(lambda: driver.find_element(By.ID, shown).is_displayed(), what=view)  # type: ignore[attr-defined]  # noqa: B023
            if view == "reorder":
                wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, "#reorder tbody tr"),  # type: ignore[attr-defined]
                         what="the reorder rows")  # fmt: skip
            page, width = overflow()
            assert page <= width, (lang, view, page, width)
            driver.save_screenshot(
                str(ARTIFACTS / f"dashboard-phone-{lang}-{view.split('/')[0]}.png")
            )  # type: ignore[attr-defined]
        if lang == "en":
            driver.find_element(By.ID, "lang").click()  # type: ignore[attr-defined]
    driver.execute_script("location.hash = 'racks'")  # type: ignore[attr-defined]
    wait_for(lambda: qty("C1") == "4", what="racks on a phone")
    driver.save_screenshot(str(ARTIFACTS / "dashboard-phone.png"))  # type: ignore[attr-defined]

    # Locked down: a strict CSP the page lives with (no violation logged), no
    # framing, no referrer; signing out forgets the key in this browser.
    import httpx

    headers = httpx.get(f"http://127.0.0.1:{port}/", timeout=10).headers
    assert "script-src 'self'" in headers["content-security-policy"]
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert headers["x-frame-options"] == "DENY" and headers["referrer-policy"] == "no-referrer"
    logs = driver.get_log("browser")  # type: ignore[attr-defined]
    assert not [e for e in logs if "Content Security Policy" in e.get("message", "")], logs
    fills = driver.find_elements(By.CSS_SELECTOR, "#racks [data-fill]")  # type: ignore[attr-defined]
    assert all(f.value_of_css_property("width") for f in fills)
    driver.set_window_size(1280, 900)  # type: ignore[attr-defined]
    driver.find_element(By.ID, "signout").click()  # type: ignore[attr-defined]
    wait_for(lambda: driver.find_element(By.ID, "login").is_displayed(), what="sign-in form")  # type: ignore[attr-defined]
    assert driver.execute_script("return localStorage.getItem('gudang.key')") is None  # type: ignore[attr-defined]
    driver.get(f"http://127.0.0.1:{port}/")  # type: ignore[attr-defined]
    wait_for(lambda: driver.find_element(By.ID, "login").is_displayed(), what="still signed out")  # type: ignore[attr-defined]


def test_a_dashboard_opened_while_the_api_loads_fills_in_once_it_can(
    make_site: Callable[..., Path],
    spawn: Callable[..., GudangProcess],
    api_keys: dict[str, str],
    browser: object,
    private_influxdb: InfluxServer,
) -> None:
    """The API answers 503 until it has read InfluxDB once (just after a
    restart, or while InfluxDB is down). A dashboard opened then (a tablet
    left open through a server restart) keeps trying and shows the racks as
    soon as the API can, instead of staying empty until someone reloads."""
    from selenium.webdriver.common.by import By

    driver = browser  # typed loosely: selenium is a test-only dependency
    site = make_site()
    private_influxdb.stop()
    port = free_port()
    spawn("api", "--site", str(site), "--port", str(port), GUDANG_INFLUX__URL=private_influxdb.url)
    base = f"http://127.0.0.1:{port}"
    wait_for(lambda: http_ok(f"{base}/healthz"), what="api")
    assert not http_ok(f"{base}/readyz")
    driver.get(f"{base}/#key={api_keys['read']}")  # type: ignore[attr-defined]
    tried = "return performance.getEntriesByType('resource')" \
            ".filter((e) => e.name.includes('/api/v1/stock')).length"  # fmt: skip
    wait_for(lambda: driver.execute_script(tried) >= 1, what="a first try, refused")  # type: ignore[attr-defined]
    assert not driver.find_elements(By.CSS_SELECTOR, ".bin")  # type: ignore[attr-defined]
    private_influxdb.start()
    wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, '.bin[data-bin="C1"]'),  # type: ignore[attr-defined]
             timeout=30, what="the racks, once the API is ready")  # fmt: skip
