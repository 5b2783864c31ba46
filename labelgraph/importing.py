"""Labels back in: a person's labels from a file (a Label Studio or Argilla export, or a
CSV/JSONL of ids or texts and labels) recorded in a run as the person's.

Items are matched by content id (or by their text, hashed the same way), so an item is
recorded once however often a file names it, and importing the same file twice changes
nothing the second time. Nothing is dropped silently: unknown labels, unknown items,
unanswered items and items people disagree on are counted, and the first few named.

What a label costs follows the run's own rules for a person's labels:

- an item already labeled (in memory) is *corrected* through :meth:`LabelGraph.correct`,
  exactly as the console's ``/correct`` does: recorded in the ledger as the person's, and
  free, since no new label is bought (the same label from a model becomes the person's:
  *confirmed*); an item labeled earlier but kept out of memory (rejected) is corrected the
  same way, in the ledger;
- an item the run never labeled gets a new label, bought as :class:`HumanAnnotator` buys an
  answer (``buy_label``, source ``"human"``): it counts against the run's label budget at
  the configured price of a person's label (``label_prices["human"]``, $0 unless set). What
  the budget cannot take is not recorded, and the report says so and how to raise it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from labelgraph.annotators import Answer, buy_label, label_price
from labelgraph.errors import RunStateError
from labelgraph.export import PersonLabel, read_labels
from labelgraph.memory.ledger import most_authoritative
from labelgraph.memory.pool import read_split
from labelgraph.memory.repair import repair_memory
from labelgraph.types import Candidate, content_id

if TYPE_CHECKING:
    from labelgraph.api import LabelGraph
    from labelgraph.runtime import RunContext

__all__ = ["ImportReport", "import_labels"]

SHOWN = 3  #: how many of each kind of problem a report names
_FORMULA_GUARD = ("'=", "'+", "'-", "'@", "'\t", "'\r")  # our CSV export's neutralized cells


@dataclass
class ImportReport:
    """What an import did, item by item, and what it could not do and why."""

    path: Path
    format: str
    rows: int
    new: list[str] = field(default_factory=list)  #: items labeled for the first time
    corrected: list[str] = field(default_factory=list)  #: a label changed to the person's
    confirmed: list[str] = field(default_factory=list)  #: a model's label now the person's
    unchanged: list[str] = field(default_factory=list)  #: the person's label already
    unknown_labels: Counter[str] = field(default_factory=Counter)
    unknown_items: list[str] = field(default_factory=list)  #: where in the file, and what
    unanswered: int = 0
    disagreeing: list[str] = field(default_factory=list)
    over_budget: list[str] = field(default_factory=list)
    usd: float = 0.0  #: what the new labels cost
    labels_used: int = 0
    labels_budget: int | None = None
    run_labels: tuple[str, ...] = ()

    @property
    def changed(self) -> int:
        return len(self.new) + len(self.corrected) + len(self.confirmed)

    @property
    def skipped(self) -> int:
        return (sum(self.unknown_labels.values()) + len(self.unknown_items) + self.unanswered
                + len(self.disagreeing) + len(self.over_budget))

    def lines(self) -> list[str]:
        """The report in words, one line per kind, the problems last."""
        budget = f"now {self.labels_used} of {self.labels_budget} used" \
            if self.labels_budget else f"{self.labels_used} bought, no label budget"
        out = [f"read {self.rows} items from {self.path} ({self.format})",
               f"  new labels: {len(self.new)} (a person's labels for items the run had not "
               f"labeled: counted in the label budget, {budget}; ${self.usd:.2f})",
               f"  corrected: {len(self.corrected)}, confirmed: {len(self.confirmed)} (labels "
               "already bought, now the person's: free, recorded as corrections)",
               f"  unchanged: {len(self.unchanged)} (already the person's label)"]
        if self.unknown_labels:
            named = ", ".join(f"{label!r} x{n}" for label, n in
                              self.unknown_labels.most_common(SHOWN))
            out.append(f"  not imported, unknown labels: {sum(self.unknown_labels.values())} "
                       f"({named}; the run's labels are {', '.join(self.run_labels)})")
        if self.unknown_items:
            out.append(f"  not imported, items not in this run: {len(self.unknown_items)} "
                       f"({_first(self.unknown_items)})")
        if self.disagreeing:
            out.append(f"  not imported, people gave different labels: "
                       f"{len(self.disagreeing)} ({_first(self.disagreeing)}); settle them in "
                       "the file and import it again")
        if self.over_budget:
            out.append(f"  not imported, over the label budget: {len(self.over_budget)} "
                       f"({_first(self.over_budget)}); raise the budget (labelgraph "
                       "import-labels RUN FILE --budget-labels N, or /budget +N in the "
                       "console) and import the file again: nothing is recorded twice")
        if self.unanswered:
            out.append(f"  without an answer (nothing to import): {self.unanswered}")
        return out


def _first(items: list[str]) -> str:
    more = f", and {len(items) - SHOWN} more" if len(items) > SHOWN else ""
    return "; ".join(items[:SHOWN]) + more


class _Items:
    """The run's items by id, and by text for files that name them by text: the pool and
    every item the ledger holds (synthetic ones too)."""

    def __init__(self, lg: LabelGraph) -> None:
        self.text: dict[str, str] = {}
        pool = lg.paths.split("pool")
        if pool.exists():
            frame = read_split(pool)
            self.text.update(zip(frame["id"], frame["text"], strict=True))
        for row in lg.context.ledger.all_labels():
            self.text.setdefault(row.item_id, row.text)
        self.by_text = {text.strip(): item_id for item_id, text in self.text.items()}

    def find(self, label: PersonLabel) -> str | None:
        if label.item_id in self.text:
            return label.item_id
        text = label.text
        if text is None:
            return None
        if text.startswith(_FORMULA_GUARD) and text[1:].strip() in self.by_text:
            text = text[1:]  # a cell our CSV export guarded against spreadsheet formulas
        found = content_id(text)
        return found if found in self.text else self.by_text.get(text.strip())


def import_labels(lg: LabelGraph, path: str | Path, fmt: str = "auto", *,
                  budget_labels: int | None = None) -> ImportReport:
    """Record the labels people gave in ``path`` as the person's (see the module's
    docstring for what each costs) and report what was done and what was not.
    ``budget_labels`` sets the run's label budget first, as a person's steer (once the file
    has been read, so a bad file changes nothing)."""
    if lg.read_only:
        raise RunStateError("a read-only run cannot take labels; open it without read_only")
    name, given = read_labels(path, fmt)
    budget = lg.context.meter.budget.model_dump()
    if budget_labels is not None and budget_labels != budget["labels"]:
        lg.steer(note=f"label budget {budget['labels']} → {budget_labels} for labels imported "
                      f"from {Path(path).name}", budget={**budget, "labels": budget_labels})
    ctx = lg.context
    labels = list(lg.task.labels)
    by_lower = {label.lower(): label for label in labels}
    report = ImportReport(Path(path), name, len(given), run_labels=tuple(labels))
    items = _Items(lg)
    said: dict[str, list[str]] = {}  # item -> the distinct labels the file gives it
    first: dict[str, str] = {}  # item -> where the file first names it
    for row in given:
        if not row.answers:
            report.unanswered += 1
            continue
        answers = [a if a in labels else by_lower.get(a.lower()) for a in row.answers]
        if None in answers:  # a row naming a label outside the run's is not imported
            report.unknown_labels.update(a for a, known in zip(row.answers, answers,
                                                               strict=True) if known is None)
            continue
        item_id = items.find(row)
        if item_id is None:
            report.unknown_items.append(f"{row.where}: {row.item_id or (row.text or '')[:40]}")
            continue
        first.setdefault(item_id, row.where)
        labels_of = said.setdefault(item_id, [])
        labels_of += [a for a in answers if a is not None and a not in labels_of]
    wanted = {item_id: found[0] for item_id, found in said.items() if len(found) == 1}
    report.disagreeing = [f"{first[i]}: {i[:10]} {' / '.join(g)}" for i, g in said.items()
                          if len(g) > 1]
    _record(lg, ctx, items, wanted, report, Path(path).name)
    ctx.memory.flush()
    ctx.meter.refresh()
    report.labels_used = int(ctx.meter.spent.labels)
    report.labels_budget = ctx.meter.budget.labels
    return report


def _record(lg: LabelGraph, ctx: RunContext, items: _Items, wanted: dict[str, str],
            report: ImportReport, source_name: str) -> None:
    """Correct what memory holds; buy, or correct in the ledger, what it does not; then
    bring memory up to the ledger (the truth) for the items that changed there."""
    in_memory = {e.id: e for e in ctx.memory.get(list(wanted))}
    elsewhere: list[str] = []
    for item_id, label in wanted.items():
        example = in_memory.get(item_id)
        if example is None:
            elsewhere.append(item_id)
        elif (example.label, example.source, example.status) == (label, "human", "accepted"):
            report.unchanged.append(item_id)
        else:
            lg.correct(item_id, label)
            same = example.label == label and example.status != "rejected"
            (report.confirmed if same else report.corrected).append(item_id)
    if not elsewhere:
        return
    round_ = ctx.ledger.last_round()
    bought = ctx.ledger.labels_for(elsewhere)
    best = most_authoritative(r for r in bought.values() if r.label)
    price = label_price(ctx, "human")
    fresh: list[str] = []
    for item_id in elsewhere:
        label = wanted[item_id]
        if item_id in best:  # labeled before, kept out of memory: the person's word is final
            ctx.ledger.record_human(round_, "correct", {
                "item_id": item_id, "label": label, "previous": best[item_id].label,
                "previous_source": best[item_id].source, "imported_from": source_name})
            report.corrected.append(item_id)
            continue
        item = Candidate(id=item_id, text=items.text[item_id], origin="pool", intended=None)
        answer = buy_label(ctx, item, "human", round_,
                           lambda label=label: Answer(label, "human", 1.0))
        if answer.label is None:
            report.over_budget.append(f"{item_id[:10]} {label}")
            continue
        fresh.append(item_id)
        report.new.append(item_id)
        report.usd += price
    # A new label is accepted as the verifier accepts a person's label in the schema; an
    # item judged already this round (an abstention) takes the label as a correction.
    judged = ctx.ledger.verdicts_for(fresh, round_)
    ctx.ledger.record_verdicts([(i, round_, "accept", wanted[i], f"a person's label, "
                                 f"imported from {source_name}") for i in fresh
                                if i not in judged])
    for item_id in judged:
        ctx.ledger.record_human(round_, "correct", {
            "item_id": item_id, "label": wanted[item_id], "previous": None,
            "previous_source": None, "imported_from": source_name})
    repair_memory(ctx.ledger, ctx.memory, embed=lambda rows: ctx.embed_items(
        [{"id": e.id, "text": e.text} for e in rows]))
