"""The console's controller, UI-free, over small real runs (embedded Chroma, hashing
embeddings, the oracle, a person's answers, or a scripted tool-calling chat model)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import ToolMessage

from conftest import make_pool
from labelgraph import Budget, LabelGraph, Task
from labelgraph.console.changes import optional_criteria
from labelgraph.console.controller import Controller
from labelgraph.console.intent import IntentParser
from labelgraph.console.interpret import IntentInterpreter, make_interpreter
from labelgraph.registry import registry
from support.fakes import ToolCallingChatModel

TASK = Task(labels=["positive", "negative"], description="movie review sentiment")


def _graph(run_dir: Path, annotator: str = "oracle", labels: int = 40, **kw: Any) -> LabelGraph:
    config = {"seed_size": 4, "batch_size": 4, "stopping": [], **kw.pop("config", {})}
    return LabelGraph(TASK, annotator=annotator, llm=kw.pop("llm", "none"),
                      budget=Budget(labels=labels), run_dir=run_dir, embedding="hashing",
                      config=config, **kw)


def _rounds(lines: list[str]) -> list[str]:
    return [line for line in lines if line.startswith("round ")]


def _offline(ctl: Controller) -> Controller:
    ctl.interpreter = make_interpreter(ctl)  # the run has no chat model: the intent parser
    assert isinstance(ctl.interpreter, IntentInterpreter)
    return ctl


def _stopped(tmp_path: Path, labels: int = 12, **kw: Any) -> tuple[LabelGraph, Controller,
                                                                   list[str]]:
    lines: list[str] = []
    lg = _graph(tmp_path / "run", labels=labels, **kw)
    ctl = _offline(Controller(lg, pool=make_pool(), label_column="label",
                              sink=lines.append)).start()
    assert ctl.wait(lambda c: c.status == "stopped")
    return lg, ctl, lines


def test_watch_pause_steer_step_and_stop(tmp_path):
    lines: list[str] = []
    lg = _graph(tmp_path / "run")
    ctl = Controller(lg, pool=make_pool(), label_column="label", sink=lines.append).start()
    assert ctl.wait(lambda c: len(_rounds(lines)) >= 2)
    assert lines[0].startswith("round 1 · query cold_start · +4 labels (oracle 4) · ")
    ctl.execute("/pause")
    assert ctl.wait(lambda c: c.status == "paused")
    paused_at = lg.context.ledger.last_round()
    assert "[paused]" in ctl.status_line() and "labels " in ctl.status_line()
    assert ctl.execute("/strategy entropy") == \
        "ok: strategy diverse_margin → entropy (applied at the next step boundary)"
    ctl.execute("/batch 6")
    ctl.execute("/step")  # one round, then paused again
    assert ctl.wait(lambda c: c.status == "paused" and
                    lg.context.ledger.last_round() > paused_at)
    assert ctl.execute("/batch 0") == \
        "cannot: the batch size must be at least 1 (/batch 30), not '0'"  # refused when typed
    assert ctl.snapshot()["pending_changes"] == 0
    ctl.execute("/continue")
    assert ctl.wait(lambda c: lg.context.ledger.last_round() >= paused_at + 2)
    ctl.execute("/stop")
    assert ctl.wait(lambda c: c.status == "stopped")
    decisions = lg.context.ledger.decisions()
    steered = next(d for d in decisions if "human" in d["followed"])
    assert (steered["strategy"], steered["batch_size"]) == ("entropy", 6)
    assert "following the human: strategy diverse_margin → entropy; batch size 4 → 6" \
        in steered["reason"]
    assert decisions[-1]["reason"] == "the human asked: stop"
    assert "the human asked: stop" in ctl.execute("/why")
    assert ctl.execute(f"/why {steered['round']}").startswith(
        f"round {steered['round']}: query entropy")
    assert "no decision for round 99" in ctl.execute("/why 99")
    assert "entropy" in ctl.execute("/history")
    spend = ctl.execute("/spend")
    assert "labels bought:" in spend and "USD per accepted label:" in spend
    assert "positive" in ctl.execute("/labels")
    assert ctl.execute("/batch") == "cannot: say the batch size: /batch N"
    assert ctl.execute("/stop") == "the run is already stopped"
    ctl.close()
    log = (tmp_path / "run" / "console.log").read_text()
    assert "> /strategy entropy" in log and "round 1 · query cold_start" in log


def test_command_errors_are_sentences_checked_when_typed(tmp_path):
    lg, ctl, _ = _stopped(tmp_path)
    for line, want in (
            ("/query 0.6", "cannot: /query needs a whole number of items (/query 20), "
                           "not '0.6'"),
            ("/batch lots", "cannot: the batch size needs a number (/batch 30), not 'lots'"),
            ("/strategy smartest", "cannot: unknown strategy 'smartest'; choose one of "),
            ("/synthesize 5 spam", "cannot: 'spam' is not a label of this run; its labels "
                                   "are positive, negative"),
            ("/synthesize 5", "cannot: this run cannot synthesize: it has no LLM"),
            ("/correct ab positive", "cannot: an item id needs at least 4 characters"),
            ("/reject ffffffff", "cannot: no labeled item starts with 'ffffffff'"),
            ("/threshold 1.7", "cannot: the confidence threshold is between 0 and 1"),
            ("/budget lots", "cannot: the labels budget needs a number"),
            ("/stopping off nonsense", "cannot: unknown stopping criterion 'nonsense'"),
            ("/frobnicate", "unknown command '/frobnicate'; /help lists them")):
        assert ctl.execute(line).startswith(want), line
    assert ctl.snapshot()["pending_changes"] == 0 and lg.context.ledger.human_actions() == []
    ctl.close()


def test_the_missing_commands(tmp_path):
    lg, ctl, _ = _stopped(tmp_path)
    assert ctl.execute("/pending") == "no label question is waiting"
    tools = ctl.execute("/tools")
    assert "how each agent works in this run:" in tools and "supervisor" in tools
    out = tmp_path / "labels.jsonl"
    assert ctl.execute(f"/export jsonl {out}") == f"wrote {out} (12 labeled items)"
    assert len(out.read_text().splitlines()) == 12
    assert "csv file" in ctl.execute(f"/export jsonl {tmp_path / 'x.csv'}")
    _offline(ctl)
    target = tmp_path / "mine.parquet"
    assert ctl.execute(f"save the labels to {target} please") == \
        f"write the labels to {target} (parquet). go ahead? [Y/n]"  # a file: asked first
    assert not target.exists()
    assert ctl.execute("y") == f"wrote {target} (12 labeled items)" and target.exists()
    strategies = ctl.execute("/help strategies")
    assert "diverse_margin" in strategies and "margin" in strategies and "(now)" in strategies
    assert "stabilizing_predictions" in ctl.execute("/help stopping")
    assert ctl.execute("/help labels") == "labels of this run: positive, negative"
    assert ctl.execute("/help budget").startswith("/budget N | +N | -N | usd X | usd +X")
    assert "/pending" in ctl.execute("/help")
    ctl.close()


@pytest.mark.parametrize("words, change", [
    ("increase the budget by 8 labels", "label budget 12 → 20 (+8)"),
    ("give it 8 more labels", "label budget 12 → 20 (+8)"),
    ("another eight labels please", "label budget 12 → 20 (+8)"),
    ("set the label budget to 20", "label budget 12 → 20 (+8)"),
    ("raise the budget to 30", "label budget 12 → 30 (+18)"),
    ("lower the budget to 10", "label budget 12 → 10 (-2, a cut); 12 already spent, so the "
                               "run stops"),
    ("cut the budget by 2", "label budget 12 → 10 (-2, a cut); 12 already spent, so the run "
                            "stops"),
    ("you can spend another 2 dollars", "the usd budget has no limit to add to"),
])
def test_plain_budget_changes_add_or_set_and_always_ask(tmp_path, words, change):
    lg, ctl, lines = _stopped(tmp_path)
    reply = ctl.execute(words)
    assert change in reply, reply
    assert ctl.snapshot()["pending_changes"] == 0 and lg.context.ledger.human_actions() == []
    if reply.endswith("go ahead? [Y/n]"):
        assert ctl.execute("").startswith(f"ok: {change}")  # a bare Enter confirms
        assert ctl.wait(lambda c: any(line.startswith("applied: ") for line in lines))
        assert lg.context.ledger.human_actions()[0]["kind"] == "steer"
    ctl.close()


def test_money_adds_and_sets(tmp_path):
    lines: list[str] = []
    lg = LabelGraph(TASK, annotator="oracle", llm="none", run_dir=tmp_path / "run",
                    budget=Budget(labels=12, usd=5), embedding="hashing",
                    config={"seed_size": 4, "batch_size": 4, "stopping": []})
    lg.add_pool(make_pool(), label_column="label")
    ctl = _offline(Controller(lg, sink=lines.append))
    assert ctl.execute("you can spend another 2 dollars") == \
        "money budget $5 → $7 (+$2). go ahead? [Y/n]"
    assert ctl.execute("no") == "cancelled: nothing changed"
    assert ctl.execute("set the money budget to $3") == \
        "money budget $5 → $3 (-$2, a cut). go ahead? [Y/n]"
    ctl.execute("/status")  # anything but yes cancels, then runs
    assert lines[-2] == "cancelled: nothing changed" and lines[-1].startswith("[paused]")
    assert ctl.snapshot()["confirming"] == [] and lg.context.ledger.human_actions() == []
    assert ctl.execute("/budget usd +2") == \
        "ok: money budget $5 → $7 (+$2) (applied at the next step boundary)"


@pytest.mark.parametrize("words", ["exit", "bye", "close", "goodbye", "see you later", "quit",
                                   "I'm done here", "ok bye!", "gotta go", "close the console"])
def test_leaving_words_leave_the_console_and_keep_the_run(tmp_path, words):
    lg, ctl, lines = _stopped(tmp_path)
    ctl.execute(words)
    assert ctl.leaving and lines[-1].startswith("leaving; the run is kept")
    assert lg.context.ledger.human_actions() == []  # nothing about the run changed
    assert lg.result().stop_reason == "budget exhausted: labels"
    ctl.close()


@pytest.mark.parametrize("words, answer", [
    ("how much budget is left", "[stopped] · round "),
    ("list the questionable annotations", "no flagged labels"),
    ("are we still generating fake reviews?", "[stopped] · round "),
    ("what strategy are we using?", "strategy diverse_margin"),
    ("why did you stop?", "— budget exhausted: labels"),
    ("what was the reasoning behind round 2", "round 2: query diverse_margin"),
    ("which stopping rules are there?", "optional stopping criteria"),
])
def test_questions_only_read(tmp_path, words, answer):
    lg, ctl, _ = _stopped(tmp_path)
    assert answer in ctl.execute(words), words
    assert ctl.snapshot()["confirming"] == [] and ctl.snapshot()["pending_changes"] == 0
    assert lg.context.ledger.human_actions() == []
    ctl.close()


@pytest.mark.parametrize("words, change", [
    ("no more made-up examples", "synthesis on → off"),
    ("resume the run", "let the run go on"),
    ("carry on", "let the run go on"),
    ("stop the run", "stop the run (its next decision is stop)"),
    ("hold on, pause after this", "pause the run after the current step"),
    ("switch to entropy sampling", "strategy diverse_margin → entropy"),
    ("turn off the stabilizing predictions rule", "stopping criteria none → none"),
    ("halve the batch size", "batch size 4 → 2"),
    ("double the label budget", "label budget 12 → 24 (+12)"),
])
def test_requests_show_the_change_and_wait_for_a_yes(tmp_path, words, change):
    lg, ctl, _ = _stopped(tmp_path, config={"synthesize": True})
    reply = ctl.execute(words)
    if "stopping" in change:  # it is not on in this run: said, not proposed
        assert "stabilizing_predictions is already off" in reply
        ctl.close()
        return
    assert reply == f"{change}. go ahead? [Y/n]", reply
    assert lg.context.ledger.human_actions() == [] and ctl.snapshot()["pending_changes"] == 0
    assert ctl.execute("nope") == "cancelled: nothing changed"
    assert lg.context.ledger.human_actions() == []
    ctl.close()


def test_an_unknown_label_or_strategy_in_a_sentence_is_named(tmp_path):
    lg, ctl, _ = _stopped(tmp_path)
    assert "'spam' is not a label of this run; its labels are positive, negative" in \
        ctl.execute("synthesize 5 items for spam")
    assert "unknown strategy 'bald'" in ctl.execute("switch to bald")
    assert ctl.snapshot()["confirming"] == []
    ctl.close()


def test_a_stopped_run_goes_on_from_the_console(tmp_path):
    lg, ctl, lines = _stopped(tmp_path)
    assert "stopped: budget exhausted: labels. To go on: /budget +N adds labels, then " \
           "/continue" in lines
    assert ctl.execute("/continue") == "going on, if nothing stops it"
    assert ctl.wait(lambda c: lines[-1].startswith("still stopped: budget exhausted: labels. "
                                                   "To go on: /budget +N adds labels"))
    assert ctl.execute("/budget +8") == \
        "ok: label budget 12 → 20 (+8) — the run is stopped: /continue goes on"
    ctl.execute("/continue")
    assert ctl.wait(lambda c: c.status == "stopped" and
                    lg.context.ledger.totals()["labels"] == 20)
    assert "going on after the stop (budget exhausted: labels): label budget 12 → 20 (+8)" \
        in lines
    decisions = lg.context.ledger.decisions()
    rounds = [d["round"] for d in decisions]
    assert rounds == sorted(set(rounds))  # the count goes on, nothing is decided twice
    after = decisions[[d["action"] for d in decisions].index("stop") + 1]
    assert after["followed"] == ["human"] and "label budget 12 → 20 (+8)" in after["reason"]
    kinds = [a["kind"] for a in lg.context.ledger.human_actions()]
    assert kinds.count("continue") == 1 and "steer" in kinds
    rows = lg.context.ledger.all_labels()
    assert len({r.item_id for r in rows}) == len(rows) == 20  # nothing bought twice
    ctl.close()


def test_a_stopped_run_with_nothing_left_says_why_and_what_would_let_it(tmp_path):
    lines: list[str] = []
    lg = _graph(tmp_path / "run", labels=200)
    ctl = Controller(lg, pool=make_pool(6), label_column="label", sink=lines.append).start()
    assert ctl.wait(lambda c: c.status == "stopped")
    assert lg.result().stop_reason == "the pool is exhausted and synthesis is off"
    ctl.execute("/budget +50")
    ctl.execute("/continue")
    assert ctl.wait(lambda c: lines[-1].startswith(
        "still stopped: the pool is exhausted and synthesis is off. To go on: /synth on lets "
        "it write new examples (it needs an LLM)"))
    ctl.close()


def test_a_criterion_stop_needs_the_criterion_lifted(tmp_path):
    lg, ctl, lines = _stopped(tmp_path, labels=30, config={
        "stopping": ["stabilizing_predictions"], "kappa_threshold": 0.0, "min_rounds": 1,
        "kappa_window": 1})
    assert lg.result().decisions[-1]["criteria"] == ["stabilizing_predictions"]
    bought = lg.context.ledger.totals()["labels"]
    ctl.execute("/budget +8")
    ctl.execute("/continue")
    assert ctl.wait(lambda c: lines[-1].startswith("still stopped: predictions have stabilized")
                    and "/stopping off stabilizing_predictions lifts that criterion" in lines[-1])
    assert ctl.execute("/stopping off stabilizing_predictions") == \
        "ok: stopping criteria stabilizing_predictions → none — the run is stopped: " \
        "/continue goes on"
    ctl.execute("/continue")
    assert ctl.wait(lambda c: lg.context.ledger.totals()["labels"] == 38 > bought and
                    c.status == "stopped")
    assert lg.result().stop_reason == "budget exhausted: labels"
    ctl.close()
    lg.close()
    assert LabelGraph.open(tmp_path / "run").context.config.stopping == ()


def test_reopening_a_paused_run_keeps_it_paused(tmp_path):
    lines: list[str] = []
    lg = _graph(tmp_path / "run", labels=40)
    ctl = Controller(lg, pool=make_pool(), label_column="label", sink=lines.append).start()
    assert ctl.wait(lambda c: len(_rounds(lines)) >= 1)
    ctl.execute("/pause")
    assert ctl.wait(lambda c: c.status == "paused")
    ctl.close()
    at = lg.context.ledger.last_round()
    lg.close()
    again = LabelGraph.open(tmp_path / "run")
    more: list[str] = []
    ctl = Controller(again, sink=more.append).start()
    assert more[0] == "the run is paused (as it was left); /continue goes on"
    assert ctl.wait(lambda c: c.status == "paused") and again.context.ledger.last_round() == at
    ctl.close()
    again.close()
    third = LabelGraph.open(tmp_path / "run")  # --continue: it goes on
    ctl = Controller(third).start(paused=False)
    assert ctl.wait(lambda c: c.status == "stopped")
    assert third.context.ledger.totals()["labels"] == 40
    ctl.close()


def test_leaving_and_coming_back_continues_exactly_there(tmp_path):
    lines: list[str] = []
    lg = _graph(tmp_path / "run", labels=40)
    ctl = Controller(lg, pool=make_pool(), label_column="label", sink=lines.append).start()
    assert ctl.wait(lambda c: len(_rounds(lines)) >= 2)
    ctl.execute("/strategy random")
    ctl.close()  # leaves at the next step boundary
    left_at = lg.context.ledger.last_round()
    bought = lg.context.ledger.totals()["labels"]
    lg.close()
    again = LabelGraph.open(tmp_path / "run")
    more: list[str] = []
    ctl = Controller(again, sink=more.append).start()
    assert ctl.wait(lambda c: c.status == "stopped", timeout=120)
    rounds = [d["round"] for d in again.context.ledger.decisions()]
    assert rounds == list(range(1, len(rounds) + 1))  # no round repeated, none skipped
    assert rounds[-1] > left_at and again.context.ledger.totals()["labels"] == 40 > bought
    assert int(_rounds(more)[0].split()[1]) >= left_at  # it went on from where it was left
    ctl.close()
    again.close()


def test_label_questions_are_asked_one_at_a_time(tmp_path):
    lines: list[str] = []
    lg = _graph(tmp_path / "run", annotator="human", labels=8)
    ctl = Controller(lg, pool=make_pool(), label_column="label", sink=lines.append).start()
    assert ctl.wait(lambda c: c.status == "waiting for you")
    assert ctl.question_text().startswith("Q1/4: ")
    assert ctl.execute("/pending").startswith("4 of 4 questions wait")
    texts = [q["text"] for q in ctl.questions]
    ctl.execute("1")  # by number
    ctl.execute("Negative")  # by name, any case
    assert "answer with a number" in ctl.execute("maybe")
    ctl.execute("skip")
    ctl.execute("2")
    assert ctl.wait(lambda c: len(_rounds(lines)) >= 1)
    labels = {r.text: r.label for r in lg.context.ledger.all_labels()}
    assert [labels.get(t) for t in texts] == ["positive", "negative", None, "negative"]
    assert ctl.wait(lambda c: c.status == "waiting for you")
    assert texts[2] not in [q["text"] for q in ctl.questions]  # a skipped item is not asked
    ctl.close()


def test_handing_back_without_an_llm_is_not_asked_again(tmp_path):
    lines: list[str] = []
    lg = _graph(tmp_path / "run", annotator="human", labels=16)
    ctl = Controller(lg, pool=make_pool(), label_column="label", sink=lines.append).start()
    assert ctl.wait(lambda c: c.status == "waiting for you")
    for answer in ("1", "2", "1", "2"):
        ctl.execute(answer)
    assert ctl.wait(lambda c: c.status == "waiting for you" and len(_rounds(lines)) == 1)
    handed = {q["text"] for q in ctl.questions}
    assert ctl.execute("llm") == \
        "the rest are skipped (this run has no LLM) and will not be asked again"
    assert ctl.wait(lambda c: c.status == "waiting for you" and len(_rounds(lines)) == 2)
    assert not handed & {q["text"] for q in ctl.questions}
    ctl.close()


def test_a_pause_while_answering_takes_effect_after_the_last_answer(tmp_path):
    lines: list[str] = []
    lg = _graph(tmp_path / "run", annotator="human", labels=12)
    ctl = Controller(lg, pool=make_pool(), label_column="label", sink=lines.append).start()
    assert ctl.wait(lambda c: c.status == "waiting for you")
    assert ctl.execute("/pause") == "pausing once your answers are in"
    for answer in ("1", "2", "1"):
        ctl.execute(answer)
    assert ctl.status == "waiting for you"  # still answering: no pause yet
    assert ctl.execute("2") == \
        "answers recorded; the run pauses after this step, as you asked (/continue goes on)"
    assert ctl.wait(lambda c: c.status == "paused")
    assert lg.context.ledger.totals()["labels"] == 4
    assert sum("paus" in line for line in lines) == 2  # asked, and said once when it holds
    ctl.close()


def test_bye_while_a_question_waits_leaves(tmp_path):
    lines: list[str] = []
    lg = _graph(tmp_path / "run", annotator="human", labels=8)
    ctl = _offline(Controller(lg, pool=make_pool(), label_column="label",
                              sink=lines.append)).start()
    assert ctl.wait(lambda c: c.status == "waiting for you")
    ctl.execute("status")  # a command's name, not an answer
    assert lines[-1].startswith("[waiting for you] · round 1")
    ctl.execute("bye")
    assert ctl.leaving and ctl.snapshot()["answered"] == 0
    ctl.close()


def test_a_correction_by_a_short_id_reaches_memory_and_the_ledger(tmp_path):
    lg, ctl, lines = _stopped(tmp_path)
    first = lg.context.memory.all()[0][0]
    other = "negative" if first.label == "positive" else "positive"
    assert ctl.execute(f"/correct {first.id[:4]} {other}").startswith(
        f"ok: {first.id[:10]} → {other!r} (was {first.label!r})")
    assert ctl.wait(lambda c: any(line.startswith("applied: ") for line in lines))
    assert lg.context.memory.get([first.id])[0].label == other
    assert f"you: correct -> {other}" in ctl.execute(f"/item {first.id[:6]}")
    assert ctl.execute(f"that one, {first.id[:5]}, should be {first.label}") == \
        f"{first.id[:10]} → {first.label!r} (was {other!r}). go ahead? [Y/n]"
    ctl.close()


def test_attaching_to_a_driven_run_is_read_only_and_says_so(tmp_path):
    driver = _graph(tmp_path / "run", labels=24)
    driver.add_pool(make_pool(), label_column="label")
    _ = driver.context  # holds the driver's lock
    watcher = LabelGraph.open(tmp_path / "run", read_only=True)
    lines: list[str] = []
    ctl = Controller(watcher, sink=lines.append).start()
    assert lines[0].startswith(f"watching {tmp_path / 'run'} read-only")
    assert "read-only" in ctl.execute("/strategy entropy")
    driver.run()
    assert ctl.wait(lambda c: len(_rounds(lines)) >= 3)  # rounds appear as they are written
    assert ctl.status == "watching (read-only)"
    ctl.close()
    driver.close()


def console_model(messages: list[Any], names: list[str]) -> Any:
    """A scripted chat model that calls the console's commands as tools."""
    asked = str(messages[1].content)
    seen = [m for m in messages if isinstance(m, ToolMessage)]
    if "spent" in asked:
        if not seen:
            return {"tool": "spend", "args": {}}
        return {"tool": "ConsoleReply", "args": {"message": "So far: "
                                                 + str(seen[0].content).splitlines()[0]}}
    if "entropy" in asked:
        if not seen:
            return {"tool": "strategy", "args": {"arguments": "entropy"}}
        return {"tool": "ConsoleReply", "args": {"message": "I can switch to entropy."}}
    return {"tool": "ConsoleReply", "args": {"message": "Sorry?"}}


def test_with_a_tool_calling_model_the_console_is_an_agent_that_asks_first(tmp_path):
    lines: list[str] = []
    lg = _graph(tmp_path / "run", labels=12, llm=ToolCallingChatModel(script=console_model),
                policy="rule")
    lg.add_pool(make_pool(), label_column="label")
    ctl = Controller(lg, sink=lines.append)
    ctl.execute("how much have we spent?")
    assert lines[-1].startswith("So far: labels bought: 0")
    ctl.execute("please use entropy from now on")
    assert lines[-2] == "I can switch to entropy."
    assert lines[-1] == "strategy diverse_margin → entropy. go ahead? [Y/n]"
    assert ctl.snapshot()["pending_changes"] == 0  # nothing changes before the yes
    ctl.execute("yes")
    assert ctl.snapshot()["pending_changes"] == 1
    calls = {(c["agent"], c["tool"]) for c in lg.context.ledger.tool_calls()}
    assert calls == {("console", "spend"), ("console", "strategy")}
    ctl.start()
    assert ctl.wait(lambda c: c.status == "stopped")
    assert any("following the human: strategy diverse_margin → entropy" in d["reason"]
               for d in lg.context.ledger.decisions())
    ctl.close()


def test_the_parser_reads_people_not_phrasings():
    parser = IntentParser(["positive", "negative"], registry.names("strategies"),
                          ids=lambda: ["77b1e40c9a2f5d3e8b6a1c20", "abcd0011ff"],
                          criteria=optional_criteria())
    for text, want in (
            ("increase the budget by 50 labels", ("budget", ["+50"])),
            ("bump the budget to 300", ("budget", ["300"])),
            ("twenty five more labels", ("budget", ["+25"])),
            ("reduce the budget by 20", ("budget", ["-20"])),
            ("you can spend another 2 dollars", ("budget", ["usd", "+2"])),
            ("send more items to me, lower the bar to 0.6", ("threshold", ["0.6"])),
            ("lower the confidence threshold to 60%", ("threshold", ["0.6"])),
            ("no more made-up examples", ("synth", ["off"])),
            ("write some synthetic positive reviews", ("synthesize", ["positive"])),
            ("synthesize 5 items for spam", ("synthesize", ["5", "spam"])),
            ("show me item 77b1", ("item", ["77b1"])),
            ("abcd should be negative", ("correct", ["abcd", "negative"])),
            ("throw out 77b1e4", ("reject", ["77b1e4"])),
            ("what was the reasoning behind round 4", ("why", ["4"])),
            ("export the labels to out.csv", ("export", ["out.csv"])),
            ("dump everything as parquet", ("export", ["parquet"])),
            ("which tools do the agents have?", ("tools", [])),
            ("show the pending questions", ("pending", [])),
            ("see you later", ("quit", [])),
            ("resume the run", ("continue", [])),
            ("how much budget is left", ("status", [])),
            ("thanks!", (None, [])),
            ("the weather is lovely", (None, [])),
            # spoken, not typed: what speech-to-text makes of the words
            ("switch to and tropy", ("strategy", ["entropy"])),
            ("set the confidence threshold to point seven", ("threshold", ["0.7"])),
            ("add two dollars fifty to the money budget", ("budget", ["usd", "+2.5"])),
            # a strategy turned away from is not the one asked for
            ("let's not use margin any longer; diverse margin fits better",
             ("strategy", ["diverse_margin"])),
            ("hmm let me think for a sec", (None, [])),
            ("restart the inference pod on k8s", (None, []))):
        got = parser.parse(text)
        assert (got.command, got.args) == want, (text, got)
