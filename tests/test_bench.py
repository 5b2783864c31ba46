"""``labelgraph bench`` on 300 real review snippets: real runs (oracle, MiniLM, Chroma, SQLite)
on a small schedule; the outputs hold every field; the comparison runs when installed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from labelgraph.bench import (
    MODAL,
    SMALL_TEXT,
    BenchResult,
    Curve,
    Schedule,
    _stops,
    run_bench,
    watched_criteria,
)
from labelgraph.cli import app
from labelgraph.data import load_rotten_tomatoes
from labelgraph.stopping import GUARDRAIL_CRITERIA

pytestmark = pytest.mark.minilm
SCHEDULE = Schedule(seed_size=10, rounds=3, batch=10)
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def labeled_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("bench") / "snippets.csv"
    load_rotten_tomatoes().sample(n=300, random_state=1).to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("embeddings")


@pytest.fixture(scope="module")
def result(labeled_csv: Path, cache: Path) -> BenchResult:
    return run_bench(labeled_csv, seeds=[0, 1], strategies=["random", "margin"],
                     schedule=SCHEDULE, embedding_cache=cache, name="snippets")


def test_every_run_spends_the_schedule_and_reports_its_numbers(result: BenchResult) -> None:
    assert {(c.strategy, c.seed) for c in result.curves} == \
        {(s, seed) for s in ("random", "margin") for seed in (0, 1)}
    for curve in result.curves:
        assert curve.error is None
        assert curve.labels == SCHEDULE.points  # stopping=(): the whole budget is spent
        assert all(0.0 <= a <= 1.0 for a in curve.accuracy)
        assert all(0.0 <= f <= 1.0 for f in curve.macro_f1)
        assert len(curve.query_seconds) == SCHEDULE.rounds
        assert 0.0 <= curve.aulc <= 1.0
        assert curve.strategies_used[1:] == [curve.strategy] * SCHEDULE.rounds
        assert curve.watched  # every decision recorded the watched criteria's votes
    assert result.data["pool"] == 240 and result.data["test"] == 60
    assert set(result.criteria) == set(watched_criteria())
    assert not set(result.criteria) & set(GUARDRAIL_CRITERIA)


def test_json_holds_the_raw_numbers_and_the_summary(result: BenchResult) -> None:
    data = json.loads(result.to_json())
    assert {"settings", "data", "aulc_definition", "watched_criteria", "summary",
            "runs"} <= set(data)
    assert data["settings"]["schedule"] == {"seed_size": 10, "rounds": 3, "batch": 10}
    run = data["runs"][0]
    for key in ("library", "strategy", "seed", "labels", "accuracy", "macro_f1",
                "query_seconds", "aulc", "final_accuracy", "stops", "seconds"):
        assert key in run
    for row in data["summary"]:
        assert 0.0 <= row["aulc"] <= 1.0
        assert row["stops_recorded"]
        assert set(row["stops"]) == set(data["watched_criteria"])
        for stop in row["stops"].values():
            assert 0 <= stop["labels_saved"] <= SCHEDULE.budget


def test_markdown_has_a_row_per_strategy_and_the_png_is_valid(result: BenchResult,
                                                            tmp_path: Path) -> None:
    table = result.to_markdown()
    rows = [line for line in table.splitlines() if line.startswith("| labelgraph |")]
    assert [r.split("|")[2].strip() for r in rows] == ["random", "margin"]
    assert "AULC" in table
    png = result.plot(tmp_path / "curve.png")
    assert png.read_bytes()[:8] == PNG_MAGIC


def test_stop_points_come_from_the_decisions_would_stop() -> None:
    """A vote in round r's decision stops before round r: the labels and accuracy are those
    of round r-1; a criterion that never votes stops at the full budget."""
    metrics = [{"round": r, "spend": {"labels": 10 * r}, "accuracy": 0.5 + r / 10}
               for r in (1, 2, 3, 4)]
    decisions = [{"round": 3, "would_stop": {"uncertainty": "low"}},
                 {"round": 4, "would_stop": {"uncertainty": "low", "plateau": "flat"}}]
    stops = _stops(metrics, decisions, ["uncertainty", "plateau", "never"])
    assert stops["uncertainty"]["labels"] == 20 and stops["uncertainty"]["round"] == 3
    assert stops["plateau"]["accuracy"] == pytest.approx(0.8)
    assert "never" not in stops
    curves = [Curve("labelgraph", "margin", 0, labels=[10, 20, 30, 40],
                    accuracy=[0.6, 0.7, 0.8, 0.9], stops=stops, watched=True)]
    bench = BenchResult(settings={"schedule": {"seed_size": 10, "rounds": 3, "batch": 10},
                                  "seeds": [0], "student": "LR", "features": "x"},
                        data={"name": "made up", "pool": 1, "test": 1, "labels": ["a", "b"]},
                        criteria=["uncertainty", "plateau", "never"], curves=curves)
    row = bench.summary()[0]["stops"]
    assert row["uncertainty"]["labels_saved"] == 20
    assert row["uncertainty"]["accuracy_lost"] == pytest.approx(0.9 - 0.7)
    assert row["never"] == {"fired": 0, "of": 1, "rounds": [], "labels": 40.0,
                            "labels_saved": 0.0, "accuracy_lost": 0.0}
    assert "saved 20" in bench.to_markdown()


def test_cli_writes_the_three_outputs(labeled_csv: Path, cache: Path, tmp_path: Path) -> None:
    out = tmp_path / "res" / "bench"
    res = CliRunner().invoke(app, [
        "bench", str(labeled_csv), "--seeds", "1", "--strategies", "margin,no_such_strategy",
        "--seed-size", "10", "--rounds", "2", "--batch-size", "10", "--out", str(out),
        "--embedding-cache", str(cache), "--work-dir", str(tmp_path / "runs")])
    assert res.exit_code == 0, res.output
    data = json.loads(out.with_suffix(".json").read_text())
    assert [c["strategy"] for c in data["runs"]] == ["margin"]
    assert any("no_such_strategy" in n for n in data["notes"])  # skipped with a warning
    assert "| labelgraph | margin |" in out.with_suffix(".md").read_text()
    assert out.with_suffix(".png").read_bytes()[:8] == PNG_MAGIC
    assert not list((tmp_path / "runs").iterdir())  # run directories removed


def test_cli_passes_run_settings_to_labelgraphs_runs(labeled_csv: Path, cache: Path,
                                                     tmp_path: Path) -> None:
    out = tmp_path / "set"
    res = CliRunner().invoke(app, [
        "bench", str(labeled_csv), "--seeds", "1", "--strategies", "bandit",
        "--seed-size", "10", "--rounds", "4", "--batch-size", "10", "--out", str(out),
        "--embedding-cache", str(cache), "--set", "bandit_reward=gain",
        "--set", "bandit_arms=margin,badge", "--set", "kappa_window=2", "--first-seed", "3"])
    assert res.exit_code == 0, res.output
    data = json.loads(out.with_suffix(".json").read_text())
    assert [r["seed"] for r in data["runs"]] == [3] == data["settings"]["seeds"]
    assert data["settings"]["config"] == {"bandit_reward": "gain",
                                          "bandit_arms": "margin,badge", "kappa_window": 2}
    assert "Run settings: bandit_reward=gain" in out.with_suffix(".md").read_text()
    used = data["runs"][0]["strategies_used"]
    assert set(used) - {"cold_start"} <= {"margin", "badge"} and len(set(used)) > 1


@pytest.mark.parametrize(("pairs", "message"), [
    (["seed=3"], "the bench decides ['seed']"),
    (["no_such_knob=1"], "unknown config keys"),
    (["bandit_reward=often"], "bandit_reward"),
    (["justtext"], "KEY=VALUE")])
def test_cli_refuses_bad_run_settings(labeled_csv: Path, pairs: list[str], message: str) -> None:
    args = [a for p in pairs for a in ("--set", p)]
    res = CliRunner().invoke(app, ["bench", str(labeled_csv), *args])
    assert res.exit_code == 1 and message in res.output


def test_cli_needs_data_or_demo() -> None:
    res = CliRunner().invoke(app, ["bench"])
    assert res.exit_code == 1 and "--demo" in res.output


def test_comparison_runs_the_other_libraries_on_the_same_seed(labeled_csv: Path,
                                                              cache: Path) -> None:
    pytest.importorskip("small_text")
    pytest.importorskip("modAL")
    names = [*SMALL_TEXT, *MODAL]
    bench = run_bench(labeled_csv, seeds=[0], strategies=["margin"], schedule=SCHEDULE,
                      compare=True, compare_strategies=names, embedding_cache=cache)
    assert not [c.error for c in bench.curves if c.error], bench.notes
    got = {(c.library, c.strategy): c for c in bench.curves}
    assert len(got) == 1 + len(names)
    own = got[("labelgraph", "margin")]
    for name in names:
        library, strategy = name.split(":")
        curve = got[(library, strategy)]
        assert curve.labels == SCHEDULE.points
        assert len(curve.query_seconds) == SCHEDULE.rounds
        assert curve.accuracy[0] == pytest.approx(own.accuracy[0])  # the same seed items
    # Margin is margin whichever library computes it: same student, features and seed.
    assert got[("modAL", "margin_sampling")].accuracy == pytest.approx(own.accuracy)
    assert got[("small-text", "breaking_ties")].accuracy == pytest.approx(own.accuracy)
    assert "| modAL | margin_sampling |" in bench.to_markdown()
