#!/usr/bin/env python
"""The README's pictures of the demo catalogue: seeds `make demo`'s lots (with their generated pictures) into a
database of its own (gavel_shots on the local PostgreSQL), serves them on 127.0.0.1:8765 and photographs the grid
(desktop and phone) and a lot with its gallery into docs/. The other screenshots come from the browser tests
(README, "The pages").

    .venv/bin/python scripts/demo_screenshots.py
"""

import os
import subprocess
import time
import urllib.request
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = str(Path(__file__).resolve().parent.parent)
PORT = 8765
BASE = f"http://127.0.0.1:{PORT}"
env = {
    **os.environ,
    "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/gavel_shots",
    "REDIS_URL": "",
    "LOG_LEVEL": "WARNING",
}
subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-c", "DROP DATABASE IF EXISTS gavel_shots"], check=True)
subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-c", "CREATE DATABASE gavel_shots"], check=True)
py = f"{ROOT}/.venv/bin/python"
subprocess.run([py, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
subprocess.run([py, "manage.py", "seed_demo"], cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
server = subprocess.Popen(
    [py, "-m", "daphne", "-b", "127.0.0.1", "-p", str(PORT), "config.asgi:application"],
    cwd=ROOT,
    env=env,
    stderr=subprocess.DEVNULL,
)
try:
    for _ in range(100):
        try:
            urllib.request.urlopen(BASE + "/healthz", timeout=1)
            break
        except Exception:
            time.sleep(0.2)
    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]
        )
        desk = b.new_context(viewport={"width": 1200, "height": 900}, locale="en-GB", timezone_id="Europe/London")
        page = desk.new_page()
        page.goto(BASE + "/")
        page.wait_for_timeout(2500)
        page.screenshot(path=f"{ROOT}/docs/screenshot-catalogue.png", full_page=True)
        link = page.get_by_role("link", name="Vintage Leica M3 camera").first.get_attribute("href")
        lot = desk.new_page()
        lot.goto(BASE + link)
        lot.wait_for_timeout(3000)
        lot.screenshot(path=f"{ROOT}/docs/screenshot-lot-gallery.png", full_page=True)
        phone = b.new_context(
            viewport={"width": 390, "height": 844},
            locale="en-GB",
            timezone_id="Europe/London",
            is_mobile=True,
            device_scale_factor=1,
        )
        pp = phone.new_page()
        pp.goto(BASE + "/")
        pp.wait_for_timeout(2500)
        pp.screenshot(path=f"{ROOT}/docs/screenshot-catalogue-phone.png")
        b.close()
finally:
    server.terminate()
    server.wait()
print("ok")
