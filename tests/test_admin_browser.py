"""The monitoring page, driven in a real headless Chromium (Debian's chromium + chromium-driver,
installed here when missing and we may): log in, see a failure appear, retry it, see it clear.
A screenshot goes to test-artifacts/."""
import os
import shutil
import subprocess
import sys
import tempfile

import pytest

from conftest import ARTIFACTS, DEMO, wait_until
from solrsync.testing import free_port

pytestmark = pytest.mark.django

CHROMIUM, DRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"


def ensure_chromium():
    if os.path.exists(CHROMIUM) and os.path.exists(DRIVER):
        return
    if os.geteuid() == 0 and shutil.which("apt-get"):
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        subprocess.run(["apt-get", "update", "-qq"], env=env, capture_output=True, timeout=600)
        subprocess.run(["apt-get", "install", "-y", "-qq", "chromium", "chromium-driver"], env=env,
                       capture_output=True, timeout=900)
    if not (os.path.exists(CHROMIUM) and os.path.exists(DRIVER)):
        msg = "headless Chromium is not installed (apt-get install chromium chromium-driver)"
        if os.environ.get("SOLRSYNC_REQUIRE_SERVICES") == "1":
            pytest.fail(msg)
        pytest.skip(msg)


@pytest.fixture
def browser(tmp_path):
    ensure_chromium()
    os.environ.setdefault("SE_OFFLINE", "true")  # never let Selenium Manager look for downloads
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
                "--no-first-run", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--window-size=1400,1000", "--user-data-dir=%s" % (tmp_path / "chrome")):
        opts.add_argument(arg)
    driver = webdriver.Chrome(service=Service(DRIVER), options=opts)
    driver.implicitly_wait(5)
    yield driver
    driver.quit()


@pytest.fixture
def server(project):
    port = free_port()
    env = dict(os.environ, PYTHONPATH=str(DEMO), SOLRSYNC_QUEUE_URL="immediate")
    log = open(tempfile.mktemp(prefix="runserver-", suffix=".log", dir=project.info["var"]), "w")
    proc = subprocess.Popen([sys.executable, "manage.py", "runserver", "--noreload", "--insecure",
                             "127.0.0.1:%d" % port], cwd=str(DEMO), env=env, stdout=log, stderr=subprocess.STDOUT)
    import requests
    url = "http://127.0.0.1:%d" % port

    def up():
        try:
            return requests.get(url + "/admin/login/", timeout=1).status_code == 200
        except requests.RequestException:
            return False
    try:
        assert wait_until(up, timeout=30), open(log.name).read()[-2000:]
        yield url
    finally:
        proc.terminate()
        proc.wait(10)


def test_monitoring_page_shows_a_failure_and_retry_clears_it(project, server, browser):
    project.solr.need_emulator("taking a field out of the live schema")
    from django.contrib.auth.models import User
    from solrsync.contrib.django.models import Failure
    User.objects.create_superuser("admin", "admin@example.com", "pw-for-tests")
    schema = project.solr.emulator.core("layers").schema
    category = schema.fields.pop("category")  # a core whose schema lacks a field: Solr answers 400
    layer = project.make_layer(title="Layer that Solr refuses")
    assert Failure.objects.count() == 1

    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select
    browser.get(server + "/admin/login/?next=/admin/solrsync/failure/")
    browser.find_element(By.NAME, "username").send_keys("admin")
    browser.find_element(By.NAME, "password").send_keys("pw-for-tests")
    browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    assert "Solr sync status" in browser.find_element(By.ID, "solrsync-status").text
    row = browser.find_element(By.CSS_SELECTOR, "#result_list tbody tr")
    assert layer.uuid in row.text and "unknown field 'category'" in row.text
    assert browser.find_element(By.CSS_SELECTOR, ".solrsync-failures").text == "1"
    ARTIFACTS.mkdir(exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / "admin-monitoring-failure.png"))

    schema.fields["category"] = category  # the operator fixes the schema, then retries
    row.find_element(By.CSS_SELECTOR, "input.action-select").click()
    Select(browser.find_element(By.NAME, "action")).select_by_value("retry")
    browser.find_element(By.CSS_SELECTOR, "button[name=index]").click()
    assert "Re-queued 1 document" in browser.find_element(By.CSS_SELECTOR, ".messagelist").text
    assert browser.find_element(By.CSS_SELECTOR, ".solrsync-failures").text == "0"
    assert not browser.find_elements(By.CSS_SELECTOR, "#result_list tbody tr")
    browser.save_screenshot(str(ARTIFACTS / "admin-monitoring-cleared.png"))
    assert Failure.objects.count() == 0 and project.doc(layer) is not None


def test_the_page_is_staff_only(project, server):
    import requests
    resp = requests.get(server + "/admin/solrsync/failure/", allow_redirects=False, timeout=10)
    assert resp.status_code == 302 and "/admin/login/" in resp.headers["Location"]
