"""Builder tests (data.md §2): atom counts, orders, trans omega, L-chirality, determinism."""
import numpy as np
import openmm
import pytest

from tbgdata.peptide import (PeptideBuildError, build_peptide, ca_chirality, peptide_omegas,
                             validate_structure)
from tbgdata.presets import get_preset, make_platform

CASES = [  # (sequence, termini, expected atom count or None)
    ("AA", "zwitterion", 23), ("KS", "zwitterion", 36), ("GP", "zwitterion", None),
    ("WD", "zwitterion", None), ("CM", "zwitterion", None), ("HY", "zwitterion", None),
    ("WW", "zwitterion", 51), ("GG", "zwitterion", 17), ("A", "capped", 22), ("PT", "capped", None),
]
_FF = {}


def _preset_for(termini):
    # data.md §0: capped AD uses the amber99sbildn-obc2 preset, zwitterions amber14-obc1.
    return get_preset("amber99sbildn-obc2" if termini == "capped" else "amber14-obc1")


def _ff(preset):
    if preset.name not in _FF:
        _FF[preset.name] = preset.forcefield()
    return _FF[preset.name]


@pytest.mark.parametrize("seq,termini,n_atoms", CASES)
def test_build_minimise_validate(seq, termini, n_atoms):
    preset = _preset_for(termini)
    ff = _ff(preset)
    pep = build_peptide(seq, termini, "openmm", forcefield=ff, seed=3)
    if n_atoms is not None:
        assert pep.n_atoms == n_atoms
    # Built geometry is ideal: omega = 180 exactly (up to rounding to the PDB's 1e-3 A).
    assert all(abs(om) > 179.0 for _, om in peptide_omegas(pep.topology, pep.positions))
    n_chiral = sum(r.name != "GLY" for r in pep.topology.residues() if r.name not in ("ACE", "NME"))
    chir = ca_chirality(pep.topology, pep.positions)
    assert len(chir) == n_chiral and all(v > 0 for _, v in chir)
    system = preset.create_system(pep.topology, ff)
    platform, props, _ = make_platform(preset.default_platform, 1)
    ctx = openmm.Context(system, openmm.VerletIntegrator(0.001), platform, props)
    ctx.setPositions(pep.positions)
    openmm.LocalEnergyMinimizer.minimize(ctx, 1.0, 200)
    st = ctx.getState(getPositions=True, getEnergy=True)
    pos = st.getPositions(asNumpy=True).value_in_unit(openmm.unit.nanometer)
    validate_structure(pep.topology, pos, seq, {"E": st.getPotentialEnergy()._value})


def test_his_is_hie_and_termini_names():
    pep = build_peptide("HY", "zwitterion", "openmm", seed=0)
    his = [a.name for a in next(pep.topology.residues()).atoms()]
    assert "HE2" in his and "HD1" not in his
    assert his[:4] == ["N", "H", "H2", "H3"]
    assert [a.name for a in pep.topology.atoms()][-1] == "OXT"


def test_amber_order_matches_tbg_alanine_dipeptide_indexing():
    pep = build_peptide("A", "capped", "amber", forcefield=_ff(get_preset("amber99sbildn-obc2")), seed=0)
    atoms = [(a.residue.name, a.name) for a in pep.topology.atoms()]
    assert len(atoms) == 22
    expect = {0: ("ACE", "CH3"), 4: ("ACE", "C"), 5: ("ACE", "O"), 6: ("ALA", "N"), 8: ("ALA", "CA"),
              10: ("ALA", "CB"), 14: ("ALA", "C"), 16: ("NME", "N"), 18: ("NME", "C")}
    for i, ra in expect.items():
        assert atoms[i] == ra, (i, atoms[i], ra)


def test_openmm_order_is_timewarp_order():
    pep = build_peptide("AA", "zwitterion", "openmm", seed=0)
    names = [a.name for a in pep.topology.atoms()]
    assert names == ["N", "H", "H2", "H3", "CA", "HA", "C", "O", "CB", "HB1", "HB2", "HB3",
                     "N", "H", "CA", "HA", "C", "O", "CB", "HB1", "HB2", "HB3", "OXT"]


def test_build_is_bit_identical_for_same_seed():
    ff = _ff(get_preset("amber14-obc1"))
    a = build_peptide("KS", "zwitterion", "openmm", forcefield=ff, seed=11)
    b = build_peptide("KS", "zwitterion", "openmm", forcefield=ff, seed=11)
    assert np.array_equal(a.positions, b.positions)
    assert [x.name for x in a.topology.atoms()] == [x.name for x in b.topology.atoms()]


def test_invalid_sequence_letter_is_named():
    with pytest.raises(PeptideBuildError, match=r"unknown residue letter 'X' in sequence 'AX'"):
        build_peptide("AX", "zwitterion")
    with pytest.raises(PeptideBuildError, match="termini"):
        build_peptide("AA", "blocked")


def test_validation_rejects_mirror_image():
    pep = build_peptide("AK", "zwitterion", seed=0)
    mirrored = pep.positions * np.array([1.0, 1.0, -1.0])  # D-amino acids, omega still trans
    with pytest.raises(PeptideBuildError, match="not L"):
        validate_structure(pep.topology, mirrored, "mirror AK")
