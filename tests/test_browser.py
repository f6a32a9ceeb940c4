"""The HTML report opens in headless Chromium: no console errors, every section, live tables.

Needs the Debian packages ``chromium`` and ``chromium-driver`` (``make install``
installs them with apt-get when missing) and the ``selenium`` package. Outside CI
the test is skipped when Chromium is absent; in CI (``CI`` set) it fails instead.
"""

import os
import shutil

import pytest

from keras_iml.report import render_html
from test_report import SECTION_IDS, make_report

FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage", "--window-size=1400,1000",
)


def _requirements():
    """Paths of Chromium and chromedriver; skips (fails in CI) when something is missing."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    try:
        import selenium  # noqa: F401
    except ImportError:
        missing = "the selenium package is not installed (pip install -e '.[test]')"
    else:
        missing = None if browser and driver else (
            "headless Chromium is not installed (Debian: apt-get install chromium "
            "chromium-driver; `make install` does it when apt-get is available)")
    if missing is None:
        return browser, driver
    if os.environ.get("CI"):
        pytest.fail(missing)
    pytest.skip(missing)


@pytest.fixture
def browser(tmp_path):
    browser_path, driver_path = _requirements()
    from selenium import webdriver

    options = webdriver.ChromeOptions()
    options.binary_location = browser_path
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path / 'chromium-profile'}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = webdriver.ChromeService(executable_path=driver_path)
    driver = webdriver.Chrome(options=options, service=service)
    driver.set_page_load_timeout(20)
    yield driver
    driver.quit()


def _errors(driver):
    return [e for e in driver.get_log("browser") if e.get("level") == "SEVERE"]


def test_report_in_headless_chromium(browser, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    report = make_report(n=24)
    path = render_html(report, tmp_path / "report.html")
    browser.get(f"file://{path}")
    assert browser.execute_script("return document.readyState") == "complete"
    assert _errors(browser) == []

    for section in (*SECTION_IDS, "motifs"):
        element = browser.find_element(By.ID, section)
        assert element.is_displayed(), section
        assert element.find_element(By.TAG_NAME, "h2").text.strip()
    # every embedded figure decoded into an image
    broken = browser.execute_script(
        "return Array.from(document.images).filter(i => !(i.complete && i.naturalWidth > 0))"
        ".length")
    assert broken == 0 and len(browser.find_elements(By.TAG_NAME, "img")) >= 10

    # the adverse-event table: every row counted, filters and sorting work
    events = report.adverse_events
    table = browser.find_element(By.ID, "adverse-table")
    count = table.find_element(By.CLASS_NAME, "count")
    assert count.text == f"{len(events)} of {len(events)} rows"
    method = events["method"].iloc[0]
    Select(table.find_element(By.CSS_SELECTOR, "select[data-column='method']")) \
        .select_by_value(method)
    expected = int((events["method"] == method).sum())
    assert count.text == f"{expected} of {len(events)} rows"
    search = table.find_element(By.CLASS_NAME, "dt-search")
    search.send_keys("localisation_auroc")
    expected = int(((events["method"] == method)
                    & (events["metric"] == "localisation_auroc")).sum())
    assert count.text == f"{expected} of {len(events)} rows"
    search.clear()
    search.send_keys(" ")  # clear() fires no input event; an all-blank query matches all
    headers = table.find_elements(By.TAG_NAME, "th")
    value_col = list(events.columns).index("value")
    headers[value_col].click()
    first = float(table.find_element(By.CSS_SELECTOR, "tbody tr td:nth-child(%d)"
                                     % (value_col + 1)).text)
    assert first == pytest.approx(events.loc[events["method"] == method, "value"].min(),
                                  abs=1e-3)
    headers[value_col].click()  # descending
    first = float(table.find_element(By.CSS_SELECTOR, "tbody tr td:nth-child(%d)"
                                     % (value_col + 1)).text)
    assert first == pytest.approx(events.loc[events["method"] == method, "value"].max(),
                                  abs=1e-3)

    # the static summary table sorts too
    summary_table = browser.find_element(By.CSS_SELECTOR, "#summary table")
    value_col = list(report.summary.columns).index("value")
    summary_table.find_elements(By.TAG_NAME, "th")[value_col].click()
    cells = summary_table.find_elements(By.CSS_SELECTOR, "tbody tr td:nth-child(%d)" % (value_col + 1))
    shown = [float(c.text) for c in cells]
    assert shown == sorted(shown) and len(shown) == len(report.summary)
    assert _errors(browser) == []

    # screenshots (top of the page and the whole page) for a human to look at
    browser.execute_script("window.scrollTo(0, 0)")
    browser.save_screenshot(str(tmp_path / "report_top.png"))
    height = browser.execute_script("return document.body.scrollHeight")
    browser.set_window_size(1400, min(int(height) + 100, 16000))
    browser.save_screenshot(str(tmp_path / "report_full.png"))
    assert (tmp_path / "report_full.png").stat().st_size > 10_000
    print(f"screenshots: {tmp_path / 'report_top.png'} {tmp_path / 'report_full.png'}")
