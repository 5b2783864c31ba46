"""Public value types (labelgraph.types): the task, the budget and content ids."""

from __future__ import annotations

from typing import Any

import pytest

from labelgraph.errors import InputError
from labelgraph.types import Budget, Task, content_id


def test_budget_defaults_and_limits() -> None:
    assert Budget().labels == 200
    assert Budget(labels=None, rounds=3).labels is None
    assert Budget(labels=5, usd=0).usd == 0
    with pytest.raises(ValueError, match="labels"):
        Budget(labels=0)
    with pytest.raises(ValueError, match="usd"):
        Budget(usd=-1)
    with pytest.raises(InputError, match="labels or on rounds"):
        Budget(labels=None, rounds=None)
    with pytest.raises(ValueError):
        Budget().labels = 3  # type: ignore[misc]  # frozen


def test_task_labels() -> None:
    assert Task(labels=" pos , neg").labels == ("pos", "neg")
    assert Task(labels=["a", "b", "c"]).labels == ("a", "b", "c")
    with pytest.raises(InputError, match="at least two labels"):
        Task(labels=["only"])
    with pytest.raises(InputError, match="distinct"):
        Task(labels="pos, neg, pos")
    with pytest.raises(InputError, match="non-empty"):
        Task(labels="pos,,neg")


@pytest.mark.parametrize("make", [
    lambda: Budget(labels=None, rounds=None),
    lambda: Task(labels=["only"]),
    lambda: Task(labels="pos,pos"),
], ids=["budget-unbounded", "task-one-label", "task-duplicates"])
def test_bad_task_or_budget_raises_input_error(make: Any) -> None:
    with pytest.raises(InputError):
        make()


def test_content_id() -> None:
    assert content_id("hello") == content_id("  hello \n")
    assert content_id("hello") != content_id("hello", "call")
    assert content_id("hello") != content_id("hullo")
    assert len(content_id("hello")) == 24
