"""Prepare a peptide for sampling without MD (issue 15): a sequence or a PDB file -> one minimised
frame in the project's trajectory format (Tools/FORMAT.md), the input of ``tbg sample --peptide``.

* Sequence: :func:`tbgdata.peptide.build_peptide`, exactly as the generator builds it.
* PDB (or PDBx/mmCIF): read by pdbfixer, checked (one chain; the 20 standard amino acids and
  ACE/NME caps only, as the model encodings cover; L-amino acids), missing heavy atoms added by
  pdbfixer, hydrogens removed and added again by :func:`tbgdata.peptide.protonate` at ``pH`` with
  HIS as HIE, so the chemistry and the atom order are those of the generator. Termini from the
  file: ACE ... NME -> ``capped``, otherwise ``zwitterion`` (pdbfixer adds a missing OXT).

Then the preset's System, a local energy minimisation to the generator's tolerance on the
Reference platform (deterministic), and a one-frame file written through the generator's writer
(:mod:`tbgdata.md`): ``equilibration_ps = production_ps = save_interval_ps = 0``, ``time = [0]``,
``kineticEnergy = [0]``, ``potentialEnergy`` and ``/reference_energies`` of the stored (float32)
frame, and the metadata keys ``source = "prepare_peptide"``, ``source_pdb`` (absolute path or
null) and ``minimized_energy_kj_mol``.
"""
from __future__ import annotations

import os
import shlex
import sys

import h5py
import mdtraj
import numpy as np
import openmm
import openmm.unit as unit

from .md import (RunConfig, append_frames, finish_trajectory_file, minimise, part_path, reference_energies,
                 stored_frames, system_masses, trajectory_metadata, write_atomically)
from .peptide import (ATOM_ORDERS, BUILD_PH, ONE_TO_THREE, TRANS_OMEGA_DEG, Peptide, PeptideBuildError,
                      build_peptide, ca_chirality, check_sequence, heavy_atom_order, pdb_atom_line,
                      peptide_omegas, protonate, validate_structure)
from .presets import get_preset, openmm_seed

SOURCE = "prepare_peptide"
CAPS = ("ACE", "NME")
THREE_TO_ONE = {three: one for one, three in ONE_TO_THREE.items()}
# PDBFile already maps HID/HIE/HIP, ASH, GLH, CYX to their parents (openmm/app/data/pdbNames.xml).
RESIDUE_ALIASES = {"LYN": "LYS"}
MIN_PLACED_ATOMS = 3  # pdbfixer superposes its template on the atoms present: three fix the frame


class PrepareError(PeptideBuildError):
    """Input that cannot be prepared; the message names the file, residue or atom."""


def _log_default(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------- length
def check_length(n_amino_acids: int, termini: str, label: str, log=_log_default) -> None:
    """Refuse fewer than two residues (caps included) or no amino acid; warn outside the shapes the
    shipped models cover (zwitterionic X-Y, or ACE-X-NME like alanine dipeptide)."""
    n_residues = n_amino_acids + (2 if termini == "capped" else 0)
    if n_amino_acids < 1 or n_residues < 2:
        raise PrepareError(f"{label}: {n_amino_acids} amino acid(s) with {termini} termini is not a peptide; "
                           f"need at least 2 residues (caps included) and 1 amino acid")
    if (termini, n_amino_acids) not in (("zwitterion", 2), ("capped", 1)):
        log(f"warning: {label} has {n_amino_acids} amino acids ({termini}); the shipped models are dipeptide "
            f"models (zwitterionic X-Y, or ACE-X-NME like alanine dipeptide), so tbg sample may refuse it")


# ----------------------------------------------------------------------------- from a sequence
def peptide_from_sequence(sequence: str, termini: str, atom_order: str, forcefield, seed: int, pH: float,
                          log=_log_default) -> Peptide:
    """The generator's build (NeRF backbone, template side chains, Modeller hydrogens)."""
    check_sequence(sequence, termini, atom_order)
    check_length(len(sequence), termini, f"sequence {sequence!r}", log)
    return build_peptide(sequence, termini, atom_order, forcefield=forcefield, seed=seed, pH=pH)


# ----------------------------------------------------------------------------- from a PDB file
def describe_residue(res) -> str:
    """``ALA 2 (chain A)``: the residue as the input file numbers it."""
    return f"{res.name} {res.id} (chain {res.chain.id})"


def read_structure(path: str):
    """A PDBFixer of ``path`` (PDB or PDBx/mmCIF); its positions are used as read."""
    import pdbfixer
    if not os.path.isfile(path):
        raise PrepareError(f"{path}: no such file")
    try:
        fixer = pdbfixer.PDBFixer(filename=path, platform=openmm.Platform.getPlatformByName("Reference"))
    except Exception as exc:
        raise PrepareError(f"{path}: cannot be read as a PDB or PDBx/mmCIF file: {exc}") from exc
    for res in fixer.topology.residues():
        res.name = RESIDUE_ALIASES.get(res.name, res.name)
    return fixer


def check_residues(topology, path: str) -> list:
    """The residues of the one chain, each a standard amino acid or a cap (ACE first, NME last)."""
    for res in topology.residues():
        if res.name not in THREE_TO_ONE and res.name not in CAPS:
            raise PrepareError(
                f"{path}: residue {describe_residue(res)} is not one of the 20 standard amino acids or an ACE/NME "
                f"cap, which is all the model encodings represent (remove or replace non-standard residues such "
                f"as MSE, ligands, water and ions)")
    chains = [c for c in topology.chains() if any(True for _ in c.residues())]
    if len(chains) != 1:
        raise PrepareError(f"{path}: {len(chains)} chains ({', '.join(repr(c.id) for c in chains)}); "
                           f"the models sample one peptide chain: keep one chain in the file")
    residues = list(chains[0].residues())
    for i, res in enumerate(residues):
        if (res.name == "ACE" and i != 0) or (res.name == "NME" and i != len(residues) - 1):
            raise PrepareError(f"{path}: cap {describe_residue(res)} is not at its end of the chain "
                               f"(ACE must be first, NME last)")
    if (residues[0].name == "ACE") != (residues[-1].name == "NME"):
        raise PrepareError(f"{path}: one cap only ({residues[0].name} ... {residues[-1].name}); "
                           f"a peptide is capped at both ends (ACE ... NME) or at neither (zwitterion)")
    return residues


def add_missing_heavy_atoms(fixer, path: str, seed: int, log=_log_default) -> None:
    """pdbfixer's missing heavy atoms (and OXT of a free C-terminus); no missing residues are built.
    Refuses a residue with fewer than three atoms to place its template on."""
    fixer.missingResidues = {}
    fixer.findMissingAtoms()
    for res, missing in fixer.missingAtoms.items():
        present = [a.name for a in res.atoms() if a.element is not None and a.element.symbol != "H"]
        if len(present) < MIN_PLACED_ATOMS:
            raise PrepareError(
                f"{path}: residue {describe_residue(res)} lacks atoms {', '.join(a.name for a in missing)} and has "
                f"only {len(present)} heavy atom(s) ({', '.join(present) or 'none'}); pdbfixer needs "
                f"{MIN_PLACED_ATOMS} to place the missing ones")
        log(f"note: {path}: adding missing atoms {', '.join(a.name for a in missing)} to {describe_residue(res)}")
    try:
        fixer.addMissingAtoms(seed=openmm_seed(seed))
    except Exception as exc:
        raise PrepareError(f"{path}: pdbfixer could not add the missing atoms: {exc}") from exc


def check_l_amino_acids(topology, positions: np.ndarray, path: str) -> None:
    """Refuse D-amino acids (negative CA signed volume): the force-field data are L peptides."""
    for label, volume in ca_chirality(topology, positions, label=describe_residue):
        if volume <= 0.0:
            raise PrepareError(f"{path}: residue {label} is a D-amino acid (CA signed volume {volume:.3g} nm^3); "
                               f"only L-amino acids can be prepared")


def ordered_heavy_pdb(residues: list, positions: np.ndarray, atom_order: str, termini: str, path: str) -> str:
    """The heavy atoms as PDB text in the generator's atom order (:func:`heavy_atom_order`), residues
    renumbered from 1; refuses an atom the residue should not have or one still missing."""
    lines, serial = [], 1
    for i, res in enumerate(residues):
        oxt = termini == "zwitterion" and i == len(residues) - 1
        expected = heavy_atom_order(res.name, atom_order, oxt=oxt)
        heavy = {a.name: a for a in res.atoms() if a.element is None or a.element.symbol != "H"}
        unexpected = sorted(set(heavy) - set(expected))
        if unexpected:
            raise PrepareError(f"{path}: residue {describe_residue(res)} has atom(s) {', '.join(unexpected)} that a "
                               f"{'C-terminal ' if oxt else ''}{res.name} does not have (expected {', '.join(expected)})")
        missing = [name for name in expected if name not in heavy]
        if missing:
            raise PrepareError(f"{path}: residue {describe_residue(res)} still lacks atom(s) {', '.join(missing)} "
                               f"after pdbfixer")
        for name in expected:
            atom = heavy[name]
            symbol = atom.element.symbol if atom.element is not None else name[0]
            lines.append(pdb_atom_line(serial, name, res.name, i + 1, positions[atom.index] * 10.0, symbol))
            serial += 1
    return "\n".join(lines + ["TER", "END"]) + "\n"


def peptide_from_pdb(path: str, atom_order: str, forcefield, seed: int, pH: float, log=_log_default) -> Peptide:
    """Read, check and complete a PDB peptide, then protonate it as the generator does."""
    fixer = read_structure(path)
    residues = check_residues(fixer.topology, path)
    termini = "capped" if residues[0].name == "ACE" else "zwitterion"
    sequence = "".join(THREE_TO_ONE[r.name] for r in residues if r.name not in CAPS)
    check_length(len(sequence), termini, path, log)
    n_hydrogens = sum(1 for a in fixer.topology.atoms() if a.element is not None and a.element.symbol == "H")
    add_missing_heavy_atoms(fixer, path, seed, log)
    positions = np.array(fixer.positions.value_in_unit(unit.nanometer), dtype=np.float64)
    residues = check_residues(fixer.topology, path)   # the Topology pdbfixer rebuilt
    check_l_amino_acids(fixer.topology, positions, path)
    if n_hydrogens:
        log(f"note: {path}: its {n_hydrogens} hydrogens are replaced by hydrogens at pH {pH:g} (HIS as HIE), "
            f"as the generator protonates")
    topology, protonated = protonate(ordered_heavy_pdb(residues, positions, atom_order, termini, path),
                                     forcefield, seed, pH, path)
    return Peptide(sequence, termini, atom_order, topology, protonated, int(seed), pH=float(pH))


# ----------------------------------------------------------------------------- minimise and check
def minimised_positions(peptide: Peptide, system: openmm.System) -> np.ndarray:
    """The generator's minimisation (tolerance, no step limit), on the Reference platform."""
    context = openmm.Context(system, openmm.VerletIntegrator(0.001), openmm.Platform.getPlatformByName("Reference"))
    context.setPositions(peptide.positions)
    positions, _ = minimise(context)
    del context
    return positions


def check_minimised(peptide: Peptide, positions: np.ndarray, energy: float, label: str, from_file: bool,
                    log=_log_default) -> None:
    """Finite, L, and (built peptides, as in the generator) trans peptide bonds. A file may hold a
    cis peptide bond on purpose: a warning."""
    if from_file:
        for bond, omega in peptide_omegas(peptide.topology, positions):
            if abs(omega) <= TRANS_OMEGA_DEG:
                log(f"warning: {label}: peptide bond {bond} is not trans after minimisation (omega = {omega:.1f} deg)")
    validate_structure(peptide.topology, positions, f"{label} after minimisation", {"potential": energy},
                       require_trans=not from_file)


# ----------------------------------------------------------------------------- the whole job
def check_output_path(out: str, pdb: str | None, force: bool) -> str:
    """Absolute ``out``; refuses one that is (or whose temporary file would be) the input, an
    existing folder, or an existing file without ``force``."""
    out = os.path.abspath(out)
    if pdb is not None:
        source = os.path.realpath(pdb)
        for candidate in (out, part_path(out)):
            if os.path.realpath(candidate) == source:
                raise PrepareError(f"--out {out} would overwrite the input {pdb}; choose another output file")
    if os.path.isdir(out):
        raise PrepareError(f"--out {out} is a folder; give a file name (.h5)")
    if os.path.exists(out) and not force:
        raise PrepareError(f"--out {out} exists already and is not replaced: choose another --out, remove it, or pass --overwrite")
    return out


def prepare_peptide(out: str, *, preset: str, sequence: str | None = None, termini: str = "zwitterion",
                    pdb: str | None = None, atom_order: str = "openmm", seed: int = 1, pH: float = BUILD_PH,
                    name: str | None = None, force: bool = False, command: str | None = None,
                    log=_log_default) -> dict:
    """Prepare one peptide (``sequence`` + ``termini``, or ``pdb``) and write ``out`` atomically.
    Returns a summary (file, name, sequence, termini, n_atoms, energy_kj_mol)."""
    if (sequence is None) == (pdb is None):
        raise PrepareError("give either a sequence (with termini) or a PDB file")
    if atom_order not in ATOM_ORDERS:
        raise PrepareError(f"unknown atom order {atom_order!r}; choose {ATOM_ORDERS}")
    out = check_output_path(out, pdb, force)
    p = get_preset(preset)
    ff = p.forcefield()
    if pdb is not None:
        peptide = peptide_from_pdb(pdb, atom_order, ff, seed, pH, log)
    else:
        peptide = peptide_from_sequence(sequence, termini, atom_order, ff, seed, pH, log)
    label = pdb if pdb is not None else f"sequence {peptide.sequence!r} ({peptide.termini})"
    try:
        system = p.create_system(peptide.topology, ff)
    except Exception as exc:
        raise PrepareError(f"{label}: the {preset} force field cannot parametrise it: {exc}") from exc
    system_xml = openmm.XmlSerializer.serialize(system)
    # The stored frame is float32: every energy below is of exactly those coordinates.
    frame = minimised_positions(peptide, system).astype(np.float32).astype(np.float64)
    energy = float(reference_energies(system_xml, frame[None])[2][0])
    check_minimised(peptide, frame, energy, label, pdb is not None, log)
    cfg = RunConfig(sequence=peptide.sequence, termini=peptide.termini, preset=preset,
                    name=name or peptide.sequence, production_ps=0.0, equilibration_ps=0.0, save_ps=0.0,
                    timestep_fs=p.timestep_fs, seed=int(seed), platform="Reference", threads=1,
                    atom_order=atom_order, reference_frames=1)
    meta = trajectory_metadata(cfg, n_frames=1, n_atoms=peptide.n_atoms, masses=system_masses(system), threads=1,
                               command=command if command is not None else shlex.join(sys.argv), pH=pH)
    meta.update(source=SOURCE, source_pdb=None if pdb is None else os.path.abspath(pdb),
                minimized_energy_kj_mol=energy)

    def write(tmp: str) -> None:
        with mdtraj.formats.HDF5TrajectoryFile(tmp, "w") as f:
            f.topology = mdtraj.Topology.from_openmm(peptide.topology)
            append_frames(f, frame[None], [0.0], [energy], [0.0])
        with h5py.File(tmp, "r+") as h:
            stored = stored_frames(h, 1, peptide.n_atoms, f"[{cfg.name}]")
            finish_trajectory_file(h, system_xml, meta, stored, np.array([0], dtype=np.int32), tag=f"[{cfg.name}]")

    write_atomically(out, write)
    return {"file": out, "name": cfg.name, "sequence": peptide.sequence, "termini": peptide.termini,
            "n_atoms": peptide.n_atoms, "energy_kj_mol": energy}
