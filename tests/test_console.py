"""The console's controller, UI-free, over small real runs (embedded Chroma, hashing
embeddings, the oracle, a person's answers, or a scripted tool-calling chat model)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from langchain_core.messages import ToolMessage

from conftest import make_pool
from fakes import ToolCallingChatModel
from labelgraph import Budget, LabelGraph, Task
from labelgraph.console.controller import Controller
from labelgraph.console.intent import IntentMatcher, number_in
from labelgraph.console.interpret import IntentInterpreter
from labelgraph.memory.embeddings import make_embedding
from labelgraph.registry import registry

TASK = Task(labels=["positive", "negative"], description="movie review sentiment")


def _graph(run_dir: Path, annotator: str = "oracle", labels: int = 40, **kw: Any) -> LabelGraph:
    return LabelGraph(TASK, annotator=annotator, llm=kw.pop("llm", "none"),
                      budget=Budget(labels=labels), run_dir=run_dir, embedding="hashing",
                      config={"seed_size": 4, "batch_size": 4, "stopping": []}, **kw)


def _rounds(lines: list[str]) -> list[str]:
    return [line for line in lines if line.startswith("round ")]


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
    ctl.execute("/strategy entropy")
    ctl.execute("/batch 6")
    ctl.execute("/step")  # one round, then paused again
    assert ctl.wait(lambda c: c.status == "paused" and
                    lg.context.ledger.last_round() > paused_at)
    ctl.execute("/batch 0")  # queued, and refused with its reason when applied
    ctl.execute("/continue")
    assert ctl.wait(lambda c: lg.context.ledger.last_round() >= paused_at + 2)
    assert any(line.startswith("not applied: bad run config: batch_size") for line in lines)
    ctl.execute("/stop")
    assert ctl.wait(lambda c: c.status == "stopped")
    decisions = lg.context.ledger.decisions()
    steered = next(d for d in decisions if "human" in d["followed"])
    assert (steered["strategy"], steered["batch_size"]) == ("entropy", 6)
    assert "following the human: strategy → entropy; batch size → 6" in steered["reason"]
    assert decisions[-1]["reason"] == "the human asked: stop"
    assert any(line.startswith("applied: strategy → entropy") for line in lines)
    assert "round" in ctl.execute("/why") and "the human asked: stop" in ctl.execute("/why")
    assert "entropy" in ctl.execute("/history")
    spend = ctl.execute("/spend")
    assert "labels bought:" in spend and "USD per accepted label:" in spend
    assert "items labeled twice (LLM, then a person): 0" in spend
    assert "positive" in ctl.execute("/labels")
    assert "usage: /batch N" in ctl.execute("/batch")
    ctl.close()
    log = (tmp_path / "run" / "console.log").read_text()
    assert "> /strategy entropy" in log and "round 1 · query cold_start" in log


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
    texts = [q["text"] for q in ctl.questions]
    ctl.execute("1")  # by number
    ctl.execute("negative")  # by name
    assert "answer with a number" in ctl.execute("maybe")
    ctl.execute("skip")
    ctl.execute("2")
    assert ctl.wait(lambda c: len(_rounds(lines)) >= 1)
    labels = {r.text: r.label for r in lg.context.ledger.all_labels()}
    assert [labels.get(t) for t in texts] == ["positive", "negative", None, "negative"]
    assert ctl.wait(lambda c: c.status == "waiting for you")
    ctl.execute("llm")  # hands the rest back: no person's label for them
    assert ctl.wait(lambda c: c.status in {"waiting for you", "stopped"} and
                    len(_rounds(lines)) >= 2)
    ctl.close()


def test_a_correction_from_the_console_reaches_memory_and_the_ledger(tmp_path):
    lg = _graph(tmp_path / "run", labels=12)
    ctl = Controller(lg, pool=make_pool(), label_column="label").start()
    assert ctl.wait(lambda c: c.status == "stopped")
    first = lg.context.memory.all()[0][0]
    other = "negative" if first.label == "positive" else "positive"
    assert "ok:" in ctl.execute(f"/correct {first.id[:10]} {other}")
    assert ctl.wait(lambda c: not c.snapshot()["pending_changes"])
    assert lg.context.memory.get([first.id])[0].label == other
    assert f"you: correct -> {other}" in ctl.execute(f"/item {first.id[:10]}")
    assert "matches 0 labeled items" in ctl.execute("/reject ffffffff")
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


def test_numbers_in_words_and_the_offline_matcher():
    assert number_in("give me twenty five more") == 25
    assert number_in("bump it to 50") == 50 and number_in("70%") == 0.7
    assert number_in("a hundred labels") == 100 and number_in("nothing here") is None
    matcher = IntentMatcher(make_embedding("minilm").embed, ["positive", "negative"],
                            registry.names("strategies"))
    for text, want in (("switch to entropy", ("strategy", ["entropy"])),
                       ("give me twenty more labels", ("budget", ["+20"])),
                       ("how much have we spent", ("spend", [])),
                       ("why did you stop querying?", ("why", [])),
                       ("synthesize 12 negative examples", ("synthesize", ["12", "negative"])),
                       ("turn synthesis off", ("synth", ["off"]))):
        got = matcher.match(text)
        assert (got.command, got.args) == want, text
    assert matcher.match("nice weather today").command is None


def test_plain_sentences_offline_echo_and_ask_before_guessing(tmp_path):
    lines: list[str] = []
    lg = _graph(tmp_path / "run", labels=12)
    lg.add_pool(make_pool(), label_column="label")
    ctl = Controller(lg, sink=lines.append, interpreter=IntentInterpreter(IntentMatcher(
        make_embedding("minilm").embed, TASK.labels, registry.names("strategies"))))
    ctl.execute("switch to entropy")
    assert "understood: /strategy entropy" in lines
    assert ctl.snapshot()["pending_changes"] == 1
    ctl.execute("set the batch size")  # no number: it asks for one instead of guessing
    assert lines[-1].startswith("I think you mean /batch, but I need N")
    ctl.execute("the weather is lovely")
    assert lines[-1].startswith("I did not understand that")


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
    assert lines[-1] == "about to: /strategy entropy — go ahead? (yes/no)"
    assert ctl.snapshot()["pending_changes"] == 0  # nothing changes before the yes
    ctl.execute("yes")
    assert ctl.snapshot()["pending_changes"] == 1
    calls = {(c["agent"], c["tool"]) for c in lg.context.ledger.tool_calls()}
    assert calls == {("console", "spend"), ("console", "strategy")}
    ctl.start()
    assert ctl.wait(lambda c: c.status == "stopped")
    assert any("following the human: strategy → entropy" in d["reason"]
               for d in lg.context.ledger.decisions())
    ctl.close()


def test_a_bad_pool_for_a_new_console_run_leaves_nothing_to_undo(tmp_path):
    from typer.testing import CliRunner

    from labelgraph.cli import app

    args = ["console", str(tmp_path / "run"), "--labels", "positive,negative",
            "--llm", "none", "--annotator", "oracle", "--embedding", "hashing"]
    out = CliRunner().invoke(app, [*args, "--pool", str(tmp_path / "missing.csv")])
    assert out.exit_code == 1 and "missing.csv" in out.output
    assert not (tmp_path / "run" / "run.json").exists()  # the same command, fixed, starts it


def test_a_command_word_typed_while_a_question_waits_runs_the_command(tmp_path):
    lines: list[str] = []
    lg = _graph(tmp_path / "run", annotator="human", labels=8)
    ctl = Controller(lg, pool=make_pool(), label_column="label", sink=lines.append).start()
    assert ctl.wait(lambda c: c.status == "waiting for you")
    ctl.execute("status")  # a command's name, not an answer
    assert lines[-1].startswith("[waiting for you] · round 1")
    assert ctl.snapshot()["answered"] == 0
    ctl.execute("positive")
    assert ctl.snapshot()["answered"] == 1
    ctl.close()
