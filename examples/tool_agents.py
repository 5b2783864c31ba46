"""Tool-calling agents: an LLM supervisor that inspects the run before each decision, and an
annotator that consults a domain glossary before each label.

Needs a chat model that calls tools, from a provider:

    pip install -e ".[openai]"
    OPENAI_API_KEY=... python examples/tool_agents.py --llm openai:gpt-4o-mini

Without the provider's key (or its extra) the example says what is missing and exits. It
prints each decision with the tools the supervisor looked at, and the ledger's tool calls;
``labelgraph plugins RUN_DIR`` shows the same run's tools and how each agent worked.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import tempfile
from typing import Any

import pandas as pd

import labelgraph
from labelgraph import Budget, LabelGraph, Task
from labelgraph.data import load_rotten_tomatoes, split_gold

#: provider -> (environment variable with its key, package of its extra)
PROVIDERS = {"openai": ("OPENAI_API_KEY", "langchain_openai"),
             "anthropic": ("ANTHROPIC_API_KEY", "langchain_anthropic")}

#: film-review slang whose sentiment a general model may misread
SLANG = {"guilty pleasure": "fond, mildly positive", "popcorn flick": "light fun, positive",
         "slog": "tedious, negative", "phoned in": "lazy acting, negative",
         "oscar bait": "calculated for prizes, usually negative",
         "straight to video": "poor quality, negative", "tour de force": "excellent, positive"}


@labelgraph.tool(agents=["annotator"])
def review_slang(text: str) -> str:
    """What the film-review slang in a text means and which way it leans (empty if none)."""
    found = [f"'{k}': {v}" for k, v in SLANG.items() if k in text.lower()]
    return "; ".join(found)


def missing(spec: str) -> str | None:
    """Why this provider cannot run here (None if it can)."""
    provider = spec.split(":", 1)[0]
    key, package = PROVIDERS.get(provider, (None, None))
    if package and importlib.util.find_spec(package) is None:
        return f"the {provider} extra is not installed: pip install -e \".[{provider}]\""
    if key and not os.environ.get(key):
        return f"{key} is not set"
    return None


def run(llm: Any, pool: pd.DataFrame, test: pd.DataFrame | None, run_dir: str,
        budget: Budget) -> LabelGraph:
    """The run: an LLM policy (a tool-calling supervisor), an LLM annotator with the slang
    glossary, and an LLM judge for doubtful labels. Prints what the agents did."""
    task = Task(labels=["positive", "negative"], description="movie review sentiment",
                text_name="Review", label_name="Sentiment")
    lg = LabelGraph(task, llm=llm, annotator="llm", policy="llm", budget=budget,
                    run_dir=run_dir, tools=["review_slang"],
                    config={"batch_size": 10, "seed_size": 10, "judge": True})
    result = lg.run(pool, test=test, label_column="label")
    for agent, mode in lg.agent_modes().items():
        print(f"{agent:>10}: {mode}")
    for decision in result.decisions:
        print(f"round {decision['round']}: {decision['action']} — {decision['reason']}")
    for call in lg.context.ledger.tool_calls():
        print(f"  [{call['agent']} r{call['round']}] {call['tool']}({call['arguments']}) "
              f"-> {call['result'][:100]}")
    print(f"{len(result.dataset)} labeled for ${result.cost['usd']:.4f}; stopped: "
          f"{result.stop_reason}")
    return lg


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--llm", default="openai:gpt-4o-mini", help="provider:model")
    parser.add_argument("--labels", type=int, default=60, help="label budget")
    parser.add_argument("--usd", type=float, default=0.25, help="money budget")
    args = parser.parse_args()
    why = missing(args.llm)
    if why:
        print(f"skipped: {why}. This example needs a chat model that calls tools.")
        return 0
    pool, test = split_gold(load_rotten_tomatoes(), test_size=0.05, seed=1)
    with tempfile.TemporaryDirectory() as tmp:
        run(args.llm, pool.sample(n=800, random_state=1), test, tmp,
            Budget(labels=args.labels, usd=args.usd)).close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
