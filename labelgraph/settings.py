"""A run's settings: checked before anything is written, recorded in ``run.json`` once, when
the run is first built, and read by :meth:`LabelGraph.open <labelgraph.api.LabelGraph.open>`
to rebuild the run as it was started.

Every setting is recorded: objects by registry name and configuration, a scikit-learn
student by class path and parameters (never a pickle). An object run.json cannot hold (a
chat model, a tool passed as a function, a custom student) is marked unrecorded, so that
reopening names it and asks for it again instead of running without it; and a run directory
alone never makes a resume spend on a paid provider.
"""

from __future__ import annotations

import importlib
import json
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from labelgraph.annotators import NEEDS_RUN_LLM
from labelgraph.assets import atomic_write_text
from labelgraph.budget import price_for
from labelgraph.capabilities import capability
from labelgraph.errors import InputError, RunStateError
from labelgraph.llm import capable_of_decisions, is_local, model_name
from labelgraph.registry import registry
from labelgraph.student import check_student
from labelgraph.types import Budget, Task

if TYPE_CHECKING:
    from labelgraph.api import LabelGraph
    from labelgraph.config import RunConfig
    from labelgraph.memory.store import RunPaths
    from labelgraph.tools.registry import ToolRegistry

__all__ = ["SETTINGS_VERSION", "UNRECORDED", "check_gold", "check_models", "check_names",
           "named", "read_run_id", "read_settings", "record_settings", "write_settings"]

SETTINGS_VERSION = 3
#: What a run.json of an earlier version meant by an embedding named without a config: the
#: defaults of its day, which later releases changed (version 3: MiniLM's head_tail window).
_EARLIER_DEFAULTS: dict[str, dict[str, Any]] = {"minilm": {"window": "head"}}
UNRECORDED = "unrecorded"  # marks an object run.json cannot hold: open() needs it again


def named(kind: str, obj: Any) -> dict[str, Any]:
    """A registry piece as {"name", "config"}, or {"unrecorded": type} when it has no name."""
    if isinstance(obj, str):
        return {"name": obj, "config": {}}
    name = registry.name_of(kind, obj)
    config = obj.get_config() if hasattr(obj, "get_config") else {}
    try:
        json.dumps(config)
    except TypeError:
        name = None
    return {"name": name, "config": config} if name else {UNRECORDED: type(obj).__name__}


def _student_record(estimator: Any) -> dict[str, Any]:
    """A scikit-learn estimator by class path and parameters (restorable without pickles)."""
    cls = type(estimator)
    if cls.__module__.startswith("sklearn."):
        params = estimator.get_params(deep=False)
        try:
            json.dumps(params)
            return {"class": f"{cls.__module__}:{cls.__qualname__}", "params": params}
        except TypeError:
            pass
    return {UNRECORDED: cls.__name__}


def _paid(spec: Any, prices: Mapping[str, Any] | None = None) -> bool:
    """Would this LLM spec spend money? Local models, Ollama, "none", servers on this machine
    and models priced at zero are free."""
    if not isinstance(spec, str):
        return False
    return tuple(price_for(spec, {k: tuple(v) for k, v in (prices or {}).items()})) != (0, 0)


def _restore_student(record: dict[str, Any]) -> Any:
    """The scikit-learn student a run.json record names, re-created from its parameters."""
    module, _, qualname = record["class"].partition(":")
    if not module.startswith("sklearn."):  # only scikit-learn classes are re-created by name
        raise RunStateError(f"run.json names a student outside scikit-learn ({module}); pass "
                            "student= to LabelGraph.open")
    return check_student(getattr(importlib.import_module(module), qualname)(**record["params"]))


def check_names(config: RunConfig, policy: Any) -> None:
    """Every registry name the settings use exists (an unknown one fails with the valid
    ones listed), before anything is written or bought."""
    registry.get("strategies", config.strategy)
    for name in config.bandit_arms:
        registry.get("strategies", name)
    for name in config.stopping_watch:
        registry.get("stopping", name)
    if isinstance(policy, str) and policy != "auto":
        registry.get("policies", policy)


def check_models(lg: LabelGraph, annotator: Any, chat: Any) -> None:
    """The run's chat model (``chat``, None without one) can do what the settings ask of
    it: label for the annotator, decide for an LLM policy, judge doubtful labels."""
    if chat is None and capability(annotator, NEEDS_RUN_LLM):
        raise InputError(f"the {named('annotators', annotator).get('name')!r} annotator needs "
                         "an LLM; pass llm= or use annotator='oracle' or 'human'")
    if lg.policy == "llm" and not capable_of_decisions(chat):
        spec = lg.llm if isinstance(lg.llm, str) else None
        why = "pass llm=" if chat is None else f"{model_name(chat, spec)!r} cannot"
        raise InputError(f"policy='llm' needs a chat model that answers with "
                         f"structured decisions; {why} — use policy='rule', or "
                         "policy='auto' (the LLM when it can, else the rules)")
    if lg.config.judge and (chat is None or is_local(chat)):
        raise InputError("judge=True needs a chat model to judge doubtful labels (the "
                         "embedded local model cannot); pass llm= or set judge=False")


def check_gold(lg: LabelGraph, pool: Path) -> None:
    """A run whose labels come from the oracle needs gold labels in its pool: say so before
    it starts rather than at its first question."""
    import pandas as pd

    annotator = named("annotators", lg.annotator).get("name")
    if (annotator == "oracle" or (annotator == "hybrid" and lg.human == "oracle")) \
            and pd.read_parquet(pool, columns=["gold"])["gold"].isna().all():
        raise InputError("the oracle reads gold labels and this pool has none: pass "
                         "label_column= (the column of gold labels), or use another annotator")


def read_run_id(paths: RunPaths) -> str:
    """The run's id: recorded in run.json, or a new one for a run not yet built."""
    if paths.settings.exists():
        return str(json.loads(paths.settings.read_text()).get("run_id") or "")
    return uuid.uuid4().hex[:16]


def record_settings(lg: LabelGraph, run_id: str, tools: ToolRegistry,
                    embedding: Any = None) -> dict[str, Any]:
    """Every setting of the run; objects by registry name and config, or marked
    unrecorded so that ``open()`` asks for them again instead of dropping them. The
    ``embedding`` the run built from a name is recorded with its whole config, so a later
    release's defaults never change the vectors of a reopened run."""
    llm = lg.llm if isinstance(lg.llm, str) or lg.llm is None else \
        {UNRECORDED: type(lg.llm).__name__}
    return {"version": SETTINGS_VERSION, "run_id": run_id,
            "task": lg.task.model_dump(), "budget": lg.budget.model_dump(),
            "config": lg.config.model_dump(mode="json"), "llm": llm,
            "annotator": named("annotators", lg.annotator), "human": lg.human,
            "embedding": named("embeddings", lg.embedding if embedding is None else embedding),
            "policy": named("policies", lg.policy),
            "student": _student_record(lg.student),
            "tools": [vars(spec) for spec in tools.specs()],
            "prices": lg.prices, "chroma_host": lg.chroma_host,
            "chroma_port": lg.chroma_port,
            "embedding_cache": str(lg.embedding_cache) if lg.embedding_cache else False}


def write_settings(lg: LabelGraph, run_id: str, tools: ToolRegistry,
                   embedding: Any = None) -> None:
    """Record the run's settings in run.json, once: a reopened run keeps the file it was
    started with (a person's later changes are in the ledger)."""
    if not lg.paths.settings.exists():
        atomic_write_text(lg.paths.settings, json.dumps(
            record_settings(lg, run_id, tools, embedding), indent=2))


def read_settings(run_dir: str | Path, *, read_only: bool = False,
                  overrides: Mapping[str, Any] | None = None) -> tuple[Task, dict[str, Any]]:
    """The task and the keyword arguments of :class:`~labelgraph.api.LabelGraph` that
    rebuild the run in ``run_dir`` (``overrides`` win); a setting run.json could not hold,
    and not passed again, is named in a :class:`~labelgraph.errors.RunStateError` unless
    ``read_only`` (then inert stand-ins replace such objects)."""
    overrides = dict(overrides or {})
    path = Path(run_dir) / "run.json"
    if not path.exists():
        raise RunStateError(f"{run_dir} is not a labelgraph run (no run.json)")
    try:
        saved = json.loads(path.read_text())
        task, budget = Task(**saved["task"]), Budget(**saved["budget"])
    except (ValueError, KeyError, TypeError, InputError) as exc:
        raise RunStateError(f"{path} is damaged ({type(exc).__name__}: {exc}); restore it "
                            "from a backup, or start a new run directory") from None
    kwargs: dict[str, Any] = {
        "budget": budget, "config": saved["config"],
        "human": saved.get("human", "interrupt"), "llm": saved.get("llm"),
        "prices": saved.get("prices"), "chroma_host": saved.get("chroma_host"),
        "chroma_port": saved.get("chroma_port"),
        "embedding_cache": saved.get("embedding_cache")}
    missing: list[str] = []
    for key, kind in (("annotator", "annotators"), ("embedding", "embeddings"),
                      ("policy", "policies")):
        record = saved.get(key)
        if isinstance(record, str):  # runs from before settings version 2
            kwargs[key] = record if key != "embedding" or record not in _EARLIER_DEFAULTS \
                else registry.create(kind, record, **_EARLIER_DEFAULTS[record])
        elif isinstance(record, dict) and record.get("name"):
            config = record.get("config") or {}
            if not config and key == "embedding" and saved.get("version", 1) < 3:
                config = _EARLIER_DEFAULTS.get(record["name"], {})
            kwargs[key] = registry.create(kind, record["name"], **config) if config \
                else record["name"]
        elif isinstance(record, dict) and UNRECORDED in record:
            missing.append(f"{key}= (a {record[UNRECORDED]})")
    if isinstance(kwargs["llm"], dict):
        missing.append(f"llm= (a {kwargs.pop('llm')[UNRECORDED]})")
    elif _paid(kwargs["llm"], kwargs["prices"]) and "llm" not in overrides and \
            not read_only:
        # A run directory alone never makes a resume spend on a paid API with your key.
        raise RunStateError(
            f"{run_dir} calls the paid provider {kwargs['llm']!r} (from its run.json); "
            f"to resume with it, say so: LabelGraph.open({str(run_dir)!r}, "
            f"llm={kwargs['llm']!r}) or labelgraph resume {run_dir} --llm {kwargs['llm']}")
    student = saved.get("student") or {}
    if "student" in overrides:
        pass
    elif "class" in student:
        kwargs["student"] = _restore_student(student)
    elif UNRECORDED in student:
        missing.append(f"student= (a {student[UNRECORDED]})")
    tools: dict[str, list[str]] = {}
    passed: list[str] = []
    for spec in saved.get("tools") or []:
        if spec["origin"] == "decorator":
            tools.setdefault(spec["agent"], []).append(spec["name"])
        elif spec["origin"] == "argument":
            passed.append(f"{spec['agent']}: {spec['name']}")
    if passed:
        missing.append(f"tools= ({', '.join(passed)})")
    kwargs["tools"] = tools
    missing = [m for m in missing if m.split("=")[0] not in overrides]
    if missing and not read_only:
        raise RunStateError(
            f"{run_dir} was started with objects run.json cannot hold; pass them again: "
            f"LabelGraph.open({str(run_dir)!r}, {', '.join(missing)}), or open it "
            "read_only=True to read its results")
    if read_only:
        kwargs.update(llm="none", annotator="oracle", policy="rule",
                      tools={} if passed else tools)
    kwargs.update(overrides)
    return task, kwargs
