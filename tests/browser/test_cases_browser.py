"""Headless Chromium on the desk side of a report: a case submitted for an SMS conversation (her
contact recorded by the fake SMS provider's inbound path) appears live in the team's case queue, is
acknowledged, written to (the message reaches the fake provider), referred with consent and
closed. Screenshots: test-output/browser/cases-*.png."""

from __future__ import annotations

import time

import pytest

from tests.browser.conftest import shot
from tests.browser.test_console_browser import wait_until as _wait_until


def wait_until(predicate, timeout: float = 10.0, browser=None):
    """Like the console test's, also riding out a page being replaced mid-read (reloads)."""
    from selenium.common.exceptions import WebDriverException

    def safe():
        try:
            return predicate()
        except WebDriverException:
            return None

    return _wait_until(safe, timeout=timeout, browser=browser)

PHONE = "+15550100145"  # fictional (555-01xx), only ever seen by the fake provider
STATEMENT = "MARKER-BROWSER-STATEMENT-2290"


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_desk_acknowledges_refers_and_closes(db_url, fake_provider, live_console, driver):
    import pyotp
    from channels.contacts import record_inbound
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    from bot.staff.credentials import create_officer
    from bot.staff.roster import add_team
    from bot.reporting import intake
    from bot.reporting.desks import set_desk_team
    from bot.reporting.draft import Consent
    from bot.store.db import get_engine
    from tests.reporting.conftest import add_service

    engine = get_engine(db_url)
    desk_id = add_service(engine, "Kilimani gender desk", "gender_desk", -1.29, 36.78, desk=True)
    clinic_id = add_service(engine, "Nairobi Women's clinic", "hospital", -1.30, 36.80, desk=False)
    team = add_team("Kilimani desk team", engine)
    set_desk_team(str(desk_id), team, engine=engine)
    officer = create_officer("achieng", "correct horse battery staple", display_name="Achieng", team_id=team,
                             languages=["en"], engine=engine)
    record_inbound("sms", "conv-report", "receipt-r1", PHONE, "KE", False)

    driver.get(f"{live_console}/login")
    driver.find_element(By.ID, "username").send_keys("achieng")
    driver.find_element(By.ID, "password").send_keys("correct horse battery staple")
    driver.find_element(By.ID, "code").send_keys(pyotp.TOTP(officer.totp_secret).now())
    driver.find_element(By.ID, "login").click()
    wait_until(lambda: driver.find_element(By.ID, "live").text == "live", browser=driver)  # logged in: queue page
    driver.get(f"{live_console}/cases")
    wait_until(lambda: driver.find_element(By.ID, "cases-live").text == "live", browser=driver)
    shot(driver, "cases-01-queue-empty")

    # 1. her confirmed report becomes a case on the desk's live queue
    draft = {"incident_types": ["physical_assault"], "when": "today", "safe_now": True,
             "place": {"name": "Kilimani", "lat": -1.29, "lon": 36.78, "region": "Nairobi", "country": "KE"},
             "contact": {"mode": "chat"}, "statement": STATEMENT}
    case = intake.submit("conv-report", draft, Consent(True, True), channel="sms", language="en", country="KE", engine=engine)
    submitted = time.monotonic()
    row = wait_until(lambda: driver.find_elements(By.CSS_SELECTOR, f'#cases tr[data-id="{case.case_id}"]'), timeout=5)
    latency = time.monotonic() - submitted
    assert case.reference in row[0].text and STATEMENT not in driver.page_source
    shot(driver, "cases-02-new-case-live")
    assert latency < 1.0, f"new case took {latency:.2f}s to appear"

    # 2. open it: the statement is decrypted server-side for her team
    row[0].find_element(By.LINK_TEXT, case.reference).click()
    wait_until(lambda: driver.find_elements(By.ID, "statement"))
    assert STATEMENT in driver.find_element(By.ID, "statement").text and PHONE not in driver.page_source
    driver.find_element(By.ID, "to-acknowledged").click()
    wait_until(lambda: driver.find_element(By.ID, "case-status").text == "Acknowledged")
    shot(driver, "cases-03-acknowledged")

    # 3. write to her through her channel: the SMS reaches the fake provider, addressed to her
    driver.find_element(By.ID, "contact-text").send_keys("Hello, this is the desk. Is now a good time?")
    driver.find_element(By.ID, "contact-send").click()
    sent = wait_until(lambda: [r for r in fake_provider.of("twilio") if r.form.get("Body") == "Hello, this is the desk. Is now a good time?"])
    assert sent[0].recipient == PHONE
    wait_until(lambda: driver.find_element(By.ID, "case-status").text == "Contacted")

    # 4. refer with her consent, recording what is shared
    Select(driver.find_element(By.ID, "refer-service")).select_by_value(str(clinic_id))
    driver.find_element(By.ID, "share-incident_types").click()
    driver.find_element(By.ID, "share-when").click()
    driver.find_element(By.ID, "consent-given").click()
    Select(driver.find_element(By.ID, "consent-how")).select_by_value("chat")
    driver.find_element(By.ID, "refer-send").click()
    wait_until(lambda: driver.find_element(By.ID, "case-status").text == "Referred")
    assert "shared: incident_types, when" in driver.find_element(By.ID, "referrals").text
    shot(driver, "cases-04-referred")

    # 5. close with an outcome; it leaves the open queue
    Select(driver.find_element(By.ID, "close-outcome")).select_by_value("referred")
    driver.find_element(By.ID, "to-closed").click()
    wait_until(lambda: driver.find_element(By.ID, "case-status").text == "Closed")
    shot(driver, "cases-05-closed")
    driver.get(f"{live_console}/cases")
    wait_until(lambda: not driver.find_elements(By.CSS_SELECTOR, f'#cases tr[data-id="{case.case_id}"]'))
    print(f"new case visible in the browser after {latency * 1000:.0f} ms")
