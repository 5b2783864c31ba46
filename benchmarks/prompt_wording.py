"""Which few-shot wording labels best with the embedded local model?

Compares the shipped few-shot prompt (``labelgraph.prompts.few_shot_prompt``) with the
task's text and label named "Text:/Label:" against "Review:/Sentiment:", with 8
demonstrations chosen either as the nearest neighbours (4 per label) or at random (4 per
label), on 100 Rotten Tomatoes snippets with 200 labeled candidates for demonstrations.
Needs the `local` extra. Run: ``python benchmarks/prompt_wording.py`` (a few minutes on 2
cores).
"""

from __future__ import annotations

import numpy as np

from labelgraph.data import load_rotten_tomatoes
from labelgraph.local import load_local
from labelgraph.memory.embeddings import make_embedding
from labelgraph.prompts import few_shot_prompt
from labelgraph.types import Task

LABELS = ["positive", "negative"]
WORDINGS = {
    "Text/Label": Task(labels=LABELS, description="movie review sentiment"),
    "Review/Sentiment": Task(labels=LABELS, description="movie review sentiment",
                             text_name="Review", label_name="Sentiment"),
}


def shots_for(i: int, sims: np.ndarray, demo_labels: np.ndarray, texts: list[str],
              nearest: bool) -> list[tuple[str, str]]:
    picked: list[tuple[str, str, float]] = []
    rng = np.random.default_rng(i)
    for label in LABELS:
        rows = np.flatnonzero(demo_labels == label)
        rows = rows[np.argsort(-sims[rows])][:4] if nearest else rng.choice(rows, 4, False)
        picked += [(texts[r], label, float(sims[r])) for r in rows]
    if nearest:
        picked.sort(key=lambda s: s[2])  # most similar last, nearest the query
    else:
        rng.shuffle(picked)
    return [(t, label) for t, label, _ in picked]


def main() -> None:
    data = load_rotten_tomatoes().sample(400, random_state=1)
    demo, test = data.iloc[:200], data.iloc[200:300]
    emb = make_embedding("minilm")
    demo_emb, test_emb = emb.embed(demo.text.tolist()), emb.embed(test.text.tolist())
    demo_labels, demo_texts = demo.label.to_numpy(), demo.text.tolist()
    model = load_local("local")
    for wording in WORDINGS:
        for nearest in (True, False):
            correct = 0
            for i, (query, gold) in enumerate(zip(test.text, test.label, strict=True)):
                shots = shots_for(i, demo_emb @ test_emb[i], demo_labels, demo_texts, nearest)
                probs = model.score_labels(few_shot_prompt(WORDINGS[wording], shots, query),
                                           LABELS)
                correct += max(probs, key=probs.get) == gold
            kind = "nearest" if nearest else "random"
            print(f"{wording:>17} {kind:>8} shots: accuracy {correct / len(test):.2f}",
                  flush=True)


if __name__ == "__main__":
    main()
