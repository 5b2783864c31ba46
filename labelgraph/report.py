"""The end-of-run report: labels by source, LLM label accuracy, the learning curve, cost."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
from rich.console import Console
from rich.table import Table

from labelgraph.api import LabelGraph, RunResult
from labelgraph.assets import atomic_write


def llm_accuracy(lg: LabelGraph) -> tuple[float | None, int]:
    """Accuracy of the LLM's labels on pool items that have a gold label, and how many."""
    pool = lg.context.store.pool()
    pairs = [(row.label, pool.gold_of(row.item_id)) for row in lg.context.ledger.all_labels()
             if row.source == "llm" and row.origin == "pool"]
    pairs = [(a, b) for a, b in pairs if b is not None]
    if not pairs:
        return None, 0
    return sum(a == b for a, b in pairs) / len(pairs), len(pairs)


def plot_curve(curve: pd.DataFrame, path: Path, title: str = "learning curve") -> Path | None:
    """Student test accuracy against accepted labels, saved as a PNG."""
    if curve.empty or "accuracy" not in curve or curve["accuracy"].isna().all():
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    data = curve.dropna(subset=["accuracy"])
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(data["labels"], data["accuracy"], marker="o", label="student accuracy")
    if "macro_f1" in data:
        ax.plot(data["labels"], data["macro_f1"], marker=".", linestyle="--", label="macro F1")
    for _, row in data[data["action"] == "synthesize"].iterrows():
        ax.axvline(row["labels"], color="grey", alpha=0.3)
    ax.set_xlabel("labeled examples in memory")
    ax.set_ylabel("held-out score")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    fig.tight_layout()
    atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=110, format="png"))
    plt.close(fig)
    return path


def summary(lg: LabelGraph, result: RunResult) -> dict[str, Any]:
    """The report's figures as a plain dict (also written to ``report.json``)."""
    acc, n = llm_accuracy(lg)
    curve = result.curve
    final = curve["accuracy"].dropna().iloc[-1] if "accuracy" in curve and \
        curve["accuracy"].notna().any() else None
    return {"stop_reason": result.stop_reason, "labels_by_source":
            result.cost["labels_by_source"], "dataset_size": len(result.dataset),
            "llm_label_accuracy": acc, "llm_labels_checked": n, "student_accuracy": final,
            "rounds": len(curve), "tokens": result.cost["tokens"], "usd": result.cost["usd"],
            "llm_calls": result.cost["calls"],
            "calls_pending_at_kill": result.cost.get("calls_pending_at_kill", 0),
            "tool_calls": len(lg.context.ledger.tool_calls()),
            "agents": lg.agent_modes(), "seconds": result.cost["seconds"],
            "cost_by_source": result.cost.get("by_source", {}),
            "bought_twice": result.cost.get("bought_twice", 0),
            "usd_per_accepted_label": result.cost.get("usd_per_accepted_label"),
            "calibration": result.cost.get("calibration", {}),
            "audits": sum(a["action"] != "skip" for a in lg.context.ledger.audits()),
            "node_seconds": {str(k): round(float(v), 3)
                             for k, v in node_time(result.timings)["seconds"].items()}}


def cost_rows(cost: dict[str, Any]) -> list[tuple[str, str]]:
    """The cost lines of a report, as (what, figure): total money, labels, price and LLM
    cost per source, money per accepted label, items labeled twice, calibration. Reads a
    report summary or ``LabelGraph.cost_report()`` alike (the console's /spend shows them)."""
    rows = [("cost (USD)", f"{cost['usd']:.4f}")]
    for source, c in sorted((cost.get("cost_by_source") or cost.get("by_source") or {}).items()):
        rows.append((f"  {source}: labels / price / LLM calls",
                     f"{c['labels']} / ${c['usd']:.4f} / ${c['call_usd']:.4f} "
                     f"({c['tokens']} tokens)"))
    if cost.get("usd_per_accepted_label") is not None:
        rows.append(("USD per accepted label", f"{cost['usd_per_accepted_label']:.5f}"))
    rows.append(("items labeled twice (LLM, then a person)", str(cost.get("bought_twice", 0))))
    for source, cal in (cost.get("calibration") or {}).items():
        rows.append((f"{source} confidence on confirmed labels",
                     f"ECE {cal['ece']:.3f} (raw {cal['ece_raw']:.3f}), accuracy "
                     f"{cal['accuracy']:.3f}, n={cal['confirmed']}"))
    return rows


def node_time(timings: pd.DataFrame) -> pd.DataFrame:
    """Per-node wall time of a run (from ``RunResult.timings``): total seconds, share of the
    time spent in nodes, rounds run and mean seconds per round run, slowest first."""
    if timings is None or timings.empty:
        return pd.DataFrame(columns=["seconds", "share", "rounds", "per_round"])
    total = timings.sum(axis=1)
    ran = (timings > 0).sum(axis=1)
    frame = pd.DataFrame({"seconds": total, "share": total / max(float(total.sum()), 1e-12),
                          "rounds": ran, "per_round": total / ran.clip(lower=1)})
    return frame.sort_values("seconds", ascending=False)


def print_node_time(timings: pd.DataFrame, console: Console) -> None:
    """The per-node time section: where the run's wall time went, node by node."""
    frame = node_time(timings)
    if frame.empty:
        return
    table = Table(title="time per node")
    for col in ("node", "seconds", "share", "rounds", "s / round"):
        table.add_column(col, justify="right")
    for node, row in frame.iterrows():
        table.add_row(str(node), f"{row['seconds']:.2f}", f"{row['share']:.0%}",
                      str(int(row["rounds"])), f"{row['per_round']:.3f}")
    table.add_row("all nodes", f"{frame['seconds'].sum():.2f}", "100%", "", "")
    console.print(table)


def print_report(lg: LabelGraph, result: RunResult, console: Console | None = None) -> dict:
    """Print the report; returns its figures."""
    console = console or Console()
    figures = summary(lg, result)
    curve = result.curve
    if not curve.empty:
        table = Table(title="rounds")
        for col in ("round", "action", "strategy", "batch", "accepted", "flagged", "rejected",
                    "labels", "accuracy", "kappa"):
            table.add_column(col, justify="right")
        for _, row in curve.iterrows():
            table.add_row(*[("-" if pd.isna(row.get(c)) else
                             f"{row[c]:.3f}" if isinstance(row.get(c), float) else
                             str(row.get(c))) for c in
                            ("round", "action", "strategy", "batch", "accepted", "flagged",
                             "rejected", "labels", "accuracy", "kappa")])
        console.print(table)
    table = Table(title="report", show_header=False)
    table.add_column("what")
    table.add_column("value", justify="right")
    for source, count in sorted(figures["labels_by_source"].items()):
        table.add_row(f"labels from {source}", str(count))
    table.add_row("labeled dataset (accepted + flagged)", str(figures["dataset_size"]))
    if figures["llm_label_accuracy"] is not None:
        table.add_row("LLM label accuracy vs gold",
                      f"{figures['llm_label_accuracy']:.3f} (n={figures['llm_labels_checked']})")
    if figures["student_accuracy"] is not None:
        table.add_row("student test accuracy (last round)", f"{figures['student_accuracy']:.3f}")
    table.add_row("rounds", str(figures["rounds"]))
    for agent, mode in figures["agents"].items():
        table.add_row(f"{agent}", mode)
    if figures["tool_calls"]:
        table.add_row("tool calls (in the ledger)", str(figures["tool_calls"]))
    table.add_row("LLM calls / tokens", f"{figures['llm_calls']} / {figures['tokens']}")
    if figures["calls_pending_at_kill"]:
        table.add_row("LLM calls in flight at a kill (charged at their reservation)",
                      str(figures["calls_pending_at_kill"]))
    for name, value in cost_rows(figures):
        table.add_row(name, value)
    if figures["audits"]:
        table.add_row("audit findings acted on or noted (ledger: audits)",
                      str(figures["audits"]))
    table.add_row("time", f"{figures['seconds'] / 60:.1f} min")
    table.add_row("stopped because", str(figures["stop_reason"]))
    console.print(table)
    print_node_time(result.timings, console)
    return figures
