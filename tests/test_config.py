"""Run settings (labelgraph.config): bad knobs, label prices and consensus settings are
refused with the setting named."""

from __future__ import annotations

from pathlib import Path

import pytest

from labelgraph import InputError, LabelGraph, Task

TASK = Task(labels=["positive", "negative"], description="movie review sentiment")


# -- bad knobs -----------------------------------------------------------------------------
@pytest.mark.parametrize("config", [{"batch_size": 0}, {"seed_size": 0},
                                    {"confidence_threshold": 5}, {"n_shots": -1},
                                    {"patience": 0}])
def test_bad_knobs_are_refused_at_construction(config: dict, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="bad run config"):
        LabelGraph(TASK, llm="none", annotator="oracle", run_dir=tmp_path, config=config)


# -- label prices --------------------------------------------------------------------------
@pytest.mark.parametrize("prices", [{"human": -0.1}, {"person": 0.1}])
def test_bad_label_prices_are_refused(prices: dict) -> None:
    from labelgraph.config import make_config

    with pytest.raises(InputError, match="label_prices"):
        make_config({"label_prices": prices})


# -- consensus settings --------------------------------------------------------------------
def test_consensus_settings_must_be_run_settings() -> None:
    from labelgraph.config import make_config
    from labelgraph.errors import InputError

    with pytest.raises(InputError, match="consensus_settings: unknown setting"):
        make_config({"consensus_settings": {"kapa_threshold": 0.9}})
