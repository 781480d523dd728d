#!/usr/bin/env python3
"""Analysis plots that compare Boltzmann-generator samples (`tbg sample`) with MD of the same peptide.

Writes ramachandran.png, energy.png, free_energy_phi.png and summary.json into --out; run with
--help for what each shows. The numerical helpers (validity, importance weights, Kish ESS, free
energies of histograms) are plain functions of arrays so that Tools/tests/test_plots.py can check
them against known answers.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import dataclass

import h5py
import matplotlib

matplotlib.use("Agg")  # files only; never needs a display
import matplotlib.pyplot as plt  # noqa: E402
import mdtraj  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tbgdata import GAS_CONSTANT_KJ_PER_MOL_K  # noqa: E402
from tbgdata.h5util import read_json_dataset  # noqa: E402

PROG = "plot_samples.py"
DPI = 150
ANGLE_RANGE = (-180.0, 180.0)
PLOT_NAMES = {"ramachandran": "ramachandran.png", "energy": "energy.png", "free_energy_phi": "free_energy_phi.png"}
SAMPLE_DATASETS = ("topology_ok", "chirality_ok", "chirality_fixed", "log_weight", "energy_kj_mol")

DESCRIPTION = """\
Compare Boltzmann-generator samples with MD of the same peptide.

Inputs
  --md       a trajectory file of the project format (Tools/FORMAT.md): /coordinates (nm),
             /topology, /potentialEnergy (kJ/mol) and /metadata with temperature_K. A biased
             run (/bias_energy, FORMAT.md §1.7) is plotted reweighted: frame k carries
             w = exp(+V_k/kT_MD) in every MD histogram, as `tbg evaluate` does.
  --samples  the output of `tbg sample` for that peptide: coordinates in the same atom order plus
             /samples/{topology_ok, chirality_ok, chirality_fixed, log_weight, energy_kj_mol}
             and the attribute /samples@kT_kJ_per_mol.

A sample is valid when it passed the bond-graph check (topology_ok) and has the reference
chirality (chirality_ok; samples mirrored into it count as valid and are reported as
chirality_fixed). Invalid samples are left out of every sample statistic. "proposal" means the
valid samples unweighted (the flow's own distribution); "reweighted" means the valid samples with
importance weights w = exp(log_weight - max), normalised over the valid samples, which target the
Boltzmann distribution exp(-u/kT). A valid sample whose log_weight is -inf or nan (a clash with
infinite energy) has weight 0. ESS is Kish's (sum w)^2 / sum w^2 divided by the number of valid
samples (1 = perfect proposal, 1/n = one sample carries all the weight), as `tbg sample` reports.

Outputs in --out (each written to NAME.part.EXT first and renamed, so a file under its final
name is complete)
  ramachandran.png     free energy -ln p(phi, psi) in kT of MD, proposal and reweighted samples,
                       one colour scale (0 to the MD maximum; higher values in the top colour),
                       empty bins white
  energy.png           potential-energy histograms (kJ/mol), each normalised over all its frames
                       or valid samples, so a curve's area is the fraction inside the x-range
                       (MD range + 25 %; --energy-max moves the upper end); the title counts the
                       samples outside it
  free_energy_phi.png  F(phi) = -kT ln p(phi) in kT, each curve shifted to minimum 0, y-axis up to
                       1.5 x the MD maximum (the legend counts bins above it); empty bins are gaps;
                       dotted lines mark the positive phi basin of --phi-basin
  summary.json         counts, ESS, temperature, energy range, the phi-basin free energy
                       delta_f_kT = -ln(P(positive basin) / P(rest)) of MD, proposal and reweighted
                       (null when a basin is empty; same convention as `tbg evaluate`) and the PNG
                       paths (stable keys)

Exit status: 0 on success, 2 for a missing or unreadable input (the message names the file and
what was expected) or a bad option.
"""


class InputError(Exception):
    """An expected problem with the user's input: reported in one line, exit status 2."""


@dataclass
class Trajectory:
    """What the plots need from the MD file."""

    path: str
    traj: mdtraj.Trajectory      # every --md-stride-th frame
    energy_kj_mol: np.ndarray
    metadata: dict
    frames_in_file: int
    bias_kj_mol: np.ndarray | None = None  # /bias_energy of a biased run (every stride-th frame)


@dataclass
class Samples:
    """What the plots need from a `tbg sample` file: the trajectory plus per-sample flags and weights."""

    path: str
    traj: mdtraj.Trajectory
    energy_kj_mol: np.ndarray
    topology_ok: np.ndarray
    chirality_ok: np.ndarray
    chirality_fixed: np.ndarray
    log_weight: np.ndarray
    kT_kJ_per_mol: float         # the kT that log_weight was computed at
    ess_in_file: float | None


# ---------------------------------------------------------------------------------------------
# Numerical helpers (pure functions of arrays; tested in Tools/tests/test_plots.py)


def valid_mask(topology_ok, chirality_ok) -> np.ndarray:
    """Samples that count: right bond graph and right chirality (after any mirror fix)."""
    return np.asarray(topology_ok, dtype=bool) & np.asarray(chirality_ok, dtype=bool)


def importance_weights(log_weight, valid) -> np.ndarray:
    """Normalised weights exp(log w - max) over the valid samples; 0 for invalid and non-finite ones.

    Subtracting the maximum keeps exp() in range (log weights of real samples are ~ -1000). If no
    valid sample has a finite log weight, every weight is 0 (there is nothing to reweight).
    """
    log_weight = np.asarray(log_weight, dtype=float)
    usable = np.asarray(valid, dtype=bool) & np.isfinite(log_weight)
    weights = np.zeros(log_weight.shape)
    if usable.any():
        weights[usable] = np.exp(log_weight[usable] - log_weight[usable].max())
        weights /= weights.sum()
    return weights


def normalised_ess(weights, valid) -> float:
    """Kish ESS (sum w)^2 / sum w^2 over the valid samples, divided by their number (0 if none).

    The same definition as `tbg sample` (zero-weight valid samples count in the denominator), so
    the value can be compared with the file's effective_sample_size attribute.
    """
    weights = np.asarray(weights, dtype=float)[np.asarray(valid, dtype=bool)]
    total = weights.sum()
    if weights.size == 0 or total <= 0:
        return 0.0
    return float(total**2 / np.sum(weights**2) / weights.size)


def retarget_log_weights(log_weight, energy_kj_mol, kT_file, kT_target) -> np.ndarray:
    """Log weights for exp(-u/kT_target) from ones computed for exp(-u/kT_file) (same proposal).

    log w = -u/kT - log q, so changing kT adds u (1/kT_file - 1/kT_target). Unchanged when the two
    agree, which avoids turning -inf + inf into nan for clashing samples.
    """
    log_weight = np.asarray(log_weight, dtype=float)
    if np.isclose(kT_file, kT_target, rtol=1e-9, atol=0.0):
        return log_weight
    with np.errstate(invalid="ignore"):
        return log_weight + np.asarray(energy_kj_mol, dtype=float) * (1.0 / kT_file - 1.0 / kT_target)


def free_energy(coordinates, edges, log_weights=None) -> np.ndarray:
    """-ln p in kT on a grid of bins, shifted so the most populated bin is 0; empty bins nan.

    coordinates: one array per axis (1 for F(φ), 2 for F(φ, ψ)), binned by the same `edges` (values
    outside them are dropped, the last edge belongs to the last bin, as in np.histogram).
    log_weights: per-point log weights (default all 0); -inf and nan points count as absent. The
    bins are summed in log space (log-sum-exp), so a bin whose weights are all below e^-745 gets
    its true large F instead of underflowing to 0 and looking empty. Bin widths are equal, so the
    density's normalisation is a constant that the shift removes.
    """
    edges = np.asarray(edges, dtype=float)
    bins = len(edges) - 1
    shape = (bins,) * len(coordinates)
    indices = []
    for values in coordinates:
        values = np.asarray(values, dtype=float)
        index = np.searchsorted(edges, values, side="right") - 1
        index[values == edges[-1]] = bins - 1
        indices.append(index)
    log_weights = np.zeros(len(indices[0])) if log_weights is None else np.asarray(log_weights, dtype=float)
    keep = np.isfinite(log_weights) & np.all([(i >= 0) & (i < bins) for i in indices], axis=0)
    log_histogram = np.full(int(np.prod(shape)), -np.inf)
    np.logaddexp.at(log_histogram, np.ravel_multi_index([i[keep] for i in indices], shape), log_weights[keep])
    result = np.full(log_histogram.shape, np.nan)
    filled = np.isfinite(log_histogram)
    if filled.any():
        result[filled] = log_histogram[filled].max() - log_histogram[filled]
    return result.reshape(shape)


# ---------------------------------------------------------------------------------------------
# Reading the inputs


def open_h5(path: str, what: str) -> h5py.File:
    """Open an input file, turning the usual failures into a message that names it."""
    if not os.path.exists(path):
        raise InputError(f"{path}: no such file (expected {what})")
    try:
        return h5py.File(path, "r")
    except OSError as exc:
        raise InputError(f"{path}: not a readable HDF5 file (expected {what}): {exc}") from None


def require(h5: h5py.File, path: str, name: str, expected: str) -> h5py.Dataset:
    """The dataset `name`, or an InputError that says which file lacks what."""
    node = h5.get(name)
    if not isinstance(node, h5py.Dataset):
        raise InputError(f"{path}: missing dataset /{name} (expected {expected})")
    return node


def load_mdtraj(path: str, stride: int = 1) -> mdtraj.Trajectory:
    """mdtraj.load with its (varied) exceptions reported as input errors naming the file."""
    try:
        return mdtraj.load(path, stride=stride)
    except Exception as exc:  # mdtraj raises many types for malformed files
        raise InputError(f"{path}: mdtraj cannot load it as an MDTraj HDF5 trajectory: {exc}") from None


def read_md(path: str, stride: int, need_temperature: bool) -> Trajectory:
    """MD frames (every `stride`-th), their potential energies and the /metadata JSON."""
    what = "an MD trajectory file, Tools/FORMAT.md"
    with open_h5(path, what) as h5:
        frames = require(h5, path, "coordinates", what).shape[0]
        require(h5, path, "topology", what)
        if frames == 0:
            raise InputError(f"{path}: no frames (expected {what})")
        energy = require(h5, path, "potentialEnergy", "potential energies in kJ/mol, Tools/FORMAT.md")[::stride]
        metadata = {}
        if "metadata" in h5:
            metadata = read_json_dataset(h5["metadata"])
        bias = None
        if "bias_energy" in h5:
            full = np.asarray(h5["bias_energy"][()], dtype=float)
            if full.shape != (frames,) or not np.all(np.isfinite(full)):
                raise InputError(f"{path}: /bias_energy has shape {full.shape} or non-finite values "
                                 f"(expected one finite bias energy in kJ/mol per frame, {frames})")
            if "temperature_K" not in metadata:
                raise InputError(f"{path}: /bias_energy needs temperature_K in /metadata (the weights are exp(+V/kT))")
            bias = full[::stride]
        if need_temperature and "temperature_K" not in metadata:
            raise InputError(f"{path}: no temperature_K in /metadata (expected the MD temperature; "
                             "or pass --temperature)")
    traj = load_mdtraj(path, stride)
    if len(energy) != traj.n_frames:
        raise InputError(f"{path}: /potentialEnergy has {len(energy)} entries for {traj.n_frames} frames")
    return Trajectory(path, traj, np.asarray(energy, dtype=float), metadata, frames, bias)


def read_samples(path: str) -> Samples:
    """A `tbg sample` output: coordinates, per-sample datasets and the kT its weights were made at."""
    what = "the output of `tbg sample`"
    with open_h5(path, what) as h5:
        for name in ("coordinates", "topology"):
            require(h5, path, name, what)
        columns = {name: require(h5, path, f"samples/{name}", what)[()] for name in SAMPLE_DATASETS}
        attrs = h5["samples"].attrs
        if "kT_kJ_per_mol" not in attrs:
            raise InputError(f"{path}: missing attribute /samples@kT_kJ_per_mol (expected {what})")
        kT = float(np.ravel(attrs["kT_kJ_per_mol"])[0])
        ess = float(np.ravel(attrs["effective_sample_size"])[0]) if "effective_sample_size" in attrs else None
    traj = load_mdtraj(path)
    for name, column in columns.items():
        if column.shape != (traj.n_frames,):
            raise InputError(f"{path}: /samples/{name} has shape {column.shape}, expected ({traj.n_frames},)")
    return Samples(path, traj, columns["energy_kj_mol"].astype(float),
                   topology_ok=columns["topology_ok"].astype(bool), chirality_ok=columns["chirality_ok"].astype(bool),
                   chirality_fixed=columns["chirality_fixed"].astype(bool),
                   log_weight=columns["log_weight"].astype(float), kT_kJ_per_mol=kT, ess_in_file=ess)


def atom_labels(traj: mdtraj.Trajectory) -> list[tuple[str, str]]:
    return [(atom.residue.name, atom.name) for atom in traj.topology.atoms]


def check_same_peptide(md: Trajectory, samples: Samples) -> None:
    """The comparison only means something when both files hold the same atoms in the same order."""
    if atom_labels(md.traj) != atom_labels(samples.traj):
        raise InputError(f"{samples.path}: its atoms ({samples.traj.n_atoms}) are not those of {md.path} "
                         f"({md.traj.n_atoms}) in the same order (expected samples of the MD peptide)")


def backbone_dihedrals(traj: mdtraj.Trajectory, path: str, notes: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Atom quadruplets of φ and ψ; a dipeptide has one of each, otherwise the first is used (and noted)."""
    phi, psi = mdtraj.compute_phi(traj[:1])[0], mdtraj.compute_psi(traj[:1])[0]
    if len(phi) == 0 or len(psi) == 0:
        raise InputError(f"{path}: the topology has no backbone phi/psi dihedral (expected a peptide)")
    if len(phi) > 1 or len(psi) > 1:
        notes.append(f"{len(phi)} phi and {len(psi)} psi dihedrals; the plots use the first of each "
                     f"(atoms {phi[0].tolist()} and {psi[0].tolist()})")
    return phi[0], psi[0]


def angles_degrees(traj: mdtraj.Trajectory, quadruplet: np.ndarray) -> np.ndarray:
    return np.degrees(mdtraj.compute_dihedrals(traj, quadruplet[None, :])[:, 0])


# ---------------------------------------------------------------------------------------------
# Plots


@dataclass
class Analysis:
    """Everything the three plots and the summary are drawn from."""

    peptide: str
    temperature_K: float
    md_phi: np.ndarray
    md_psi: np.ndarray
    md_energy: np.ndarray
    phi: np.ndarray          # valid samples
    psi: np.ndarray
    energy: np.ndarray
    weights: np.ndarray      # importance weights of the valid samples (sum 1, or all 0)
    log_weights: np.ndarray  # their log weights at the target kT (for free energies without underflow)
    unweighted: int          # valid samples with a -inf/nan log weight (weight 0)
    n_samples: int
    ess: float
    md_log_weights: np.ndarray | None = None  # V/kT_MD of a biased MD run, else None (equal frames)

    @property
    def md_weights(self) -> np.ndarray:
        """MD frame weights, normalised to sum 1 (equal for plain MD)."""
        if self.md_log_weights is None:
            return np.full(len(self.md_phi), 1.0 / len(self.md_phi))
        w = np.exp(self.md_log_weights - self.md_log_weights.max())
        return w / w.sum()

    @property
    def md_label(self) -> str:
        if self.md_log_weights is None:
            return f"MD ({len(self.md_phi)} frames)"
        return f"biased MD reweighted ({len(self.md_phi)} frames, ESS {100 * normalised_ess(self.md_weights, np.ones(len(self.md_phi), bool)):.1f} %)"

    @property
    def n_valid(self) -> int:
        return len(self.phi)

    @property
    def reweightable(self) -> bool:
        return self.weights.sum() > 0


def phi_basin(text: str) -> tuple[float, float]:
    """argparse type of --phi-basin LOWER:UPPER (radians, -pi <= LOWER < UPPER <= pi)."""
    try:
        lower, upper = (float(part) for part in text.split(":"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not LOWER:UPPER in radians") from None
    if not (-np.pi - 1e-9 <= lower < upper <= np.pi + 1e-9):
        raise argparse.ArgumentTypeError(f"{text!r}: need -pi <= LOWER < UPPER <= pi")
    return lower, upper


def basin_free_energy(phi_degrees: np.ndarray, weights: np.ndarray | None, basin: tuple[float, float]) -> float | None:
    """-ln(P(lower < phi < upper) / P(rest)) in kT (phi in degrees, basin in radians), as `tbg
    evaluate` computes it; None when a basin is empty."""
    phi = np.radians(np.asarray(phi_degrees, dtype=np.float64))
    w = np.ones_like(phi) if weights is None else np.asarray(weights, dtype=np.float64)
    inside = (phi > basin[0]) & (phi < basin[1])
    plus, minus = float(w[inside].sum()), float(w[~inside].sum())
    if not (plus > 0 and minus > 0):
        return None
    return float(-np.log(plus / minus))


def write_atomically(path: str, write) -> None:
    """Call write(file) on PATH's .part name and rename it onto PATH, so PATH is never half-written."""
    stem, ext = os.path.splitext(path)
    part = f"{stem}.part{ext}"
    try:
        with open(part, "wb") as fh:
            write(fh)
        os.replace(part, path)
    except BaseException:
        if os.path.exists(part):
            os.remove(part)
        raise


def save_figure(fig, path: str) -> None:
    write_atomically(path, lambda fh: fig.savefig(fh, format="png", dpi=DPI))
    plt.close(fig)


def empty_panel(ax, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color="0.3")


def plot_ramachandran(a: Analysis, bins: int, path: str) -> None:
    """Three (φ, ψ) free-energy maps with one colour scale, so the panels can be compared by eye."""
    edges = np.linspace(*ANGLE_RANGE, bins + 1)

    panels = [(a.md_label, free_energy([a.md_phi, a.md_psi], edges, a.md_log_weights), ""),
              (f"proposal: {a.n_valid} valid of {a.n_samples} samples",
               free_energy([a.phi, a.psi], edges) if a.n_valid else None, "no valid samples"),
              (f"reweighted: {a.n_valid} valid, ESS {100 * a.ess:.1f} %",
               free_energy([a.phi, a.psi], edges, a.log_weights) if a.reweightable else None,
               "no valid sample with finite weight")]
    top = max(1.0, float(np.nanmax(panels[0][1])))
    cmap = plt.get_cmap("viridis").with_extremes(bad="white")

    fig, axes = plt.subplots(1, 3, figsize=(15, 5.2), constrained_layout=True)
    for ax, (title, landscape_kT, missing) in zip(axes, panels):
        if landscape_kT is None:
            empty_panel(ax, missing)
        else:
            mesh = ax.pcolormesh(edges, edges, landscape_kT.T, cmap=cmap, vmin=0.0, vmax=top)
        ax.set(title=title, xlabel="φ (degrees)", xlim=ANGLE_RANGE, ylim=ANGLE_RANGE, aspect="equal",
               xticks=range(-180, 181, 90), yticks=range(-180, 181, 90))
        ax.set_ylabel("ψ (degrees)")
    fig.colorbar(mesh, ax=axes, extend="max", shrink=0.85, label="free energy −ln p(φ, ψ) (kT)")
    fig.suptitle(f"{a.peptide} at {a.temperature_K:g} K: Ramachandran free energy ({bins}×{bins} bins)")
    save_figure(fig, path)


def energy_range(md_energy: np.ndarray, upper: float | None) -> tuple[float, float]:
    """MD's range plus 25 % of its span on each side (upper end from --energy-max if given)."""
    low, high = float(md_energy.min()), float(md_energy.max())
    margin = max(0.25 * (high - low), 1.0)
    return low - margin, (high + margin if upper is None else upper)


def plot_energy(a: Analysis, bins: int, limits: tuple[float, float], path: str) -> dict:
    """Overlaid energy histograms; returns how many valid samples lie outside the x-range."""
    low, high = limits
    edges = np.linspace(low, high, bins + 1)
    width = edges[1] - edges[0]
    below = a.energy < low
    outside = below | ~(a.energy <= high)  # +inf and nan count as above
    above, below = int(np.sum(outside & ~below)), int(np.sum(below))

    fig, ax = plt.subplots(figsize=(8, 5), constrained_layout=True)
    ax.hist(a.md_energy, bins=edges, weights=a.md_weights / width,
            histtype="stepfilled", color="0.6", alpha=0.6, label=a.md_label)
    if a.n_valid:
        inside = a.energy[~outside]
        ax.hist(inside, bins=edges, weights=np.full(len(inside), 1 / (a.n_valid * width)), histtype="step",
                color="tab:blue", linewidth=1.5, label=f"proposal ({a.n_valid} valid samples)")
    if a.reweightable:
        share = float(a.weights[outside].sum())
        ax.hist(a.energy[~outside], bins=edges, weights=a.weights[~outside] / width, histtype="step",
                color="tab:red", linewidth=1.5,
                label=f"reweighted (ESS {100 * a.ess:.1f} %; {100 * share:.1f} % of the weight outside)")
    ax.set(xlim=(low, high), xlabel="potential energy (kJ/mol)",
           ylabel="density (1/(kJ/mol); area = fraction in range)")
    ax.legend(loc="upper right", fontsize="small")
    ax.set_title(f"{a.peptide} at {a.temperature_K:g} K: potential energy\n"
                 f"{a.n_valid} valid of {a.n_samples} samples; outside [{low:.0f}, {high:.0f}] kJ/mol "
                 f"(not shown): {above} above, {below} below", fontsize="medium")
    save_figure(fig, path)
    return {"above": above, "below": below}


def plot_free_energy_phi(a: Analysis, bins: int, path: str, basin: tuple[float, float] = (0.0, 2.15)) -> None:
    """F(φ) curves up to 1.5 × the MD maximum, so a few far-off reweighted bins cannot flatten MD.

    Markers keep isolated filled bins visible between the gaps of empty ones; the legend counts the
    bins above the y-range.
    """
    edges = np.linspace(*ANGLE_RANGE, bins + 1)
    centres = 0.5 * (edges[1:] + edges[:-1])
    md = free_energy([a.md_phi], edges, a.md_log_weights)
    top = 1.5 * max(1.0, float(np.nanmax(md)))
    curves = [(md, "-o", "0.3", a.md_label)]
    if a.n_valid:
        curves.append((free_energy([a.phi], edges), "--o", "tab:blue",
                       f"proposal ({a.n_valid} valid of {a.n_samples})"))
    if a.reweightable:
        curves.append((free_energy([a.phi], edges, a.log_weights), "-o", "tab:red",
                       f"reweighted (ESS {100 * a.ess:.1f} %)"))
    fig, ax = plt.subplots(figsize=(8, 5), constrained_layout=True)
    for values, style, colour, label in curves:
        above = int(np.sum(values > top))
        ax.plot(centres, values, style, color=colour, markersize=3,
                label=f"{label}; {above} bins above the y-range" if above else label)
    for edge in np.degrees(basin):
        ax.axvline(edge, linestyle=":", color="0.5", linewidth=1)
    ax.plot([], [], ":", color="0.5", label=f"positive φ basin {basin[0]:g} < φ < {basin[1]:g} rad (ΔF)")
    ax.set(xlim=ANGLE_RANGE, ylim=(-0.05 * top, top), xticks=range(-180, 181, 60), xlabel="φ (degrees)",
           ylabel=f"F(φ) = −kT ln p(φ) (kT, T = {a.temperature_K:g} K)")
    ax.legend(fontsize="small")
    ax.set_title(f"{a.peptide}: free energy along φ ({bins} bins; empty bins left out)", fontsize="medium")
    save_figure(fig, path)


# ---------------------------------------------------------------------------------------------
# Command line


def positive(kind):
    """argparse type: a number of type `kind` that is > 0."""
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a {kind.__name__}") from None
        if not value > 0:
            raise argparse.ArgumentTypeError(f"{text!r} must be > 0")
        return value
    return parse


def parse_args(argv):
    parser = argparse.ArgumentParser(prog=PROG, description=DESCRIPTION,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--md", required=True, metavar="MD.h5", help="MD trajectory of the peptide (Tools/FORMAT.md)")
    parser.add_argument("--samples", required=True, metavar="SAMPLES.h5", help="output file of `tbg sample`")
    parser.add_argument("--out", required=True, metavar="DIR", help="folder for the PNGs and summary.json "
                        "(created if missing; existing files of the same names are replaced)")
    parser.add_argument("--md-stride", type=positive(int), default=1, metavar="K",
                        help="use every K-th MD frame (default 1: all)")
    parser.add_argument("--bins", type=positive(int), default=60, metavar="N",
                        help="histogram bins per axis over [-180, 180] degrees and over the energy range "
                             "(default 60)")
    parser.add_argument("--temperature", type=positive(float), default=None, metavar="KELVIN",
                        help="temperature of the Boltzmann distribution the samples are reweighted to and of "
                             "the kT unit (default: temperature_K in the MD file's /metadata). Log weights "
                             "made at another temperature are shifted by u (1/kT_file - 1/kT). The MD is "
                             "plotted as it is, so normally leave this at the MD temperature")
    parser.add_argument("--energy-max", type=float, default=None, metavar="KJ_MOL",
                        help="upper end of the energy axis (default: MD maximum + 25 %% of the MD energy span; "
                             "raise it to see a poorly trained model's samples)")
    parser.add_argument("--phi-basin", type=phi_basin, default=(0.0, 2.15), metavar="LOWER:UPPER",
                        help="positive phi basin of delta_f_kT, radians, open interval (default 0:2.15, as "
                             "`tbg evaluate`; the beta basin's tail past phi = 2.15 counts as the other basin)")
    return parser.parse_args(argv)


def peptide_label(md: Trajectory) -> str:
    """E.g. "AD (ACE-ALA-NME)": the metadata name and the residues, for plot titles."""
    name = md.metadata.get("name") or os.path.splitext(os.path.basename(md.path))[0]
    return f"{name} ({'-'.join(residue.name for residue in md.traj.topology.residues)})"


def analyse(md: Trajectory, samples: Samples, kT: float, temperature_K: float, notes: list[str]) -> Analysis:
    """Angles, energies and weights of the MD frames and the valid samples."""
    phi_atoms, psi_atoms = backbone_dihedrals(md.traj, md.path, notes)
    valid = valid_mask(samples.topology_ok, samples.chirality_ok)
    if not np.isclose(samples.kT_kJ_per_mol, kT, rtol=1e-9, atol=0.0):
        notes.append(f"the samples' log weights were made at kT = {samples.kT_kJ_per_mol:.6g} kJ/mol; "
                     f"they are shifted to kT = {kT:.6g} kJ/mol ({temperature_K:g} K)")
    log_weight = retarget_log_weights(samples.log_weight, samples.energy_kj_mol, samples.kT_kJ_per_mol, kT)
    weights = importance_weights(log_weight, valid)
    valid_traj = samples.traj[np.flatnonzero(valid)]
    phi, psi = angles_degrees(valid_traj, phi_atoms), angles_degrees(valid_traj, psi_atoms)
    if not np.all(np.isfinite(phi) & np.isfinite(psi)):
        raise InputError(f"{samples.path}: a valid sample has non-finite coordinates")
    return Analysis(peptide=peptide_label(md), temperature_K=temperature_K,
                    md_phi=angles_degrees(md.traj, phi_atoms), md_psi=angles_degrees(md.traj, psi_atoms),
                    md_energy=md.energy_kj_mol, phi=phi, psi=psi, energy=samples.energy_kj_mol[valid],
                    weights=weights[valid], log_weights=log_weight[valid], unweighted=int(np.sum(~np.isfinite(log_weight[valid]))),
                    n_samples=len(valid), ess=normalised_ess(weights, valid),
                    md_log_weights=None if md.bias_kj_mol is None
                    else md.bias_kj_mol / (GAS_CONSTANT_KJ_PER_MOL_K * float(md.metadata["temperature_K"])))


def run(args) -> dict:
    """Read, analyse, plot, and write summary.json last; returns the summary."""
    md = read_md(args.md, args.md_stride, need_temperature=args.temperature is None)
    samples = read_samples(args.samples)
    check_same_peptide(md, samples)
    temperature_K = args.temperature if args.temperature is not None else float(md.metadata["temperature_K"])
    kT = GAS_CONSTANT_KJ_PER_MOL_K * temperature_K
    notes: list[str] = []
    a = analyse(md, samples, kT, temperature_K, notes)
    limits = energy_range(a.md_energy, args.energy_max)
    if not limits[1] > limits[0]:
        raise InputError(f"--energy-max {args.energy_max:g} is not above the lower end {limits[0]:.1f} kJ/mol "
                         "of the energy axis")
    try:
        os.makedirs(args.out, exist_ok=True)
    except OSError as exc:
        raise InputError(f"{args.out}: cannot create the output folder: {exc}") from None

    paths = {key: os.path.abspath(os.path.join(args.out, name)) for key, name in PLOT_NAMES.items()}
    plot_ramachandran(a, args.bins, paths["ramachandran"])
    outside = plot_energy(a, args.bins, limits, paths["energy"])
    plot_free_energy_phi(a, args.bins, paths["free_energy_phi"], args.phi_basin)
    delta_f = {"md": basin_free_energy(a.md_phi, None, args.phi_basin),
               "proposal": basin_free_energy(a.phi, None, args.phi_basin) if a.n_valid else None,
               "reweighted": basin_free_energy(a.phi, a.weights, args.phi_basin) if a.reweightable else None}

    summary = {
        "format": "tbg-plot-summary", "format_version": 1,
        "peptide": a.peptide, "md_file": os.path.abspath(args.md), "samples_file": os.path.abspath(args.samples),
        "temperature_K": temperature_K, "kT_kJ_per_mol": kT,
        "md_frames": md.traj.n_frames, "md_frames_in_file": md.frames_in_file, "md_stride": args.md_stride,
        "samples": a.n_samples, "valid": a.n_valid, "invalid": a.n_samples - a.n_valid,
        "topology_failures": int(np.sum(~samples.topology_ok)),
        "chirality_failures": int(np.sum(samples.topology_ok & ~samples.chirality_ok)),
        "chirality_fixed": int(samples.chirality_fixed.sum()),
        "valid_without_weight": a.unweighted,
        "ess": a.ess, "ess_in_file": samples.ess_in_file,
        "md_weighted_by_bias": a.md_log_weights is not None,
        "md_bias_ess": (normalised_ess(a.md_weights, np.ones(len(a.md_phi), bool))
                        if a.md_log_weights is not None else None),
        "bins": args.bins, "energy_range_kj_mol": list(limits),
        "valid_samples_above_energy_range": outside["above"], "valid_samples_below_energy_range": outside["below"],
        "phi_positive_basin_rad": list(args.phi_basin), "delta_f_kT": delta_f,
        "notes": notes, "plots": paths,
    }
    write_atomically(os.path.join(args.out, "summary.json"),
                     lambda fh: fh.write((json.dumps(summary, indent=2) + "\n").encode()))
    return summary


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        summary = run(args)
    except InputError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    for note in summary["notes"]:
        print(f"{PROG}: note: {note}", file=sys.stderr)
    print(f"{summary['peptide']}: {summary['md_frames']} MD frames; {summary['samples']} samples, "
          f"{summary['valid']} valid ({summary['invalid']} excluded: {summary['topology_failures']} bond graph, "
          f"{summary['chirality_failures']} chirality), {summary['chirality_fixed']} mirrored; "
          f"normalised ESS {summary['ess']:.4f}; plots in {os.path.abspath(args.out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
