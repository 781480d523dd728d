"""Build a peptide (capped ACE-...-NME or zwitterionic NH3+...COO-) from a one-letter sequence.

Recipe of data.md §2 (tleap/AmberTools is conda-only, and pdbfixer alone gives cis/distorted
peptide bonds, so neither is used):

1. N, CA, C by NeRF with Engh-Huber geometry, trans omega, PPII (phi, psi) = (-70, 140)
   (phi(Pro) = -65).
2. O (and OXT on a free C-terminus) by NeRF.
3. Caps are pseudo-residues: ACE C/O/CH3 where the previous residue's C/O/CA would be,
   NME N/C where the next residue's N/CA would be.
4. Side-chain heavy atoms copied from pdbfixer's L-amino-acid template PDBs by Kabsch
   superposition on N/CA/C (preserves chirality, including Thr/Ile CB).
5. PDB text -> ``openmm.app.PDBFile`` (standard bonds and name mapping, e.g. NME CH3 -> C).
6. ``Modeller.addHydrogens(pH=7, HIS -> HIE)`` with a seeded ``random`` module and the
   Reference platform, so builds are bit-identical (data.md §9.9).
7. Atom order: ``openmm`` (Timewarp 2AA order: N, H.., CA, HA, C, O, side chain, OXT last) or
   ``amber`` (tleap order; TBG's alanine-dipeptide indexing 0 = ACE CH3, 6 = N, 8 = CA, ...).
   Hydrogens always follow their parent atom (Modeller inserts them there), so the order is
   fixed by the heavy-atom order written to the PDB. ``amber`` uses pdbfixer's template order,
   which is the Amber/PDB residue order.
"""
from __future__ import annotations

import io
import os
import random
from dataclasses import dataclass, field

import numpy as np
import openmm
import openmm.app as app
import openmm.unit as unit

ONE_TO_THREE = {
    "A": "ALA", "R": "ARG", "N": "ASN", "D": "ASP", "C": "CYS", "Q": "GLN", "E": "GLU",
    "G": "GLY", "H": "HIS", "I": "ILE", "L": "LEU", "K": "LYS", "M": "MET", "F": "PHE",
    "P": "PRO", "S": "SER", "T": "THR", "W": "TRP", "Y": "TYR", "V": "VAL",
}
TERMINI = ("capped", "zwitterion")
ATOM_ORDERS = ("openmm", "amber")
HIS_VARIANT = "HIE"  # fixed tautomer instead of Modeller's H-bond heuristic (data.md §9.9)
BUILD_PH = 7.0

# Engh-Huber ideal backbone geometry (Angstrom, degrees), data.md §2 step 1.
B_N_CA, B_CA_C, B_C_N = 1.458, 1.525, 1.329
A_N_CA_C, A_CA_C_N, A_C_N_CA = 111.2, 116.2, 121.7
B_C_O, A_CA_C_O = 1.231, 120.8
B_C_OXT = 1.25
PHI, PSI, PHI_PRO, OMEGA = -70.0, 140.0, -65.0, 180.0
TRANS_OMEGA_DEG = 150.0  # |omega| above this is a trans peptide bond (data.md §2 validation)

BACKBONE_HEAVY = ("N", "CA", "C", "O", "OXT")


class PeptideBuildError(ValueError):
    """Raised for invalid input or a structure that fails validation (cis omega, D-residue, NaN)."""


@dataclass
class Peptide:
    sequence: str
    termini: str
    atom_order: str
    topology: app.Topology
    positions: np.ndarray  # (N, 3) float64, nm
    seed: int
    his_variant: str = HIS_VARIANT
    pH: float = BUILD_PH

    @property
    def n_atoms(self) -> int:
        return self.topology.getNumAtoms()

    def positions_quantity(self):
        return unit.Quantity([openmm.Vec3(*map(float, p)) for p in self.positions], unit.nanometer)


def check_sequence(sequence: str, termini: str = "zwitterion", atom_order: str = "openmm") -> str:
    """Validate user input early, with an error message that names the offending input."""
    if not isinstance(sequence, str) or len(sequence) == 0:
        raise PeptideBuildError(f"empty peptide sequence {sequence!r}")
    for ch in sequence:
        if ch not in ONE_TO_THREE:
            raise PeptideBuildError(
                f"unknown residue letter {ch!r} in sequence {sequence!r} "
                f"(allowed: {''.join(sorted(ONE_TO_THREE))})")
    if termini not in TERMINI:
        raise PeptideBuildError(f"unknown termini {termini!r} for sequence {sequence!r}; choose {TERMINI}")
    if atom_order not in ATOM_ORDERS:
        raise PeptideBuildError(f"unknown atom order {atom_order!r}; choose {ATOM_ORDERS}")
    return sequence


# ----------------------------------------------------------------------------- geometry helpers
def _nerf(a, b, c, bond, angle_deg, torsion_deg):
    """Place D with |CD| = bond, angle BCD = angle, dihedral ABCD = torsion (Parsons et al. 2005)."""
    ang, tor = np.radians(angle_deg), np.radians(torsion_deg)
    bc = c - b
    bc /= np.linalg.norm(bc)
    n = np.cross(b - a, bc)
    n /= np.linalg.norm(n)
    m = np.cross(n, bc)
    d2 = np.array([-bond * np.cos(ang), bond * np.sin(ang) * np.cos(tor), bond * np.sin(ang) * np.sin(tor)])
    return c + d2[0] * bc + d2[1] * m + d2[2] * n


def dihedral_deg(p0, p1, p2, p3) -> float:
    """IUPAC dihedral angle in degrees."""
    b1, b2, b3 = p1 - p0, p2 - p1, p3 - p2
    n1, n2 = np.cross(b1, b2), np.cross(b2, b3)
    x = np.dot(n1, n2)
    y = np.linalg.norm(b2) * np.dot(b1, n2)
    return float(np.degrees(np.arctan2(y, x)))


def _kabsch(src: np.ndarray, dst: np.ndarray):
    """Rotation R and translation t with R @ src_i + t ~= dst_i (proper rotation, det = +1)."""
    cs, cd = src.mean(0), dst.mean(0)
    h = (src - cs).T @ (dst - cd)
    u, _, vt = np.linalg.svd(h)
    d = np.sign(np.linalg.det(vt.T @ u.T))
    r = vt.T @ np.diag([1.0, 1.0, d]) @ u.T
    return r, cd - r @ cs


def _template_dir() -> str:
    import pdbfixer
    return os.path.join(os.path.dirname(pdbfixer.__file__), "templates")


_TEMPLATE_CACHE: dict = {}


def _template(resname: str):
    """Heavy atoms of pdbfixer's template PDB for ``resname`` as a list of (name, element, xyz[A])."""
    if resname not in _TEMPLATE_CACHE:
        atoms = []
        with open(os.path.join(_template_dir(), f"{resname}.pdb")) as fh:
            for line in fh:
                if line.startswith(("ATOM", "HETATM")):
                    name = line[12:16].strip()
                    elem = line[76:78].strip() or name[0]
                    if elem == "H":
                        continue
                    xyz = np.array([float(line[30:38]), float(line[38:46]), float(line[46:54])])
                    atoms.append((name, elem, xyz))
        _TEMPLATE_CACHE[resname] = atoms
    return _TEMPLATE_CACHE[resname]


# ----------------------------------------------------------------------------- heavy-atom build
def _backbone(sequence: str, termini: str):
    """NeRF backbone for the real residues plus pseudo-residues for the caps.

    Returns a list (one entry per residue slot, caps included) of dicts with N, CA, C, O
    coordinates in Angstrom. Slot 0 / -1 are the ACE / NME pseudo-residues when capped.
    """
    slots = list(sequence)
    if termini == "capped":
        slots = ["ACE"] + slots + ["NME"]
    n = len(slots)
    phis = [PHI_PRO if s == "P" else PHI for s in slots]
    # Seed frame: first N, CA, C in a plane.
    N0 = np.array([0.0, 0.0, 0.0])
    CA0 = np.array([B_N_CA, 0.0, 0.0])
    ang = np.radians(180.0 - A_N_CA_C)
    C0 = CA0 + B_CA_C * np.array([np.cos(ang), np.sin(ang), 0.0])
    bb = [{"N": N0, "CA": CA0, "C": C0}]
    for i in range(1, n):
        prev = bb[i - 1]
        N = _nerf(prev["N"], prev["CA"], prev["C"], B_C_N, A_CA_C_N, PSI)
        CA = _nerf(prev["CA"], prev["C"], N, B_N_CA, A_C_N_CA, OMEGA)
        C = _nerf(prev["C"], N, CA, B_CA_C, A_N_CA_C, phis[i])
        bb.append({"N": N, "CA": CA, "C": C})
    for i in range(n):
        r = bb[i]
        # O trans to the next N in the peptide plane: dihedral N-CA-C-O = psi + 180.
        r["O"] = _nerf(r["N"], r["CA"], r["C"], B_C_O, A_CA_C_O, PSI + 180.0)
    if termini == "zwitterion":
        last = bb[-1]
        last["OXT"] = _nerf(last["N"], last["CA"], last["C"], B_C_OXT, A_CA_C_N, PSI)
    return slots, bb


CAP_HEAVY_ORDER = {  # heavy atoms of the caps in each atom order (data.md §2 step 7)
    ("ACE", "openmm"): ("C", "O", "CH3"), ("ACE", "amber"): ("CH3", "C", "O"),
    ("NME", "openmm"): ("N", "C"), ("NME", "amber"): ("N", "C"),
}


def heavy_atom_order(resname: str, order: str, oxt: bool = False) -> list:
    """Names of the heavy atoms of residue ``resname`` (an amino acid of ``ONE_TO_THREE`` or an
    ACE/NME cap) in atom order ``order``; ``oxt`` appends the C-terminal OXT.

    ``openmm``: N, CA, C, O, then the side chain in pdbfixer's template order; ``amber``: the
    template order itself (= Amber/PDB residue order, e.g. PRO: N CD CG CB CA C O). Hydrogens are
    not listed: Modeller inserts each after its parent atom (:func:`protonate`).
    """
    if (resname, order) in CAP_HEAVY_ORDER:
        return list(CAP_HEAVY_ORDER[(resname, order)])
    template = [name for name, _, _ in _template(resname) if name != "OXT"]
    if order == "openmm":
        template = ["N", "CA", "C", "O"] + [nm for nm in template if nm not in BACKBONE_HEAVY]
    return template + (["OXT"] if oxt else [])


def _residue_heavy_atoms(slot: str, bbr: dict, is_last: bool, termini: str, order: str):
    """Heavy atoms (name, element, xyz[A]) of one residue slot, in the requested order."""
    if slot in ("ACE", "NME"):
        # Pseudo-residues: ACE C/O/CH3 where the previous residue's C/O/CA would be, NME N/C
        # where the next residue's N/CA would be.
        where = {"ACE": {"C": "C", "O": "O", "CH3": "CA"}, "NME": {"N": "N", "C": "CA"}}[slot]
        return slot, [(nm, nm[0], bbr[where[nm]]) for nm in heavy_atom_order(slot, order)]
    resname = ONE_TO_THREE[slot]
    tmpl = _template(resname)
    t = {name: xyz for name, _, xyz in tmpl}
    r, tr = _kabsch(np.array([t["N"], t["CA"], t["C"]]), np.array([bbr["N"], bbr["CA"], bbr["C"]]))
    atoms = {nm: (el, r @ xyz + tr) for nm, el, xyz in tmpl if nm not in BACKBONE_HEAVY}
    atoms.update({nm: (nm[0], bbr[nm]) for nm in ("N", "CA", "C", "O")})
    oxt = is_last and termini == "zwitterion"
    if oxt:
        atoms["OXT"] = ("O", bbr["OXT"])
    return resname, [(nm, *atoms[nm]) for nm in heavy_atom_order(resname, order, oxt)]


def pdb_atom_line(serial: int, name: str, resname: str, resseq: int, xyz_angstrom, element: str,
                  chain: str = "A") -> str:
    """One fixed-column PDB ATOM record (coordinates in Angstrom)."""
    pdbname = name if len(name) == 4 else " " + name
    return ("ATOM  %5d %-4s %3s %1s%4d    %8.3f%8.3f%8.3f  1.00  0.00          %2s"
            % (serial, pdbname, resname, chain, resseq, xyz_angstrom[0], xyz_angstrom[1], xyz_angstrom[2], element))


def heavy_atom_pdb(sequence: str, termini: str = "zwitterion", atom_order: str = "openmm") -> str:
    """PDB text (heavy atoms only) for the sequence; input to PDBFile + Modeller.addHydrogens."""
    check_sequence(sequence, termini, atom_order)
    slots, bb = _backbone(sequence, termini)
    lines, serial = [], 1
    last_real = len(slots) - 1 if termini == "zwitterion" else len(slots) - 2
    for i, (slot, bbr) in enumerate(zip(slots, bb)):
        resname, atoms = _residue_heavy_atoms(slot, bbr, i == last_real, termini, atom_order)
        for name, el, xyz in atoms:
            lines.append(pdb_atom_line(serial, name, resname, i + 1, xyz, el))
            serial += 1
    lines += ["TER", "END"]
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------- full build
def protonate(heavy_pdb: str, forcefield: app.ForceField | None, seed: int, pH: float, label: str):
    """Heavy-atom PDB text -> (topology, positions (N, 3) nm) with hydrogens at ``pH``, HIS as HIE.

    ``openmm.app.PDBFile`` gives standard bonds and name mapping; ``Modeller.addHydrogens`` inserts
    each hydrogen after its parent atom, so the heavy-atom order of the text fixes the atom order.
    Modeller places new H at random positions before minimising them: ``random`` is seeded (and
    restored afterwards) and the Reference platform is used, so the result is bit-identical
    (data.md §2.6). ``forcefield`` defaults to amber14-all.
    """
    pdb = app.PDBFile(io.StringIO(heavy_pdb))
    if forcefield is None:
        forcefield = app.ForceField("amber14-all.xml")
    modeller = app.Modeller(pdb.topology, pdb.positions)
    variants = [HIS_VARIANT if res.name == "HIS" else None for res in modeller.topology.residues()]
    state = random.getstate()
    try:
        random.seed(int(seed))
        modeller.addHydrogens(forcefield, pH=pH, variants=variants,
                              platform=openmm.Platform.getPlatformByName("Reference"))
    except Exception as exc:
        raise PeptideBuildError(f"adding hydrogens failed for {label}: {exc}") from exc
    finally:
        random.setstate(state)
    return modeller.topology, np.array(modeller.positions.value_in_unit(unit.nanometer), dtype=np.float64)


def build_peptide(sequence: str, termini: str = "zwitterion", atom_order: str = "openmm",
                  forcefield: app.ForceField | None = None, seed: int = 0, pH: float = BUILD_PH) -> Peptide:
    """Build the all-atom peptide (hydrogens at ``pH``, HIS -> HIE) deterministically.

    ``forcefield`` is used by Modeller to place/minimise the added hydrogens (the preset's force
    field in :mod:`tbgdata.md`; amber14-all when omitted). The global ``random`` state is saved
    and restored, so callers' random streams are not disturbed.
    """
    check_sequence(sequence, termini, atom_order)
    topology, positions = protonate(heavy_atom_pdb(sequence, termini, atom_order), forcefield, seed, pH,
                                    f"sequence {sequence!r} ({termini})")
    return Peptide(sequence, termini, atom_order, topology, positions, int(seed), pH=float(pH))


# ----------------------------------------------------------------------------- validation
def _ca_equivalent(res):
    return {"ACE": "CH3", "NME": "C"}.get(res.name, "CA")


def peptide_omegas(topology: app.Topology, positions: np.ndarray):
    """(label, omega in degrees) for every peptide bond, caps included."""
    res = list(topology.residues())
    out = []
    for a, b in zip(res[:-1], res[1:]):
        ia = {at.name: at.index for at in a.atoms()}
        ib = {at.name: at.index for at in b.atoms()}
        idx = [ia[_ca_equivalent(a)], ia["C"], ib["N"], ib[_ca_equivalent(b)]]
        out.append((f"{a.name}{a.index + 1}-{b.name}{b.index + 1}", dihedral_deg(*positions[idx])))
    return out


def ca_chirality(topology: app.Topology, positions: np.ndarray, label=None):
    """(label, signed volume (N-CA).((C-CA)x(CB-CA)) in nm^3) per non-Gly amino acid.

    For L-amino acids this volume is positive (checked against pdbfixer's L templates, which
    :func:`build_peptide` copies; see the test suite). ``label(residue)`` names a residue
    (default ``ALA2``: name and 1-based position).
    """
    label = label or (lambda res: f"{res.name}{res.index + 1}")
    out = []
    for res in topology.residues():
        if res.name in ("GLY", "ACE", "NME"):
            continue
        ix = {at.name: at.index for at in res.atoms()}
        n, ca, c, cb = (positions[ix[k]] for k in ("N", "CA", "C", "CB"))
        out.append((label(res), float(np.dot(n - ca, np.cross(c - ca, cb - ca)))))
    return out


def validate_structure(topology: app.Topology, positions: np.ndarray, label: str,
                       energies: dict | None = None, require_trans: bool = True) -> None:
    """Raise :class:`PeptideBuildError` unless every omega is trans (|omega| > 150 deg; skipped
    with ``require_trans=False``), every non-Gly CA is L, and all positions/energies are finite
    (data.md §2 validation)."""
    problems = []
    if not np.all(np.isfinite(positions)):
        problems.append("non-finite coordinates")
    else:
        for name, om in peptide_omegas(topology, positions) if require_trans else []:
            if abs(om) <= TRANS_OMEGA_DEG:
                problems.append(f"peptide bond {name} not trans (omega = {om:.1f} deg)")
        for name, vol in ca_chirality(topology, positions):
            if vol <= 0.0:
                problems.append(f"{name} CA is not L (signed volume {vol:.3g} nm^3)")
    for k, v in (energies or {}).items():
        if not np.isfinite(v):
            problems.append(f"energy {k} is not finite ({v})")
    if problems:
        raise PeptideBuildError(f"structure validation failed for {label}: " + "; ".join(problems))


def force_energies(system: openmm.System, positions: np.ndarray, platform_name: str = "Reference"):
    """Per-Force energies (kJ/mol) in System order, each Force evaluated in its own group.

    Works on a deserialized copy so the caller's System (and its force groups) is untouched.
    """
    sys_copy = openmm.XmlSerializer.deserialize(openmm.XmlSerializer.serialize(system))
    if sys_copy.getNumForces() > 32:
        raise ValueError("more than 32 forces; cannot give each its own force group")
    for g, f in enumerate(sys_copy.getForces()):
        f.setForceGroup(g)
    ctx = openmm.Context(sys_copy, openmm.VerletIntegrator(0.001), openmm.Platform.getPlatformByName(platform_name))
    ctx.setPositions(positions)
    out = {}
    for g, f in enumerate(sys_copy.getForces()):
        e = ctx.getState(getEnergy=True, groups={g}).getPotentialEnergy().value_in_unit(unit.kilojoule_per_mole)
        out[f"{g}:{f.__class__.__name__}"] = e
    del ctx
    return out
