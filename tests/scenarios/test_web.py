"""The web console (``labelgraph serve``): a real server on 127.0.0.1 on a real run, read with
an HTTP client and driven in headless Chromium (Debian's ``chromium``, which ``.ci/run``
installs) through Playwright, as a person would: keys to answer, a table to correct, a chat
that asks before it changes the run, a reload that finds the same state."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from conftest import make_pool
from support.web_server import CHROMIUM, TOKEN, Served

# A browser test that cannot run in CI is a failure there, not a skip.
needs_browser = pytest.mark.skipif(
    CHROMIUM is None and not os.environ.get("CI"),
    reason="no chromium here (apt-get install chromium; .ci/run installs it)")


@pytest.fixture
def served(tmp_path):
    web = Served(tmp_path / "run").start()
    yield web
    web.close()


def _events(lines: Iterator[str], n: int) -> list[tuple[str, Any]]:
    """The next ``n`` events of a server-sent event stream's lines, as (kind, data)."""
    out: list[tuple[str, Any]] = []
    kind = None
    for line in lines:
        if line.startswith("event: "):
            kind = line[7:]
        elif line.startswith("data: ") and kind:
            out.append((kind, json.loads(line[6:])))
            if len(out) == n:
                return out
    return out


def test_every_request_needs_the_token(served):
    routes = ["/", "/events", "/api/state", "/api/labels"]
    for route in routes:
        assert httpx.get(served.base + route).status_code == 403
        assert httpx.get(served.base + route + "?token=wrong").status_code == 403
    assert httpx.post(served.base + "/api/act", json={"say": "/stop"}).status_code == 403
    assert httpx.get(served.url).status_code == 200
    assert httpx.get(served.base + "/api/state", headers={"X-Token": TOKEN}).status_code == 200
    # nothing the refused requests asked for happened
    assert not any(a["kind"] == "stop" for a in served.lg.context.ledger.human_actions())


def test_the_page_is_one_file_that_needs_nothing_from_elsewhere(served):
    html = httpx.get(served.url).text
    assert "/*SCRIPT*/" not in html and "EventSource" in html and "<style>" in html
    assert not re.search(r"""(src|href)=["']https?://""", html)  # works offline


def test_the_event_stream_sends_the_state_then_the_news_to_every_browser(served):
    assert served.ctl.wait(lambda c: c.status == "waiting for you", 60)
    with httpx.stream("GET", f"{served.base}/events?token={TOKEN}", timeout=30) as one, \
            httpx.stream("GET", f"{served.base}/events?token={TOKEN}", timeout=30) as two:
        one_lines, two_lines = one.iter_lines(), two.iter_lines()
        first = _events(one_lines, 2)
        assert [k for k, _ in first] == ["state", "lines"]
        assert first[0][1]["question"]["at"] == 0 and first[0][1]["status"] == "waiting for you"
        _events(two_lines, 2)
        reply = httpx.post(f"{served.base}/api/act", headers={"X-Token": TOKEN},
                           json={"answer": "1"}).json()
        assert reply["state"]["question"]["at"] == 1
        # the second browser sees the first one's answer, as a line and as the new state
        seen = _events(two_lines, 3)  # the answer's line, the new state, the next question
        assert ("line", "  -> positive") in seen
        assert any(k == "state" and d["question"]["at"] == 1 for k, d in seen)


def test_undo_takes_back_an_answer_not_yet_sent(served):
    assert served.ctl.wait(lambda c: c.status == "waiting for you", 60)
    act = lambda body: httpx.post(f"{served.base}/api/act", headers={"X-Token": TOKEN},  # noqa: E731
                                  json=body).json()
    act({"answer": "2"})
    assert act({"undo": True})["state"]["question"]["at"] == 0
    assert "nothing to undo" in act({"undo": True})["reply"] or \
        "no answer to take back" in act({"undo": True})["reply"]
    assert act({}) == {"error": "say, answer or undo"}


def test_the_serve_command_prints_a_url_with_a_token_and_keeps_the_run(tmp_path):
    from labelgraph.cli import _console_controller

    make_pool().to_csv(tmp_path / "pool.csv", index=False)
    cmd = [sys.executable, "-m", "labelgraph.cli", "serve", str(tmp_path / "run"), "--port",
           "0", "--host", "0.0.0.0", "--pool", str(tmp_path / "pool.csv"), "--labels",
           "positive,negative", "--label-column", "label", "--annotator", "oracle",
           "--llm", "none", "--embedding", "hashing", "--budget-labels", "8",
           "--seed-size", "4", "--batch-size", "4"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "COLUMNS": "200"})
    try:
        lines: list[str] = []
        url = None
        end = time.time() + 120
        while url is None and time.time() < end:
            line = proc.stdout.readline()  # type: ignore[union-attr]
            if not line:
                break
            lines.append(line)
            found = re.search(r"open (http://\S+)", line)
            url = found.group(1) if found else None
        assert url, "".join(lines)
        assert any("warning" in line and "network" in line for line in lines)
        base, token = url.split("/?token=")
        assert len(token) >= 20  # a random token, not a guessable one
        assert httpx.get(base + "/").status_code == 403
        assert httpx.get(url).status_code == 200
        # a second console on the same run only watches: one driver at a time
        other = _console_controller(tmp_path / "run", None, None, "", "text", None, None,
                                    None, None, "oracle", 8, None, "margin", 4, 4, "hashing")
        assert other.lg.read_only and other.status.startswith("watching")
        assert "read-only" in other.execute("/stop")
        end = time.time() + 60
        while httpx.get(f"{base}/api/state?token={token}").json()["status"] != "stopped":
            assert time.time() < end
            time.sleep(0.3)
    finally:
        proc.send_signal(signal.SIGINT)
        out = proc.communicate(timeout=60)[0]
    assert proc.returncode == 130, out  # Ctrl-C's exit status, after a clean shutdown
    assert "Traceback" not in out
    assert "run kept in" in out
    assert (tmp_path / "run" / "run.json").exists()


@needs_browser
def test_a_person_labels_steers_and_reloads_in_a_real_browser(served, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=30_000)  # a loaded 2-core machine: waits, never sleeps
    shots = Path(os.environ.get("LABELGRAPH_SCREENSHOTS", tmp_path))
    ledger = served.lg.context.ledger
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(served.base + "/")
        assert "needs the token" in page.content()
        page.goto(served.url)
        status = page.locator("#status")
        expect(status).to_have_text("waiting for you", timeout=60_000)
        card = page.locator("#question")
        # three cards by keyboard, one taken back and answered again, then the fourth
        for key, shown in (("1", "question 2 of 4"), ("2", "question 3 of 4"),
                           ("1", "question 4 of 4"), ("u", "question 3 of 4"),
                           ("2", "question 4 of 4")):
            page.keyboard.press(key)
            expect(card).to_contain_text(shown)
        page.keyboard.press("1")  # the batch is complete: it resumes the run by itself
        # a round arrives: its decision, and the curve grows
        expect(page.locator("#decisions li")).to_have_count(2, timeout=60_000)
        expect(page.locator("#curve")).to_have_attribute("data-points", "1")
        expect(card).to_contain_text("LLM suggests", timeout=60_000)
        expect(card).to_contain_text("nearest labeled examples")
        page.screenshot(path=str(shots / "web-console.png"), full_page=False)
        # correct a label in the table (the person's answers are in it)
        row = page.locator("#rows tr").first
        expect(row).to_be_visible()
        item = row.get_attribute("data-id")
        current = row.locator("select").input_value()
        other = "negative" if current == "positive" else "positive"
        row.locator("select").select_option(other)
        expect(page.locator("#log")).to_contain_text(f"ok: {item[:10]} → '{other}'")
        # plain language in the chat: shown, then applied only after a yes
        page.fill("#line", "switch the sampling to random")
        page.press("#line", "Enter")
        expect(page.locator("#confirm")).to_be_visible()
        expect(page.locator("#confirmtext")).to_contain_text("random")
        page.screenshot(path=str(shots / "web-console-confirm.png"))
        page.click("#yes")
        expect(page.locator("#log")).to_contain_text("ok: strategy")
        page.click("button[data-cmd='/pause']")
        expect(page.locator("#log")).to_contain_text("pausing once your answers are in")
        for _ in range(4):
            before = card.inner_text()
            page.keyboard.press("2")
            expect(card).not_to_have_text(before)
        expect(status).to_have_text("paused", timeout=60_000)
        assert served.lg.context.config.strategy == "random"
        assert ledger.corrections()[item] == other
        decisions = page.locator("#decisions li").count()
        # a reload finds the same state
        page.reload()
        expect(status).to_have_text("paused")
        expect(page.locator("#decisions li")).to_have_count(decisions)
        expect(page.locator("#strategy")).to_have_value("random")
        fixed = page.locator(f"#rows tr[data-id='{item}'] select")
        expect(fixed).to_have_value(other)
        page.screenshot(path=str(shots / "web-console-table.png"), full_page=True)
        # continue to the stop
        page.click("button[data-cmd='/continue']")
        expect(card).to_contain_text("question 1 of 4", timeout=60_000)
        for n in range(4):
            page.keyboard.press("1")
            if n < 3:
                expect(card).to_contain_text(f"question {n + 2} of 4")
        expect(status).to_have_text("stopped", timeout=60_000)
        expect(page.locator("#decisions li").first).to_contain_text("budget exhausted")
        timings = page.evaluate("window.lgTimings")
        browser.close()
    assert ledger.totals()["labels"] == 20
    # twelve answers by keyboard, each recorded once (the one taken back was never sent)
    assert ledger.cost_by_source()["human"]["labels"] == 12
    # the page measured, since the reload, each answer key to its next card and the last
    # round's end to its showing (benchmarks/web_latency.py reports them)
    assert len(timings["answer"]) == 4 and len(timings["round"]) >= 1
    kinds = [a["kind"] for a in ledger.human_actions()]
    assert "pause" in kinds and "go" in kinds
