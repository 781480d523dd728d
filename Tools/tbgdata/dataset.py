"""Many peptides -> one dataset folder: ``<name>.h5`` per peptide plus ``index.json`` (data.md §7).

* One independent OpenMM process per peptide, ``jobs`` at a time: on 2 cores two independent runs
  beat one run with Threads=2 and beat several peptides in one System (data.md §4).
* Each peptide's seed is derived deterministically from the base seed and the peptide *name*, so
  the result does not depend on job scheduling or on the order of the spec.
* Resumable: a peptide whose final file exists and is complete (and was made with the same
  settings) is skipped. Files appear under their final names only when complete (tbgdata.md).
* Splits are by peptide: a peptide never appears in two splits.
* ``segments``: a peptide's MD may be made as several independent trajectories (an integer: that
  many, seeds derived from the peptide name and segment number; or a list of seeds), each
  ``production_ps`` long, in files ``<name>-s<seed>.h5`` that the index lists under ``files``
  and training pools. Segments run in parallel, and a stopped run loses at most the segments in
  flight.
* ``bias``: the spec's peptides are made in the generator's biased mode (frozen metadynamics bias on
  φ, tbgdata/bias.py); each file carries ``/bias_energy`` and its own bias build. A ``segments``
  entry may also be a mapping ``{seed: 301, bias: metad_phi}`` that overrides the spec's bias for
  that segment, so one index entry pools unbiased and biased files (listed in ``biased_files``).
* ``index.json`` is written last, atomically (temp + ``os.replace``), and only if every peptide
  succeeded, so an index always describes a complete dataset.
"""
from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import random
import sys
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field

from . import DATASET_FORMAT_NAME, DATASET_FORMAT_VERSION
from .bias import BiasConfig
from .durable import durable_replace
from .md import RunConfig, generate_trajectory, is_complete, read_metadata
from .peptide import check_sequence
from .presets import get_preset

SPLITS = ("train", "validation", "test")
# Settings that must match for an existing file to be reused.
_MATCH_KEYS = ("sequence", "termini", "preset", "atom_order", "production_ps", "equilibration_ps",
               "save_interval_ps", "timestep_fs", "seed", "bias")


@dataclass
class DatasetSpec:
    name: str
    preset: str
    termini: str
    splits: dict  # split -> list of (name, sequence)
    atom_order: str = "openmm"
    production_ps: float = 1000.0
    equilibration_ps: float = 100.0
    save_ps: float = 1.0
    seed: int = 1
    timestep_fs: float | None = None
    reference_frames: int = 10
    segments: int | list | None = None
    bias: dict | str | None = None  # None: plain MD; else the biased mode's settings (tbgdata/bias.py)

    def peptides(self):
        """[(name, sequence, split)] in split order, validated (unique names, valid letters)."""
        out, seen = [], {}
        for split in SPLITS:
            for nm, seq in self.splits.get(split, []):
                check_sequence(seq, self.termini, self.atom_order)
                if nm in seen:
                    raise ValueError(f"peptide {nm!r} appears in both {seen[nm]!r} and {split!r} "
                                     f"(dataset {self.name!r}); splits must be disjoint")
                seen[nm] = split
                out.append((nm, seq, split))
        unknown = set(self.splits) - set(SPLITS)
        if unknown:
            raise ValueError(f"unknown split(s) {sorted(unknown)} in dataset {self.name!r}; use {SPLITS}")
        if not out:
            raise ValueError(f"dataset {self.name!r} lists no peptides")
        return out


def _entries(items, where: str):
    out = []
    for it in items or []:
        if isinstance(it, str):
            out.append((it, it))
        elif isinstance(it, dict) and "sequence" in it:
            out.append((str(it.get("name", it["sequence"])), str(it["sequence"])))
        else:
            raise ValueError(f"bad peptide entry {it!r} in {where}: use 'KS' or {{name: AD, sequence: A}}")
    return out


def load_spec(path: str) -> DatasetSpec:
    import yaml
    with open(path) as fh:
        raw = yaml.safe_load(fh)
    if not isinstance(raw, dict):
        raise ValueError(f"dataset spec {path} is not a YAML mapping")
    known = {"name", "preset", "termini", "atom_order", "production_ps", "equilibration_ps", "save_ps",
             "seed", "timestep_fs", "reference_frames", "splits", "description", "segments", "bias"}
    extra = set(raw) - known
    if extra:
        raise ValueError(f"unknown key(s) {sorted(extra)} in dataset spec {path}")
    for key in ("preset", "termini", "splits"):
        if key not in raw:
            raise ValueError(f"dataset spec {path} lacks required key {key!r}")
    splits = {k: _entries(v, f"{path} splits.{k}") for k, v in (raw["splits"] or {}).items()}
    kw = {k: raw[k] for k in known - {"splits", "description", "name"} if k in raw}
    spec = DatasetSpec(name=raw.get("name", os.path.splitext(os.path.basename(path))[0]), splits=splits, **kw)
    dt = spec.timestep_fs if spec.timestep_fs is not None else get_preset(spec.preset).timestep_fs

    def check_bias(value, where):
        try:
            bias = BiasConfig.from_any(value)
            if bias is not None:
                bias.resolved(dt)
        except ValueError as exc:
            raise ValueError(f"dataset spec {path}: {where}bias: {exc}") from None

    check_bias(spec.bias, "")
    seg = spec.segments
    if isinstance(seg, list):
        for x in seg:
            if isinstance(x, dict) and (set(x) - {"seed", "bias"} or not isinstance(x.get("seed"), int)):
                raise ValueError(f"dataset spec {path}: segment {x!r} must be a seed or {{seed: <int>, bias: ...}}")
            if isinstance(x, dict):
                check_bias(x.get("bias"), f"segment seed {x['seed']}: ")
        seeds = [x["seed"] if isinstance(x, dict) else x for x in seg]
    if seg is not None and not ((isinstance(seg, int) and not isinstance(seg, bool) and seg >= 1) or
                                (isinstance(seg, list) and seg and all(isinstance(x, int) for x in seeds)
                                 and len(set(seeds)) == len(seeds))):
        raise ValueError(f"dataset spec {path}: segments must be a positive integer or a list of distinct integer seeds "
                         f"(each optionally {{seed: <int>, bias: ...}})")
    return spec


def spec_from_sequences(seqs, fractions=(1.0, 0.0, 0.0), **kw) -> DatasetSpec:
    """Split a list of sequences by peptide with a seeded shuffle (fractions train/val/test)."""
    seqs = list(dict.fromkeys(s.strip() for s in seqs if s.strip()))
    if len(fractions) != 3 or any(f < 0 for f in fractions) or sum(fractions) <= 0:
        raise ValueError(f"split fractions must be three non-negative numbers (got {fractions})")
    tot = float(sum(fractions))
    order = sorted(seqs)
    random.Random(kw.get("seed", 1)).shuffle(order)
    n = len(order)
    n_val = int(round(fractions[1] / tot * n))
    n_test = int(round(fractions[2] / tot * n))
    n_train = n - n_val - n_test
    if n_train < 0:
        raise ValueError(f"split fractions {fractions} leave no training peptides for {n} sequences")
    parts = {"train": order[:n_train], "validation": order[n_train:n_train + n_val],
             "test": order[n_train + n_val:]}
    splits = {k: [(s, s) for s in v] for k, v in parts.items()}
    return DatasetSpec(name=kw.pop("name", "dataset"), splits=splits, **kw)


def derive_seed(base_seed: int, name: str) -> int:
    """Per-peptide seed: first 4 bytes of SHA-256("<base>/<name>") mod 2^31-1 (stable across runs)."""
    h = hashlib.sha256(f"{int(base_seed)}/{name}".encode()).digest()
    return int.from_bytes(h[:4], "little") % (2**31 - 1)


_SPEC_BIAS = object()  # "the spec's bias" (None means unbiased)


def _config(spec: DatasetSpec, name: str, seq: str, seed: int | None = None, bias=_SPEC_BIAS) -> RunConfig:
    return RunConfig(sequence=seq, termini=spec.termini, preset=spec.preset, name=name,
                     production_ps=spec.production_ps, equilibration_ps=spec.equilibration_ps,
                     save_ps=spec.save_ps, timestep_fs=spec.timestep_fs,
                     seed=derive_seed(spec.seed, name) if seed is None else seed,
                     atom_order=spec.atom_order, reference_frames=spec.reference_frames,
                     bias=spec.bias if bias is _SPEC_BIAS else bias).resolved()


def _segment_files(spec: DatasetSpec, name: str, seq: str) -> list:
    """[(file name, RunConfig)] of a peptide: one file, or one per segment."""
    if spec.segments is None:
        return [(f"{name}.h5", _config(spec, name, seq))]
    if not isinstance(spec.segments, list):
        seeds = [derive_seed(spec.seed, f"{name}/{k}") for k in range(spec.segments)]
        return [(f"{name}-s{seed}.h5", _config(spec, name, seq, seed)) for seed in seeds]
    out = []
    for x in spec.segments:
        seed, bias = (x["seed"], x.get("bias", spec.bias)) if isinstance(x, dict) else (x, spec.bias)
        out.append((f"{name}-s{seed}.h5", _config(spec, name, seq, seed, bias)))
    return out


def _matches(meta: dict, cfg: RunConfig) -> list:
    want = {"sequence": cfg.sequence, "termini": cfg.termini, "preset": cfg.preset, "atom_order": cfg.atom_order,
            "production_ps": cfg.production_ps, "equilibration_ps": cfg.equilibration_ps,
            "save_interval_ps": cfg.save_ps, "timestep_fs": cfg.timestep_fs, "seed": cfg.seed,
            "bias": cfg.bias}
    have = dict(meta)
    if have.get("bias") is not None:  # the file also records the CV atoms etc.; compare the settings
        have["bias"] = {k: have["bias"].get(k) for k in BiasConfig.__dataclass_fields__}
    return [f"{k}: file {have.get(k)!r} != spec {want[k]!r}" for k in _MATCH_KEYS if have.get(k) != want[k]]


def _made_with(path: str, cfg: RunConfig) -> bool:
    """Whether ``path`` is a complete file made with ``cfg``'s settings."""
    return os.path.exists(path) and is_complete(path) and not _matches(read_metadata(path), cfg)


def _worker(out: str, cfg_dict: dict, command: str) -> dict:
    return generate_trajectory(out, RunConfig(**cfg_dict), command=command)


def make_dataset(spec: DatasetSpec, out_dir: str, jobs: int = 1, command: str = "", log=None,
                 splits=None) -> dict:
    """Generate all missing peptide files, then write ``index.json``. Returns the index dict.

    ``splits`` (a subset of SPLITS, default all) makes only those splits' peptides, e.g. the test
    split alone to evaluate a shipped model on a new machine. The index then lists every peptide of
    the spec whose files are complete: the chosen splits, and any others made earlier (so running
    with ``splits`` in a finished dataset's folder keeps its full index)."""
    log = log or (lambda m: print(m, file=sys.stderr, flush=True))
    peptides = spec.peptides()
    if splits is not None:
        unknown = set(splits) - set(SPLITS)
        if unknown or not splits:
            raise ValueError(f"splits {sorted(splits)}: choose among {list(SPLITS)}")
        if not any(split in splits for _, _, split in peptides):
            raise ValueError(f"dataset {spec.name!r} has no peptides in the split(s) {sorted(splits)}")
    out_dir = os.path.abspath(out_dir)
    os.makedirs(out_dir, exist_ok=True)
    todo = []
    for name, seq, split in peptides:
        if splits is not None and split not in splits:
            continue
        for file, cfg in _segment_files(spec, name, seq):
            path = os.path.join(out_dir, file)
            label = file[:-3]
            if os.path.exists(path):
                if is_complete(path):
                    diff = _matches(read_metadata(path), cfg)
                    if diff:
                        raise ValueError(f"existing file {path} was made with different settings ({'; '.join(diff)}); "
                                         f"delete it or choose another --out")
                    log(f"[{label}] complete file exists, skipping")
                    continue
                log(f"[{label}] existing file is incomplete or unreadable; regenerating")
            todo.append((label, path, cfg))
    failures = []
    if todo:
        jobs = max(1, min(int(jobs), len(todo)))
        log(f"generating {len(todo)} trajectories ({len(peptides)} peptides) with {jobs} process(es)")
        # 'spawn': each worker is a fresh interpreter, nothing of OpenMM is shared across a fork.
        with ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn")) as ex:
            futs = {ex.submit(_worker, path, asdict(cfg), command): name for name, path, cfg in todo}
            for fut in as_completed(futs):
                try:
                    fut.result()
                except Exception as exc:  # keep going: other peptides are independent
                    failures.append((futs[fut], repr(exc)))
                    log(f"[{futs[fut]}] FAILED: {exc}")
    if failures:
        raise RuntimeError(f"{len(failures)} peptide(s) failed, index.json not written: "
                           + "; ".join(f"{n}: {e}" for n, e in failures))
    index = {"format": DATASET_FORMAT_NAME, "format_version": DATASET_FORMAT_VERSION, "name": spec.name,
             "preset": spec.preset, "termini": spec.termini, "atom_order": spec.atom_order, "peptides": []}
    left_out = []
    for name, seq, split in peptides:
        segments = _segment_files(spec, name, seq)
        files = [f for f, _ in segments]
        if splits is not None and split not in splits:
            # Another split's peptide: listed only where an earlier run made it with these settings.
            if not all(_made_with(os.path.join(out_dir, f), cfg) for f, cfg in segments):
                left_out.append(name)
                continue
        metas = [read_metadata(os.path.join(out_dir, f)) for f in files]
        meta = metas[0]
        entry = {"name": name, "sequence": seq, "file": files[0], "split": split,
                 "n_atoms": meta["n_atoms"], "n_frames": sum(m["n_frames"] for m in metas),
                 "temperature_K": meta["temperature_K"], "preset": meta["preset"], "termini": meta["termini"]}
        biased = [f for f, m in zip(files, metas) if m.get("bias") is not None]
        if biased:
            entry["biased_files"] = biased
        if spec.segments is not None:
            entry["files"] = files
        index["peptides"].append(entry)
    tmp = os.path.join(out_dir, "index.json.tmp")
    with open(tmp, "w") as fh:
        json.dump(index, fh, indent=1)
        fh.write("\n")
    durable_replace(tmp, os.path.join(out_dir, "index.json"))
    log(f"wrote {os.path.join(out_dir, 'index.json')} ({len(index['peptides'])} peptides)")
    if left_out:
        log(f"index.json leaves out {len(left_out)} peptide(s) of the spec not made yet ({', '.join(left_out)}): "
            f"run without --splits to make them")
    return index
