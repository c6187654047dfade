#!/usr/bin/env python3
"""The web console in a real browser (headless Chromium, driven by Playwright).

Starts the release `tally serve --demo` on a free port, then checks, as a
person would see it: the page loads and shows the engine; a typed query
shows the table the API answers; `/?sql=` opens with the query run; a
TIME_BUCKET query in live mode draws a chart that moves when events are
posted; an SQL error is shown at its line and column; the saved queries run
with their parameters; the page fits a phone. A screenshot of each state is
written to target/console/ for a person to look at.

Run by .ci/browser, which installs Chromium and Playwright when missing.
Usage: console_test.py TALLY_BINARY
"""

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request

from playwright.sync_api import sync_playwright

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SHOTS = os.path.join(ROOT, "target", "console")
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
FAILURES = []


def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what, flush=True)
    if not ok:
        FAILURES.append(what)


def start(binary):
    server = subprocess.Popen(
        [binary, "serve", "--demo", "--listen", "127.0.0.1:0", "--queries", "queries"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = server.stdout.readline().strip()
    if not line.startswith("listening on http://"):
        server.kill()
        sys.exit(f"tally serve did not start: {line!r} {server.stderr.read()}")
    return server, line.removeprefix("listening on ")


def api(base, path, body=None, content_type="application/json"):
    data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    req = urllib.request.Request(base + path, data=data,
                                 headers={"Content-Type": content_type} if data else {})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return json.loads(r.read())
    except urllib.error.HTTPError as e:
        sys.exit(f"{path}: {e.code} {e.read().decode(errors='replace')}")


def table(page):
    """The result table as lists of cell texts, header first."""
    return page.eval_on_selector(
        "#result table",
        "t => [...t.rows].map(r => [...r.cells].map(c => c.textContent))")


def shown(value):
    """A JSON value as the console prints it in a cell."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def expected(rows):
    if not rows:
        return []
    columns = list(rows[0].keys())
    return [columns] + [[shown(r[c]) for c in columns] for r in rows]


def run_typed(page, sql):
    page.fill("#sql", sql)
    page.focus("#sql")
    before = page.inner_text("#status")
    page.keyboard.press("Control+Enter")
    page.wait_for_function(
        "([before]) => document.querySelector('#status').textContent !== before"
        " || !document.querySelector('#error').hidden", arg=[before])


def main():
    binary = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "target/release/tally")
    os.makedirs(SHOTS, exist_ok=True)
    server, base = start(binary)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            errors = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            # A 400 for the bad SQL below is expected; a 404 or 5xx is not.
            page.on("console", lambda m: m.type == "error"
                    and not m.text.startswith("Failed to load resource") and errors.append(m.text))
            page.on("response", lambda r: (r.status == 404 or r.status >= 500)
                    and errors.append(f"{r.status} {r.url}"))

            # 1. The page loads, says the server is up and shows the engine.
            page.goto(base + "/")
            page.wait_for_function("document.querySelector('#health').textContent.startsWith('ok')")
            page.wait_for_selector("#engine dt")
            engine = page.inner_text("#engine")
            check("accepted" in engine and "actors: users" in engine,
                  f"the engine panel shows accepted events and actors ({engine[:80]!r})")
            page.wait_for_selector(".saved-query")
            names = page.eval_on_selector_all(".saved-query", "fs => fs.map(f => f.dataset.name)")
            check("j6_user_24h" in names and "statistics" in names,
                  f"the saved queries are listed ({len(names)})")
            page.screenshot(path=os.path.join(SHOTS, "1-loaded.png"))

            # 2. A typed query shows the table the API answers.
            sql = "SELECT event_type, COUNT(*) AS n FROM events GROUP BY event_type ORDER BY n DESC WINDOW 1h"
            run_typed(page, sql)
            page.wait_for_selector("#result table")
            want = expected(api(base, "/query", {"sql": sql}))
            check(table(page) == want, f"a typed query shows the API's rows ({len(want) - 1} rows)")
            check(page.is_hidden("#chart-box"), "no chart for rows that are not a time series")
            page.screenshot(path=os.path.join(SHOTS, "2-typed-query.png"))

            # 3. /?sql= opens the page with that query already run.
            shared = "SELECT TOP 3 event_type FROM events WINDOW 24h"
            page.goto(base + "/?sql=" + urllib.request.quote(shared))
            page.wait_for_selector("#result table")
            check(page.input_value("#sql") == shared, "/?sql= fills the editor")
            check(table(page) == expected(api(base, "/query", {"sql": shared})),
                  "/?sql= shows the query's rows")
            page.screenshot(path=os.path.join(SHOTS, "3-shared-link.png"))

            # 4. Live mode: a bucket chart moves when events are posted.
            bucket = ("SELECT TIME_BUCKET(1m, timestamp) AS minute, COUNT(*) AS events "
                      "FROM events GROUP BY minute ORDER BY minute WINDOW 30m")
            page.fill("#sql", bucket)
            page.fill("#every", "1")
            page.check("#live")
            page.wait_for_selector("#chart path")
            check(page.is_visible("#chart-box"), "a TIME_BUCKET query draws a chart")
            before_path = page.get_attribute("#chart path", "d")
            before_rows = table(page)
            page.screenshot(path=os.path.join(SHOTS, "4-live-before.png"))
            now = api(base, "/health")
            stats = api(base, "/query", {"sql": "SHOW STATS"})
            at = next(r["value"] for r in stats if r["counter"] == "clock.now")
            lines = "".join(
                json.dumps({"event_id": f"console_{i}", "event_type": "like", "user_id": 7_000_000 + i,
                            "video_id": 42, "creator_id": 1, "timestamp": at,
                            "session_id": "s", "metadata": {}}) + "\n"
                for i in range(5000))
            posted = api(base, "/events", lines.encode(), "application/x-ndjson")
            check(posted["accepted"] == 5000, f"5,000 events posted ({posted})")
            page.wait_for_function("([d]) => document.querySelector('#chart path')"
                                   ".getAttribute('d') !== d", arg=[before_path], timeout=10_000)
            after_rows = table(page)
            last_before = int(before_rows[-1][1].replace(",", ""))
            last_after = int(after_rows[-1][1].replace(",", ""))
            check(last_after - last_before >= 5000,
                  f"the live table counts the posted events ({last_before:,} -> {last_after:,})")
            check(page.get_attribute("#chart path", "d") != before_path, "the chart moved")
            page.screenshot(path=os.path.join(SHOTS, "4-live-after.png"))
            page.uncheck("#live")
            check(now["status"] == "ok", "the server stayed healthy")

            # 5. An SQL error is shown at its line and column.
            run_typed(page, "SELECT COUNT(*)\nFROM events\nWHERE AND user_id = 1")
            page.wait_for_selector("#error:not([hidden])")
            message = page.inner_text("#error")
            check("line 3, column 7" in message, f"the error names its position ({message[:60]!r})")
            caret_line = message.splitlines()[-1]
            check(caret_line.index("^") == len("3 | ") + 6, "the caret is under the error")
            check(page.is_hidden("#chart-box") and not page.query_selector("#result table"),
                  "the last query's rows are not shown beside its error")
            cursor = page.eval_on_selector("#sql", "t => t.selectionStart")
            check(cursor == len("SELECT COUNT(*)\nFROM events\n") + 6, "the cursor is put at the error")
            page.screenshot(path=os.path.join(SHOTS, "5-sql-error.png"))

            # 6. A saved query runs with its parameter from a form field.
            form = page.locator('.saved-query[data-name="j6_user_24h"]')
            form.locator("input[name=user]").fill("987654321")
            form.locator("button").click()
            page.wait_for_function("document.querySelector('#sql').value.includes(':user')")
            page.wait_for_selector("#result table")
            with urllib.request.urlopen(base + "/queries/j6_user_24h?user=987654321") as r:
                saved = json.loads(r.read())
            page.wait_for_function("([n]) => document.querySelectorAll('#result tr').length === n",
                                   arg=[len(saved) + 1])
            check(table(page) == expected(saved), "a saved query runs with its parameter")
            page.screenshot(path=os.path.join(SHOTS, "6-saved-query.png"))

            # 7. Keyboard only: Tab reaches the editor and the Run button.
            page.goto(base + "/")
            page.keyboard.press("Tab")
            focused = [page.evaluate("document.activeElement.id")]
            for _ in range(3):
                page.keyboard.press("Tab")
                focused.append(page.evaluate("document.activeElement.id"))
            check("sql" in focused and "run" in focused, f"Tab reaches the editor and Run ({focused})")

            # 8. A phone: nothing wider than the screen.
            phone = browser.new_page(viewport={"width": 390, "height": 844})
            phone.goto(base + "/?sql=" + urllib.request.quote(shared))
            phone.wait_for_selector("#result table")
            width = phone.evaluate("document.documentElement.scrollWidth")
            check(width <= 390, f"the page fits a phone's width ({width}px)")
            phone.screenshot(path=os.path.join(SHOTS, "7-phone.png"), full_page=True)

            check(not errors, f"no script errors ({errors})")
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=30)
    print(f"screenshots in {SHOTS}")
    if FAILURES:
        sys.exit(f"{len(FAILURES)} check(s) failed")


if __name__ == "__main__":
    main()
