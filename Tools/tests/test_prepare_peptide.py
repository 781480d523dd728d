"""Tools/prepare_peptide.py (issue 15): a sequence or a PDB -> one minimised frame in the trajectory
format that tbg inspect / energy / sample and mdtraj accept; refusals with exit status 2."""
import json
import os
import subprocess
import sys

import h5py
import mdtraj
import numpy as np
import openmm
import openmm.app as app
import openmm.unit as u
import pytest

from conftest import BUILT_TBG, ROOT, TOOLS, private_tbg
from tbgdata.check import check_trajectory_file
from tbgdata.h5util import read_fixed_string
from tbgdata.peptide import build_peptide, ca_chirality, heavy_atom_pdb, peptide_omegas
from tbgdata.prepare import prepare_peptide

SCRIPT = os.path.join(TOOLS, "prepare_peptide.py")
AD2_MODEL = os.path.join(ROOT, "Configs", "models", "ad2.h5")
AD_PRESET = "amber99sbildn-obc2"
QUIET = dict(log=lambda msg: None, command="pytest")


# ----------------------------------------------------------------------------- helpers
@pytest.fixture(scope="module")
def ad_pdb(tmp_path_factory):
    """A public heavy-atom PDB of alanine dipeptide (ACE-ALA-NME): pdbfixer's own test file. Should a
    pdbfixer release stop shipping it, the generator's heavy-atom build of ACE-A-NME stands in."""
    import pdbfixer
    path = os.path.join(os.path.dirname(pdbfixer.__file__), "tests", "data", "alanine-dipeptide.pdb")
    if os.path.exists(path):
        return path
    path = tmp_path_factory.mktemp("pdb") / "alanine-dipeptide.pdb"
    path.write_text(heavy_atom_pdb("A", "capped", "amber"))
    return str(path)


def atom_lines(path):
    return [ln for ln in open(path).read().splitlines() if ln.startswith(("ATOM", "HETATM"))]


def write_pdb(path, lines):
    path.write_text("\n".join(lines + ["END"]) + "\n")
    return str(path)


def with_field(line, start, end, text):
    """``line`` with columns [start, end) replaced by ``text`` (right-aligned)."""
    return line[:start] + text.rjust(end - start)[: end - start] + line[end:]


def element(line):
    return line[76:78].strip()


def run_cli(*args):
    return subprocess.run([sys.executable, SCRIPT, *map(str, args)], capture_output=True, text=True, timeout=300)


def metadata(path):
    with h5py.File(path, "r") as h:
        return json.loads(read_fixed_string(h["metadata"]))


def atom_names(path):
    return [(a.residue.name, a.name) for a in mdtraj.load(path).topology.atoms]


def openmm_energy(path, preset_files, **kwargs):
    """Energy of the file's frame from a System built afresh from the force-field XML files and the
    file's topology (not from the stored System), on the Reference platform."""
    traj = mdtraj.load(path)
    system = app.ForceField(*preset_files).createSystem(traj.topology.to_openmm(), constraints=None, **kwargs)
    context = openmm.Context(system, openmm.VerletIntegrator(1e-3), openmm.Platform.getPlatformByName("Reference"))
    context.setPositions(traj.xyz[0].astype(np.float64))
    return context.getState(getEnergy=True).getPotentialEnergy().value_in_unit(u.kilojoule_per_mole)


@pytest.fixture(scope="module")
def prepared_ad(tmp_path_factory, ad_pdb):
    out = tmp_path_factory.mktemp("ad") / "AD.h5"
    prepare_peptide(str(out), preset=AD_PRESET, pdb=ad_pdb, atom_order="amber", name="AD", **QUIET)
    return str(out)


# ----------------------------------------------------------------------------- sequences
@pytest.mark.parametrize("seq,termini,preset,order,n_atoms", [
    ("A", "capped", AD_PRESET, "amber", 22),
    ("KS", "zwitterion", "amber14-obc1", "openmm", 36),
])
def test_sequence_gives_one_minimised_frame_in_the_trajectory_format(tmp_path, seq, termini, preset, order, n_atoms):
    out = tmp_path / f"{seq}.h5"
    summary = prepare_peptide(str(out), preset=preset, sequence=seq, termini=termini, atom_order=order, seed=4, **QUIET)
    meta = check_trajectory_file(str(out))   # the full FORMAT.md contract, Reference energies recomputed
    assert meta["n_frames"] == 1 and meta["n_atoms"] == n_atoms == summary["n_atoms"]
    assert (meta["sequence"], meta["termini"], meta["preset"], meta["atom_order"]) == (seq, termini, preset, order)
    assert meta["source"] == "prepare_peptide" and meta["source_pdb"] is None
    assert meta["equilibration_ps"] == meta["production_ps"] == 0 and meta["platform"] == "Reference"
    with h5py.File(out, "r") as h:
        assert meta["minimized_energy_kj_mol"] == h["reference_energies/total"][0] == summary["energy_kj_mol"]
        assert h["potentialEnergy"][0] == np.float32(meta["minimized_energy_kj_mol"])
        assert h["coordinates"].attrs["units"] == b"nanometers"
    # The generator's build: same atoms in the same order.
    built = build_peptide(seq, termini, order, seed=4)
    assert atom_names(str(out)) == [(a.residue.name, a.name) for a in built.topology.atoms()]
    traj = mdtraj.load(str(out))
    top = traj.topology.to_openmm()
    assert all(abs(om) > 150 for _, om in peptide_omegas(top, traj.xyz[0]))
    assert all(v > 0 for _, v in ca_chirality(top, traj.xyz[0]))


def test_sequence_errors_exit_2_and_write_nothing(tmp_path):
    out = tmp_path / "x.h5"
    r = run_cli("--seq", "AX", "--preset", AD_PRESET, "--out", out)
    assert r.returncode == 2 and "unknown residue letter 'X' in sequence 'AX'" in r.stderr
    r = run_cli("--seq", "A", "--termini", "zwitterion", "--preset", AD_PRESET, "--out", out)
    assert r.returncode == 2 and "sequence 'A'" in r.stderr and "not a peptide" in r.stderr
    assert os.listdir(tmp_path) == []


def test_peptide_that_is_not_a_dipeptide_gets_a_warning(tmp_path):
    messages = []
    prepare_peptide(str(tmp_path / "GGG.h5"), preset="amber14-obc1", sequence="GGG", termini="zwitterion",
                    log=messages.append, command="pytest")
    assert any(m.startswith("warning:") and "dipeptide models" in m and "'GGG'" in m for m in messages)


def test_existing_out_needs_force(tmp_path):
    out = tmp_path / "AD.h5"
    out.write_bytes(b"previous")
    args = dict(preset=AD_PRESET, sequence="A", termini="capped", **QUIET)
    with pytest.raises(ValueError, match="exists already and is not replaced"):
        prepare_peptide(str(out), **args)
    assert out.read_bytes() == b"previous"
    prepare_peptide(str(out), force=True, **args)
    assert metadata(out)["source"] == "prepare_peptide"
    assert sorted(os.listdir(tmp_path)) == ["AD.h5"]


# ----------------------------------------------------------------------------- PDB files
def test_pdb_of_alanine_dipeptide_matches_the_generators_ad(prepared_ad, ad_pdb):
    meta = check_trajectory_file(prepared_ad)
    assert (meta["sequence"], meta["termini"], meta["name"]) == ("A", "capped", "AD")
    assert meta["source_pdb"] == os.path.abspath(ad_pdb)
    built = build_peptide("A", "capped", "amber", seed=0)
    assert atom_names(prepared_ad) == [(a.residue.name, a.name) for a in built.topology.atoms()]


def test_pdb_hydrogens_are_replaced_and_missing_atoms_added(tmp_path):
    """A full PDB of KS, the same without hydrogens (identical result: hydrogens are always added
    again), and without hydrogens, Lys NZ and OXT (pdbfixer adds them): all give the atoms of the
    sequence build, in the same order."""
    seq_file = tmp_path / "KS.h5"
    prepare_peptide(str(seq_file), preset=AD_PRESET, sequence="KS", termini="zwitterion", **QUIET)
    traj = mdtraj.load(str(seq_file))
    full = tmp_path / "KS-full.pdb"
    with open(full, "w") as fh:
        app.PDBFile.writeFile(traj.topology.to_openmm(), traj.xyz[0] * u.nanometer, fh)
    lines = atom_lines(full)
    no_h = write_pdb(tmp_path / "KS-noH.pdb", [ln for ln in lines if element(ln) != "H"])
    no_nz = write_pdb(tmp_path / "KS-noNZ.pdb", [ln for ln in lines if element(ln) != "H"
                                                 and ln[12:16].strip() not in ("NZ", "OXT")])
    results = {}
    for label, pdb in (("full", full), ("noH", no_h), ("noNZ", no_nz)):
        out = tmp_path / f"from-{label}.h5"
        messages = []
        prepare_peptide(str(out), preset=AD_PRESET, pdb=str(pdb), log=messages.append, command="pytest")
        assert check_trajectory_file(str(out))["termini"] == "zwitterion"
        assert atom_names(str(out)) == atom_names(str(seq_file))
        results[label] = (mdtraj.load(str(out)).xyz[0], metadata(out)["minimized_energy_kj_mol"], messages)
    assert np.array_equal(results["full"][0], results["noH"][0])
    assert any("hydrogens are replaced" in m for m in results["full"][2])
    assert any("adding missing atoms NZ" in m for m in results["noNZ"][2])
    assert np.isfinite(results["noNZ"][1])


def test_histidine_from_pdb_becomes_hie(tmp_path, ad_pdb):
    """ALA renamed HID: pdbfixer builds the ring, and the protonation is HIE as in the generator."""
    lines = [with_field(ln, 17, 20, "HID") if ln[17:20] == "ALA" else ln for ln in atom_lines(ad_pdb)]
    out = tmp_path / "AH.h5"
    prepare_peptide(str(out), preset=AD_PRESET, pdb=write_pdb(tmp_path / "ah.pdb", lines), **QUIET)
    his = [name for res, name in atom_names(str(out)) if res == "HIS"]
    assert "HE2" in his and "HD1" not in his and "NE2" in his
    assert metadata(out)["sequence"] == "H"


def _mirrored(line):
    x = float(line[30:38])
    return with_field(line, 30, 38, f"{-x:8.3f}")


PDB_ERRORS = {
    # case: (edit of the AD PDB's atom lines, words the message must contain)
    "non-standard residue MSE": (lambda ls: [with_field(ln, 17, 20, "MSE") if ln[17:20] == "ALA" else ln for ln in ls],
                                 ["residue MSE 2 (chain A)", "20 standard amino acids"]),
    "HETATM ligand": (lambda ls: ls + ["HETATM   11 ZN    ZN A   4       9.000   9.000   9.000  1.00  0.00          ZN"],
                      ["residue ZN 4 (chain A)"]),
    "D-amino acid": (lambda ls: [_mirrored(ln) for ln in ls], ["ALA 2 (chain A)", "D-amino acid"]),
    "two chains": (lambda ls: ls + [with_field(with_field(ln, 21, 22, "B"), 46, 54, f"{float(ln[46:54]) + 20:8.3f}")
                                    for ln in ls], ["2 chains", "'A', 'B'"]),
    "atoms pdbfixer cannot add": (lambda ls: [ln for ln in ls if ln[17:20] != "ALA" or ln[12:16].strip() == "CA"],
                                  ["ALA 2 (chain A)", "lacks atoms", "only 1 heavy atom"]),
    "one cap": (lambda ls: [ln for ln in ls if ln[17:20] != "NME"], ["one cap only"]),
}


@pytest.mark.parametrize("case", sorted(PDB_ERRORS))
def test_pdb_that_cannot_be_prepared_is_refused_naming_it(tmp_path, ad_pdb, case):
    edit, words = PDB_ERRORS[case]
    pdb = write_pdb(tmp_path / "in.pdb", edit(atom_lines(ad_pdb)))
    out = tmp_path / "out.h5"
    r = run_cli("--pdb", pdb, "--preset", AD_PRESET, "--out", out) if case == "D-amino acid" else None
    if r is not None:   # one case through the command line: exit status 2, message on stderr
        assert r.returncode == 2 and r.stderr.startswith("error: ") and pdb in r.stderr
        message = r.stderr
    else:
        with pytest.raises(ValueError) as exc:
            prepare_peptide(str(out), preset=AD_PRESET, pdb=pdb, **QUIET)
        message = str(exc.value)
        assert pdb in message
    for word in words:
        assert word in message, message
    assert sorted(os.listdir(tmp_path)) == ["in.pdb"]


def test_out_never_overwrites_the_input(tmp_path, ad_pdb):
    pdb = tmp_path / "ad.pdb"
    pdb.write_text(open(ad_pdb).read())
    before = pdb.read_bytes()
    r = run_cli("--pdb", pdb, "--preset", AD_PRESET, "--out", pdb, "--force")
    assert r.returncode == 2 and "would overwrite the input" in r.stderr
    os.symlink(pdb, tmp_path / "link.h5")
    with pytest.raises(ValueError, match="would overwrite the input"):
        prepare_peptide(str(tmp_path / "." / "link.h5"), preset=AD_PRESET, pdb=str(pdb), force=True, **QUIET)
    # Nor through the temporary file next to --out (x.h5 is written as x.part.h5).
    part = tmp_path / "ad.part.h5"
    part.write_bytes(before)
    with pytest.raises(ValueError, match="would overwrite the input"):
        prepare_peptide(str(tmp_path / "ad.h5"), preset=AD_PRESET, pdb=str(part), **QUIET)
    assert pdb.read_bytes() == before == part.read_bytes()
    assert sorted(os.listdir(tmp_path)) == ["ad.part.h5", "ad.pdb", "link.h5"]


# ----------------------------------------------------------------------------- energy and sampling
def test_energy_equals_openmm_for_the_same_structure_and_force_field(prepared_ad):
    """The written frame's energy from a System built afresh from the preset's XML files equals the
    stored Reference energies and the metadata (the float32 frame is what was evaluated)."""
    expected = openmm_energy(prepared_ad, ("amber99sbildn.xml", "amber99_obc.xml"), nonbondedMethod=app.NoCutoff)
    meta = metadata(prepared_ad)
    with h5py.File(prepared_ad, "r") as h:
        total = h["reference_energies/total"][0]
        potential = float(h["potentialEnergy"][0])
    assert meta["minimized_energy_kj_mol"] == pytest.approx(expected, rel=1e-9)
    assert total == pytest.approx(expected, rel=1e-9)
    assert potential == pytest.approx(expected, rel=1e-6)


def test_tbg_energy_equals_openmm(prepared_ad, tmp_path_factory):
    tbg = private_tbg(tmp_path_factory)
    expected = openmm_energy(prepared_ad, ("amber99sbildn.xml", "amber99_obc.xml"), nonbondedMethod=app.NoCutoff)
    r = subprocess.run([tbg, "energy", prepared_ad, "--json"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    rows = [json.loads(line) for line in r.stdout.splitlines() if line.strip()]
    assert len(rows) == 1 and rows[0]["total_kj_mol"] == pytest.approx(expected, rel=1e-6)
    r = subprocess.run([tbg, "inspect", prepared_ad], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    # inspect says what the file is: one minimised frame from this PDB, not an MD ensemble
    assert "prepared by Tools/prepare_peptide.py from PDB" in r.stdout and "no MD" in r.stdout, r.stdout
    r = subprocess.run([tbg, "inspect", "--json", prepared_ad], capture_output=True, text=True, timeout=120)
    prepared = json.loads(r.stdout)["prepared"]
    assert prepared["source_pdb"].endswith(".pdb")
    assert prepared["minimized_energy_kj_mol"] == pytest.approx(metadata(prepared_ad)["minimized_energy_kj_mol"])


def test_ad2_model_samples_the_prepared_pdb(prepared_ad, tmp_path_factory, tmp_path):
    if not os.path.exists(BUILT_TBG):
        pytest.skip(f"{BUILT_TBG} is not built (swift build -c release)")
    tbg = private_tbg(tmp_path_factory)
    out = tmp_path / "samples.h5"
    r = subprocess.run([tbg, "sample", "--checkpoint", AD2_MODEL, "--peptide", prepared_ad, "--count", "2",
                        "--method", "rk4", "--steps", "4", "--mpi", "off", "--out", str(out)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    traj = mdtraj.load(str(out))
    assert traj.n_frames == 2 and traj.n_atoms == 22
