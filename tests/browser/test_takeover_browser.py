"""Headless Chromium: an officer is in a live conversation when a supervisor takes it over; her
page says so at once (live `takeover` event, with the reason) and its controls are disabled."""

from __future__ import annotations

import pyotp
import pytest

from bot.handoff import service
from bot.staff.credentials import create_officer
from tests.browser.conftest import shot
from tests.browser.test_console_browser import wait_until


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_officer_is_told_of_a_takeover(db_url, live_console, driver):
    from selenium.webdriver.common.by import By

    officer = create_officer("amani", "correct horse battery staple", display_name="Amani", languages=["en"])
    supervisor = create_officer("neema", "correct horse battery staple", role="supervisor", languages=["en"])
    hid = service.enqueue("conv-takeover-browser", channel="sms", language="en").handoff_id
    claim = service.claim(hid, officer.officer_id)

    driver.get(f"{live_console}/login")
    driver.find_element(By.ID, "username").send_keys("amani")
    driver.find_element(By.ID, "password").send_keys("correct horse battery staple")
    driver.find_element(By.ID, "code").send_keys(pyotp.TOTP(officer.totp_secret).now())
    driver.find_element(By.ID, "login").click()
    wait_until(lambda: driver.find_element(By.ID, "live").text == "live", browser=driver)
    driver.get(f"{live_console}/handoffs/{hid}")
    wait_until(lambda: driver.find_element(By.ID, "live").text == "live", browser=driver)
    assert driver.find_element(By.ID, "reply-text").is_enabled()

    service.transfer(hid, supervisor.officer_id, claim.version, to_officer_id=supervisor.officer_id,
                     as_supervisor=True, reason="safety_concern")
    banner = wait_until(lambda: driver.find_element(By.ID, "banner").text, timeout=5, browser=driver)
    shot(driver, "takeover-told")
    assert "supervisor took over" in banner and "safety concern" in banner
    assert not driver.find_element(By.ID, "reply-text").is_enabled()
