"""The operations console in a real headless Chromium (Debian's, driven over WebDriver by
chromedriver): sign in, approve a pending journal, search, reverse an executed journal, and
check that the balances the console shows change as they should. Screenshots go to
target/test-artifacts/browser (CASHIER_ARTIFACTS_DIR overrides target/test-artifacts)."""

import os
import re
from decimal import Decimal

import pytest
import requests

from conftest import ROOT, wait_until

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
ARTIFACTS = os.path.join(os.environ.get("CASHIER_ARTIFACTS_DIR", os.path.join(ROOT, "target", "test-artifacts")), "browser")

if not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)):
    if os.environ.get("CI") == "true":
        raise RuntimeError("Chromium and chromedriver are required under CI=true: scripts/browser installs them")
    pytest.skip("*** Chromium is not installed (scripts/browser installs it): the browser tests are SKIPPED ***", allow_module_level=True)

from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.common.exceptions import StaleElementReferenceException, WebDriverException  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402


@pytest.fixture()
def browser():
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1366,900"]:
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.implicitly_wait(5)
    os.makedirs(ARTIFACTS, exist_ok=True)
    yield driver
    driver.quit()


def navigate(driver, element):
    """Clicks what leads to another page, and waits until that page has replaced this one."""
    page = driver.find_element(By.TAG_NAME, "html")
    element.click()
    WebDriverWait(driver, 10).until(lambda _: gone(page))


def gone(element):
    """Whether an element's page has been replaced. Chromium answers a question about an element
    of a page it has just left either as a stale reference or, mid-navigation, as "Node with given
    id does not belong to the document": both mean the page is gone."""
    try:
        element.is_enabled()
        return False
    except StaleElementReferenceException:
        return True
    except WebDriverException as error:
        if "does not belong to the document" in str(error):
            return True
        raise


def shot(driver, name):
    driver.save_screenshot(os.path.join(ARTIFACTS, f"{name}.png"))


def journal(server, amount):
    sandbox = server["sandbox"]
    body = {"entry_type": "JNLC", "from_account": sandbox["firm_account_id"], "to_account": sandbox["customer_account_ids"][0], "amount": amount}
    response = requests.post(f"{server['url']}/v1/journals", json=body, auth=(sandbox["api_key"], sandbox["api_secret"]), timeout=10)
    assert response.status_code == 200, response.text
    return response.json()["id"]


def status(server, journal_id):
    sandbox = server["sandbox"]
    response = requests.get(f"{server['url']}/v1/journals/{journal_id}", auth=(sandbox["api_key"], sandbox["api_secret"]), timeout=10)
    return response.json()["status"]


def shown_cash(driver, server):
    """The customer's USD balance as the console's account page shows it."""
    driver.get(f"{server['url']}/console/accounts/{server['sandbox']['customer_account_ids'][0]}")
    cells = driver.find_elements(By.CSS_SELECTOR, 'tr[data-asset="USD"] td.posted')
    if not cells:
        return Decimal(0)
    return Decimal(re.sub(r"[^0-9.\-]", "", cells[0].text))


def flash(driver):
    return driver.find_element(By.CSS_SELECTOR, "p.flash").text


def test_an_operator_approves_searches_and_reverses_in_the_browser(fresh_server, browser):
    server, driver = fresh_server, browser
    sandbox = server["sandbox"]
    held = journal(server, "80")  # over the sandbox's $50 limit: pending
    paid = journal(server, "30")  # under it: executed by the clearing worker
    wait_until(lambda: status(server, paid) == "executed", "the small journal to execute")
    assert status(server, held) == "pending"

    # Signed out, the console sends you to sign in.
    driver.get(f"{server['url']}/console")
    assert driver.current_url.endswith("/console/login")
    driver.find_element(By.NAME, "key_id").send_keys(sandbox["operator_key"])
    driver.find_element(By.NAME, "secret").send_keys("not the secret")
    navigate(driver, driver.find_element(By.CSS_SELECTOR, "button[type=submit]"))
    assert "do not sign in an operator" in flash(driver)
    driver.find_element(By.NAME, "key_id").send_keys(sandbox["operator_key"])
    driver.find_element(By.NAME, "secret").send_keys(sandbox["operator_secret"])
    shot(driver, "01-sign-in")
    navigate(driver, driver.find_element(By.CSS_SELECTOR, "button[type=submit]"))
    assert driver.current_url.endswith("/console/pending")
    assert "Signed in as" in flash(driver)
    cookie = driver.get_cookie("cashier_console")
    assert cookie and cookie["httpOnly"] and cookie["secure"] and cookie["sameSite"] == "Strict"

    before = shown_cash(driver, server)
    assert before == Decimal("30.00")

    # Approve the pending journal from the queue.
    driver.get(f"{server['url']}/console/pending")
    row = driver.find_element(By.CSS_SELECTOR, f'tr[data-journal="{held}"]')
    row.find_element(By.NAME, "reason").send_keys("known customer")
    shot(driver, "02-pending")
    navigate(driver, row.find_element(By.CSS_SELECTOR, 'button[value="approve"]'))
    assert "is now queued" in flash(driver)
    assert not driver.find_elements(By.CSS_SELECTOR, f'tr[data-journal="{held}"]'), "it left the queue"
    wait_until(lambda: status(server, held) == "executed", "the approved journal to execute")
    assert shown_cash(driver, server) == before + Decimal("80")
    shot(driver, "03-account-after-approval")

    # Search: executed journals into the customer's account.
    driver.get(f"{server['url']}/console/journals")
    form = driver.find_element(By.ID, "journal-search")
    for option in form.find_elements(By.CSS_SELECTOR, 'select[name="status"] option'):
        if option.text == "executed":
            option.click()
    form.find_element(By.NAME, "account").send_keys(sandbox["customer_account_ids"][0])
    navigate(driver, form.find_element(By.CSS_SELECTOR, "button[type=submit]"))
    results = driver.find_element(By.ID, "results").text
    assert held in results and paid in results
    shot(driver, "04-search")

    # Reverse the executed journal of $30, with confirmation and a reason.
    driver.get(f"{server['url']}/console/journals/{paid}")
    navigate(driver, driver.find_element(By.CSS_SELECTOR, 'a[data-action="reverse"]'))
    assert "/confirm/reverse" in driver.current_url
    driver.find_element(By.NAME, "reason").send_keys("sent twice")
    shot(driver, "05-confirm-reverse")
    navigate(driver, driver.find_element(By.CSS_SELECTOR, "#confirm button[type=submit]"))
    assert "is now canceled" in flash(driver)
    timeline = driver.find_element(By.ID, "timeline").text
    assert "executed → canceled" in timeline and "sent twice" in timeline
    shot(driver, "06-reversed")
    assert status(server, paid) == "canceled"
    assert shown_cash(driver, server) == before + Decimal("80") - Decimal("30")
    shot(driver, "07-account-after-reversal")

    # The live view shows the stream of status changes.
    driver.get(f"{server['url']}/console/events")
    wait_until(lambda: len(driver.find_elements(By.CSS_SELECTOR, "#events tbody tr")) >= 3, "events in the live view")
    assert paid in driver.find_element(By.ID, "events").text
    journal(server, "5")
    wait_until(lambda: driver.find_element(By.ID, "stream-state").text == "Live.", "the stream to be live")
    shot(driver, "08-live-events")

    # Signing out ends the session.
    navigate(driver, driver.find_element(By.CSS_SELECTOR, "header form button"))
    assert driver.current_url.endswith("/console/login")
    driver.get(f"{server['url']}/console/pending")
    assert driver.current_url.endswith("/console/login")


def sign_in(driver, server):
    sandbox = server["sandbox"]
    driver.get(f"{server['url']}/console/login")
    driver.find_element(By.NAME, "key_id").send_keys(sandbox["operator_key"])
    driver.find_element(By.NAME, "secret").send_keys(sandbox["operator_secret"])
    navigate(driver, driver.find_element(By.CSS_SELECTOR, "button[type=submit]"))
    assert driver.current_url.endswith("/console/pending")


def test_the_pending_queue_pages_and_accounts_have_names(fresh_server, browser):
    server, driver = fresh_server, browser
    sandbox = server["sandbox"]
    auth = (sandbox["api_key"], sandbox["api_secret"])
    opened = requests.post(
        f"{server['url']}/v1/accounts",
        json={"contact": {"email_address": "ada@example.com"}, "identity": {"given_name": "Ada", "family_name": "Lovelace"}},
        auth=auth,
        timeout=10,
    )
    assert opened.status_code == 200, opened.text
    ada, number = opened.json()["id"], opened.json()["account_number"]
    held = []
    for _ in range(205):  # over the sandbox's $50 limit: each one pending
        body = {"entry_type": "JNLC", "from_account": sandbox["firm_account_id"], "to_account": ada, "amount": "60"}
        response = requests.post(f"{server['url']}/v1/journals", json=body, auth=auth, timeout=10)
        assert response.status_code == 200 and response.json()["status"] == "pending", response.text
        held.append(response.json()["id"])
    sign_in(driver, server)

    # The true count, 200 a page, and the rest on the next.
    driver.get(f"{server['url']}/console/pending")
    assert driver.find_element(By.TAG_NAME, "h1").text == "Pending approval (205)"
    assert driver.find_element(By.ID, "showing").text.startswith("1 to 200 of 205")
    assert len(driver.find_elements(By.CSS_SELECTOR, "#pending tr[data-journal]")) == 200
    shot(driver, "10-pending-page-1")
    navigate(driver, driver.find_element(By.CSS_SELECTOR, 'a[rel="next"]'))
    assert driver.find_element(By.ID, "showing").text.startswith("201 to 205 of 205")
    rows = driver.find_elements(By.CSS_SELECTOR, "#pending tr[data-journal]")
    assert [r.get_attribute("data-journal") for r in rows] == held[200:], "the oldest first, the last five on page 2"
    assert "Page 2 of 2" in driver.find_element(By.ID, "pages").text
    shot(driver, "11-pending-page-2")

    # A journal page names its accounts: number, name and kind, with the id beside.
    driver.get(f"{server['url']}/console/journals/{held[0]}")
    details = driver.find_element(By.ID, "journal").text
    assert f"#{number} Ada Lovelace" in details and "customer" in details and ada in details, details
    assert "firm account" in details and "firm" in details, details
    created = driver.find_element(By.CSS_SELECTOR, "#journal time")
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", created.text), created.text
    assert created.get_attribute("title").endswith("Z"), "the exact time on hover"
    shot(driver, "12-journal-with-names")

    # The account page shows the name and email; the reference pages list correspondents and assets.
    driver.get(f"{server['url']}/console/accounts/{ada}")
    assert driver.find_element(By.ID, "account-name").text == "Ada Lovelace"
    assert driver.find_element(By.ID, "account-email").text == "ada@example.com"
    driver.get(f"{server['url']}/console/correspondents")
    assert sandbox["correspondent_code"] in driver.find_element(By.ID, "correspondents").text
    driver.get(f"{server['url']}/console/assets")
    assert "AAPL" in driver.find_element(By.ID, "assets").text and "USD" in driver.find_element(By.ID, "assets").text
