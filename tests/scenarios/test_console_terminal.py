"""The console's terminal front-end in a real pseudo-terminal (pexpect): start a run, watch a
round arrive, answer label questions, change the strategy, pause, ask why, quit, reopen, see
the run continue where it was left, following the change, and leave with Ctrl-C twice."""

from __future__ import annotations

import os
import sys
import time

import pexpect

from conftest import make_pool


def _console(*args: str) -> pexpect.spawn:
    env = {**os.environ, "PROMPT_TOOLKIT_NO_CPR": "1", "COLUMNS": "200"}
    # poll, not select: select() cannot watch a descriptor numbered 1024 or more, which a
    # long pytest session (Chroma, servers, threads) can reach
    return pexpect.spawn(sys.executable, ["-m", "labelgraph.cli", "console", *args],
                         encoding="utf-8", timeout=120, dimensions=(50, 200), env=env,
                         use_poll=True)


def test_the_terminal_console_end_to_end(tmp_path):
    make_pool(20).to_csv(tmp_path / "pool.csv", index=False)
    run_dir = str(tmp_path / "run")
    child = _console(run_dir, "--pool", str(tmp_path / "pool.csv"), "--labels",
                     "positive,negative", "--label-column", "label", "--annotator", "human",
                     "--llm", "none", "--embedding", "hashing", "--budget-labels", "12",
                     "--seed-size", "2", "--batch-size", "2")
    child.expect("Q1/2: ")
    child.sendline("1")
    child.expect("Q2/2: ")
    child.sendline("negative")
    child.expect("round 1 · query cold_start · \\+2 labels \\(human 2\\)")  # a round arrives
    child.expect("Q1/2: ")  # round 2 asks again
    child.sendline("/strategy entropy")
    child.expect("ok: strategy diverse_margin → entropy")
    child.sendline("/pause")
    child.expect("pausing once your answers are in")
    child.sendline("2")
    child.expect("Q2/2: ")
    child.sendline("1")
    child.expect("answers recorded; the run pauses after this step, as you asked")
    child.expect("applied: strategy diverse_margin → entropy")  # paused at the next step boundary
    child.sendline("/status")
    child.expect("\\[paused\\] · round 2 · labels 4/12")
    child.sendline("/why")
    child.expect("signals: labeled=")
    child.sendline("/quit")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0

    again = _console(run_dir)  # reopen: paused as it was left, until the person goes on
    again.expect("the run is paused \\(as it was left\\); /continue goes on")
    again.sendline("/continue")
    again.expect("round 2 · query diverse_margin · \\+2 labels \\(human 2\\)")
    again.expect("Q1/2: ")
    again.sendline("1")
    again.expect("Q2/2: ")
    again.sendline("2")
    again.expect("round 3 · query entropy · \\+2 labels \\(human 2\\) .*following the "
                 "human: strategy diverse_margin → entropy")
    again.sendintr()  # Ctrl-C once pauses, twice leaves
    again.expect("Ctrl-C again to leave")
    time.sleep(0.5)  # a person's second press, not a key repeat
    again.sendintr()
    again.expect("leaving \\(the run is kept\\)")
    again.expect(pexpect.EOF)
    again.close()
    assert again.exitstatus == 0
    log = (tmp_path / "run" / "console.log").read_text()
    assert "> /strategy entropy" in log and "round 3 · query entropy" in log


def test_a_stopped_run_gets_more_budget_and_goes_on_in_the_terminal(tmp_path):
    make_pool(20).to_csv(tmp_path / "pool.csv", index=False)
    run_dir = str(tmp_path / "run")
    child = _console(run_dir, "--pool", str(tmp_path / "pool.csv"), "--labels",
                     "positive,negative", "--label-column", "label", "--annotator", "oracle",
                     "--llm", "none", "--embedding", "hashing", "--budget-labels", "6",
                     "--seed-size", "2", "--batch-size", "2")
    child.expect("stopped: budget exhausted: labels. To go on: /budget \\+N adds labels, "
                 "then /continue")
    child.sendline("give it four more labels")
    child.expect("label budget 6 → 10 \\(\\+4\\). go ahead\\? \\[Y/n\\]")
    child.sendline("")  # a bare Enter confirms
    child.expect("ok: label budget 6 → 10 \\(\\+4\\) — the run is stopped: /continue goes on")
    child.sendline("/continue")
    child.expect("going on after the stop \\(budget exhausted: labels\\): label budget 6 → 10")
    child.expect("round 5 · query diverse_margin · \\+2 labels \\(oracle 2\\) "
                 ".*following the human")
    child.expect("stopped: budget exhausted: labels")
    child.sendline("/status")
    child.expect("\\[stopped\\] · round 7 · labels 10/10")
    child.sendline("bye")
    child.expect("leaving; the run is kept")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
