"""Headless Chromium drives the console: log in, see a new handoff arrive live (SSE), take it,
read her message, reply (the reply reaches the fake SMS provider), close it (the bot's closing
line follows). Screenshots: test-output/browser/."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import pytest

from bot import i18n
from bot.handoff import service
from bot.staff.roster import add_shifts
from tests.browser.conftest import shot

PHONE = "+15550100123"  # fictional (555-01xx), only ever seen by the fake provider
LIVE_LIMIT = 1.0


def wait_until(predicate, timeout: float = 10.0, step: float = 0.02, browser=None):
    """Poll `predicate` (elements may not exist yet while a page loads)."""
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = predicate()
        except (NoSuchElementException, StaleElementReferenceException):
            value = None
        if value:
            return value
        time.sleep(step)
    where = f" (at {browser.current_url}: {browser.title})" if browser is not None else ""
    raise AssertionError(f"condition not met in time{where}")


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_officer_takes_replies_and_closes(db_url, fake_provider, live_console, driver):
    from channels.contacts import record_inbound
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    from bot.staff.credentials import create_officer

    officer = create_officer("wanjiru", "correct horse battery staple", display_name="Wanjiru", languages=["en", "sw"])
    now = datetime.now(timezone.utc)
    add_shifts(officer.officer_id, ["en", "sw"], now - timedelta(hours=1), now + timedelta(hours=8))
    record_inbound("sms", "conv-browser", "receipt-1", PHONE, "KE", False)

    # 1. log in (password + TOTP)
    driver.get(f"{live_console}/login")
    driver.find_element(By.ID, "username").send_keys("wanjiru")
    driver.find_element(By.ID, "password").send_keys("correct horse battery staple")
    import pyotp

    driver.find_element(By.ID, "code").send_keys(pyotp.TOTP(officer.totp_secret).now())
    driver.find_element(By.ID, "login").click()
    wait_until(lambda: driver.find_element(By.ID, "live").text == "live", browser=driver)
    assert "You are on duty." in driver.page_source
    shot(driver, "01-queue-empty")

    # 2. a new handoff appears live, within a second
    hid = service.enqueue("conv-browser", channel="sms", language="en", risk="danger", country="KE",
                          summary="staying safe").handoff_id
    enqueued = time.monotonic()
    row = wait_until(lambda: driver.find_elements(By.CSS_SELECTOR, f'#unassigned tr[data-id="{hid}"]'), timeout=5)
    latency = time.monotonic() - enqueued
    shot(driver, "02-new-handoff-live")
    assert latency < LIVE_LIMIT, f"new handoff took {latency:.2f}s to appear"

    # 3. take it: the conversation page; her next message arrives live
    row[0].find_element(By.CSS_SELECTOR, "button.claim").click()
    wait_until(lambda: driver.current_url.endswith(f"/handoffs/{hid}"))
    assert "staying safe" in driver.page_source and "conv-browser" not in driver.page_source
    connected = i18n.text("utter_handoff_connected", "en", "sms")
    wait_until(lambda: any(r.form.get("Body") == connected for r in fake_provider.of("twilio")))
    service.append_survivor_message("conv-browser", "is anyone there?")
    wait_until(lambda: "is anyone there?" in driver.find_element(By.ID, "transcript").text)
    shot(driver, "03-conversation")

    # 4. reply: it reaches the fake SMS provider, addressed to her number
    driver.find_element(By.ID, "reply-text").send_keys("Yes, I am here. Are you safe right now?")
    driver.find_element(By.ID, "send-reply").click()
    sent = wait_until(lambda: [r for r in fake_provider.of("twilio") if r.form.get("Body") == "Yes, I am here. Are you safe right now?"])
    assert sent[0].recipient == PHONE
    wait_until(lambda: "Are you safe right now?" in driver.find_element(By.ID, "transcript").text)
    wait_until(lambda: "officer" in driver.find_element(By.ID, "transcript").text and " · sent" in driver.find_element(By.ID, "transcript").text)
    shot(driver, "04-replied")

    # 5. close with an outcome: back to the queue; the bot's neutral closing line goes out
    Select(driver.find_element(By.ID, "outcome")).select_by_value("information_given")
    driver.find_element(By.ID, "close").click()
    wait_until(lambda: driver.current_url.rstrip("/") == live_console)
    closing = i18n.text("utter_handoff_closed", "en", "sms")
    wait_until(lambda: any(r.form.get("Body") == closing for r in fake_provider.of("twilio")))
    wait_until(lambda: not driver.find_elements(By.CSS_SELECTOR, f'#mine tr[data-id="{hid}"]'))
    shot(driver, "05-closed")
    print(f"new handoff visible in the browser after {latency * 1000:.0f} ms")
