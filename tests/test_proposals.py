"""What each agent proposes from its own evidence (labelgraph.proposals): one small pure
function per agent."""

from __future__ import annotations

from labelgraph.config import RunConfig
from labelgraph.proposals import (
    Overrulings,
    annotator_proposal,
    class_gap,
    flat_curve,
    generator_proposal,
    learner_proposal,
    overrulings,
    selector_proposal,
    verifier_proposal,
)

CONFIG = RunConfig()


def test_annotator_counts_who_overruled_its_labels_and_proposes_query_when_mostly():
    rows = [
        {"item_id": "a", "origin": "pool", "label": "positive", "other": "negative"},  # person
        {"item_id": "b", "origin": "pool", "label": "positive", "other": "positive"},  # agreed
        {"item_id": "c", "origin": "pool", "label": "positive", "verdict": "flag",
         "reason": "the student and the neighbours point to 'negative'"},  # verifier
        {"item_id": "d", "origin": "pool", "label": "positive", "verdict": "reject",
         "reason": "duplicate of an example already labeled"},  # nobody's error
        {"item_id": "e", "origin": "pool", "label": "positive", "verdict": "accept"},
        {"item_id": "f", "origin": "pool", "label": "negative", "verdict": "accept"},  # corrected
        {"item_id": "g", "origin": "pool", "label": "negative"},  # nobody looked yet
        {"item_id": "s", "origin": "synthetic", "label": "negative", "verdict": "reject",
         "reason": "blind label 'negative' differs from the intended 'positive'"},
    ]
    found = overrulings(rows, {"f": "positive"})
    assert found == Overrulings(checked=7, by_person=1, by_verifier=2, corrected=1,
                                synthetic=1, synthetic_overruled=1)
    proposal = annotator_proposal(found, CONFIG)  # 4 of 7 >= 0.5
    assert proposal is not None and proposal.action == "query"
    assert proposal.reason.startswith("4 of my last 7 model labels were overruled (1 by a "
                                      "more trusted source, 2 by the verifier, 1 by a "
                                      "person's correction)")
    assert annotator_proposal(found, CONFIG.model_copy(update={"proposal_evidence": 8})) \
        is None  # too little evidence to speak
    synthetic = Overrulings(checked=20, by_verifier=5, synthetic=6, synthetic_overruled=5)
    said = annotator_proposal(synthetic, CONFIG)
    assert said is not None and "stop synthesizing" in said.reason
    assert annotator_proposal(Overrulings(checked=20, by_person=3), CONFIG) is None


def test_verifier_proposes_query_on_many_doubts_or_audit_suspects():
    said = verifier_proposal({"accept": 6, "flag": 2, "reject": 2}, None, CONFIG)
    assert said is not None and said.action == "query"
    assert said.reason.startswith("4 of the 10 new labels were rejected or flagged")
    assert verifier_proposal({"accept": 8, "flag": 1, "reject": 1}, None, CONFIG) is None
    assert verifier_proposal({"reject": 3}, None, CONFIG) is None  # under the evidence floor
    audit = verifier_proposal({"accept": 10}, (40, 6), CONFIG)
    assert audit is not None and "the audit found 6 of 40 labels" in audit.reason
    assert verifier_proposal({"accept": 10}, (40, 2), CONFIG) is None


def test_learner_names_a_missing_label_and_stops_on_a_flat_curve():
    counts = {"positive": 20, "negative": 10, "neutral": 6}
    assert class_gap(counts, {"positive": 600, "negative": 400, "neutral": 0}, CONFIG) == \
        ("neutral", "the student never predicts 'neutral' on the stop set (6 labels of it)")
    assert class_gap({**counts, "neutral": 2}, None, CONFIG) == \
        ("neutral", "'neutral' has only 2 accepted labels (< 3)")
    assert class_gap(counts, {"positive": 5, "negative": 4, "neutral": 1}, CONFIG) is None
    # a label with no example yet is left to the pool: the generator continues examples
    assert class_gap({**counts, "neutral": 0}, {"positive": 5, "negative": 4}, CONFIG) is None
    flat = [{"round": r, "stop_changed": c} for r, c in
            [(1, None), (2, 0.3), (3, 0.05), (4, 0.01), (5, 0.0), (6, 0.02)]]
    assert flat_curve(flat, CONFIG) == ("the curve is flat: at most 2.0% of the stop set's "
                                        "predictions changed in each of the last 3 rounds")
    assert flat_curve(flat[:-1] + [{"round": 6, "stop_changed": 0.03}], CONFIG) is None
    assert flat_curve(flat[:4], CONFIG) is None  # round 4 of min_rounds 3: 0.05 in the window
    gap = {"positive": 600, "negative": 400, "neutral": 0}
    synth = learner_proposal(flat, counts, gap, True, CONFIG)
    assert synth is not None and (synth.action, synth.target_label) == ("synthesize",
                                                                        "neutral")
    stop = learner_proposal(flat, counts, gap, False, CONFIG)  # synthesis cannot run
    assert stop is not None and stop.action == "stop" and stop.reason.endswith(": stop")
    assert learner_proposal(flat[:3], counts, None, False, CONFIG) is None


def test_selector_proposes_synthesis_or_stop_when_nothing_informative_is_left():
    empty = selector_proposal(0, None, True, CONFIG)
    assert empty is not None and empty.action == "synthesize"
    assert "nothing is left in the pool" in empty.reason
    sure = selector_proposal(50, 0.995, False, CONFIG)
    assert sure is not None and sure.action == "stop" and "sure of every pool item" in \
        sure.reason
    assert selector_proposal(50, 0.9, True, CONFIG) is None
    assert selector_proposal(50, None, True, CONFIG) is None


def test_generator_proposes_query_when_its_examples_fail():
    none = generator_proposal(0, 3, 5, None, CONFIG)
    assert none is not None and none.reason.startswith("no usable examples after 3 attempts")
    rejected = generator_proposal(4, 1, 0, 0.2, CONFIG)
    assert rejected is not None and rejected.reason.startswith("80% of my last examples")
    assert generator_proposal(4, 1, 0, 0.5, CONFIG) is None
