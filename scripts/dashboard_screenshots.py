"""The screenshots in docs/dashboard.md, taken from the demo (its site, its
scripted day), in headless Chromium as the browser test uses it.

    .venv/bin/python scripts/dashboard_screenshots.py            # writes docs/img/*.png

Starts `gudang demo` in a temporary directory on a free port, lets the
scripted day run until plate is below its minimum (about a minute),
acknowledges that alert as "Sari", and photographs the racks, the alerts, the
plate's page and a phone-sized view; stops the demo after.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from gudang.services import free_port
from gudang.testing import auth, wait_for

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "img"


def main() -> None:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By

    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp) / "demo"
        log = (Path(tmp) / "demo.out").open("wb")
        demo = subprocess.Popen(
            [sys.executable, "-m", "gudang.cli", "demo", "--workdir", str(work),
             "--api-port", str(port)],
            cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        os.environ["SE_OFFLINE"] = "true"
        opts = webdriver.ChromeOptions()
        opts.binary_location = "/usr/bin/chromium"
        for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                    "--window-size=1100,760", "--lang=id"):  # fmt: skip
            opts.add_argument(arg)
        driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)
        try:
            key_file = work / "api" / "demo-key.txt"
            wait_for(key_file.exists, timeout=60, what="the demo's key")
            key = key_file.read_text().strip()
            base = f"http://127.0.0.1:{port}"

            def low() -> bool:
                try:
                    items = httpx.get(f"{base}/api/v1/alerts", headers=auth(key)).json()["items"]
                except (httpx.HTTPError, ValueError, KeyError):
                    return False
                return any(a["kind"] == "low_stock" for a in items)

            print("waiting for the scripted day to take plate below its minimum...", flush=True)
            wait_for(low, timeout=240, interval=1, what="a low-stock alert")
            driver.get(f"{base}/#key={key}")
            wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, ".bin .qty"), what="racks")
            time.sleep(1)  # the live stream's first update: a photo, not a test
            driver.save_screenshot(str(OUT / "dashboard-racks.png"))
            driver.get(f"{base}/#alerts")
            card = 'li[data-alert="low_stock/PLT-SS400-2"]'
            wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, f"{card} form"), what="alert")
            driver.find_element(By.CSS_SELECTOR, f'{card} input[name="by"]').send_keys("Sari")
            driver.find_element(By.CSS_SELECTOR, f'{card} input[name="note"]').send_keys(
                "sudah dipesan"
            )
            driver.find_element(By.CSS_SELECTOR, f"{card} button").click()
            wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, f"{card} .acks"), what="ack")
            driver.save_screenshot(str(OUT / "dashboard-alerts.png"))
            driver.find_element(By.ID, "lang").click()
            driver.get(f"{base}/#racks")
            wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, ".bin .qty"), what="racks")
            driver.save_screenshot(str(OUT / "dashboard-racks-en.png"))
            driver.get(f"{base}/#sku/PLT-SS400-2")
            wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, "#sku-chart polyline"),
                     what="the chart")  # fmt: skip
            driver.set_window_size(1100, 1000)
            driver.save_screenshot(str(OUT / "dashboard-sku-en.png"))
            driver.set_window_size(390, 844)
            driver.find_element(By.ID, "lang").click()
            driver.get(f"{base}/#racks")
            wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, ".bin .qty"), what="racks")
            driver.save_screenshot(str(OUT / "dashboard-phone.png"))
            print(f"wrote {', '.join(sorted(p.name for p in OUT.glob('dashboard-*.png')))}")
        finally:
            driver.quit()
            demo.send_signal(signal.SIGTERM)
            demo.wait(60)
            log.close()


if __name__ == "__main__":
    main()
