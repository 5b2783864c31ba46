"""Options several commands share: how to name a model and its price, ``--set KEY=VALUE``
run settings (a setting given both as an option and with ``--set`` is refused), and the
options of ``console`` and ``serve``, defined once as :class:`RunOptions`."""

from __future__ import annotations

import functools
import inspect
import json
import typing
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Annotated, Any

import typer

from labelgraph.errors import InputError

__all__ = ["LLM_HELP", "PRICE_HELP", "ConsoleLLMOpt", "GoldOpt", "LabelsOpt", "PausedOpt",
           "PoolOpt", "PriceOpt", "RunDirArg", "RunOptions", "TestOpt", "price_table",
           "run_config", "set_pairs", "with_run_options"]

#: the --llm option's help: every way to name a model
LLM_HELP = ("'local', 'none', provider:model (openai:gpt-4o-mini), or any OpenAI-compatible "
            "server: openai:MODEL@http://HOST:PORT/v1 (docs/model-servers.md)")
PRICE_HELP = ("USD per million input,output tokens of --llm, e.g. 0.15,0.60 (0 for a free "
              "server; default: known models' prices, free on this machine, else 5,25)")


def price_table(llm: str | None, price: str | None) -> dict[str, tuple[float, float]] | None:
    """``--llm-price IN,OUT`` as the run's price table for its model."""
    if price is None:
        return None
    parts = [p.strip() for p in price.split(",")]
    try:
        values = [float(p) for p in parts]
    except ValueError:
        values = []
    if len(values) not in {1, 2} or any(v < 0 for v in values):
        raise InputError(f"--llm-price takes USD per million tokens as IN,OUT (or one number "
                         f"for both), e.g. 0.15,0.60; got {price!r}")
    return {llm or "local": (values[0], values[-1])}


def run_config(pairs: list[str], **named: Any) -> dict[str, Any]:
    """A run's settings: the ``--set`` pairs and the named options given (not None); a
    setting given both ways is refused rather than one silently winning."""
    config = set_pairs(pairs)
    given = {key: value for key, value in named.items() if value is not None}
    twice = sorted(set(config) & set(given))
    if twice:
        raise InputError(f"{', '.join(twice)} given twice, as an option and with --set; "
                         "give each setting once")
    return {**config, **given}


def set_pairs(pairs: list[str]) -> dict[str, Any]:
    """KEY=VALUE pairs as run settings; a value is read as JSON where it parses, else text."""
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise InputError(f"--set takes KEY=VALUE, got {pair!r}")
        try:
            out[key.strip()] = json.loads(value)
        except ValueError:
            out[key.strip()] = value
    return out


#: the options ``console`` and ``serve`` share: which run, or how to start one
RunDirArg = Annotated[Path, typer.Argument(help="the run to open, or to create")]
PoolOpt = Annotated[Path | None, typer.Option(help="start a new run on this file")]
LabelsOpt = Annotated[str | None, typer.Option(help="comma-separated label set")]
GoldOpt = Annotated[str | None, typer.Option(help="gold labels (oracle)")]
TestOpt = Annotated[Path | None, typer.Option(help="held-out file with gold labels")]
ConsoleLLMOpt = Annotated[str | None, typer.Option(
    help=LLM_HELP + "; a paid one must be named again to resume")]
PriceOpt = Annotated[str | None, typer.Option(help=PRICE_HELP)]
PausedOpt = Annotated[bool | None, typer.Option(
    "--paused/--continue", help="open the run paused, or let it go on (default: as it was "
                                "left: a run you paused stays paused)")]


@dataclass(frozen=True)
class RunOptions:
    """The options ``console`` and ``serve`` share, defined once: how to start a run when
    the directory holds none (as ``labelgraph run`` does), and whether it opens paused."""

    pool: PoolOpt = None
    labels: LabelsOpt = None
    description: str = "text classification"
    text_column: str = "text"
    label_column: GoldOpt = None
    test: TestOpt = None
    llm: ConsoleLLMOpt = None
    llm_price: PriceOpt = None
    annotator: str = "hybrid"
    budget_labels: int = 200
    budget_usd: float | None = None
    strategy: str = "diverse_margin"
    batch_size: int = 20
    seed_size: int = 20
    embedding: str = "minilm"
    paused: PausedOpt = None


def with_run_options(fn: Callable[..., None]) -> Callable[..., None]:
    """A command ``fn(..., *, opts: RunOptions)`` whose command line takes its own
    parameters, then every field of :class:`RunOptions` as an option of its own (Typer reads
    the signature); the call hands them to ``fn`` as one ``opts``."""
    own = inspect.signature(fn, eval_str=True)
    kept = [p for p in own.parameters.values() if p.name != "opts"]
    hints = typing.get_type_hints(RunOptions, include_extras=True)
    shared = [inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY, default=f.default,
                                annotation=hints[f.name]) for f in fields(RunOptions)]

    @functools.wraps(fn)
    def command(**kwargs: Any) -> None:
        opts = RunOptions(**{f.name: kwargs.pop(f.name) for f in fields(RunOptions)
                             if f.name in kwargs})
        fn(**kwargs, opts=opts)

    params = [*kept, *shared]
    command.__signature__ = own.replace(parameters=params)  # type: ignore[attr-defined]
    command.__annotations__ = {p.name: p.annotation for p in params} | {
        "return": own.return_annotation}
    return command
