"""Inputs real users bring (issue 16), checked against MDTraj and OpenMM.

Variants of the committed alanine-dipeptide fixture written here with h5py, as other tools write
them: coordinates in angstroms and energies in kcal/mol (with MDTraj's `units` attribute), NaN/inf
coordinates, and the OpenMM System of the same peptide built in the other atom order (`openmm`
instead of `amber`). `tbg energy` on the angstrom file must equal OpenMM's Reference energy of the
coordinates mdtraj.load reads from it; `tbg inspect` reports energies in kJ/mol as mdtraj/h5py
convert them; everything tbg cannot use is an error naming the file (frame, atom), exit status 1.
Uses a private copy of the release build; skipped with a reason when it is not built.
"""
import json
import shutil
import subprocess

import h5py
import mdtraj
import numpy as np
import openmm
import pytest
from openmm import unit

from conftest import AD2_FIXTURE as FIXTURE, private_tbg
from tbgdata.durable import durable_replace
from tbgdata.peptide import build_peptide
from tbgdata.presets import get_preset

KCAL = 4.184


@pytest.fixture(scope="module")
def tbg(tmp_path_factory):
    return private_tbg(tmp_path_factory)


def copy_fixture(path):
    shutil.copy(FIXTURE, path)
    return str(path)


def replace(f, name, data, units):
    del f[name]
    f.create_dataset(name, data=data)
    f[name].attrs["units"] = units


def run(tbg, *arguments):
    return subprocess.run([tbg, *map(str, arguments)], capture_output=True, text=True)


def openmm_energies(system_xml, xyz_nm):
    system = openmm.XmlSerializer.deserialize(system_xml)
    context = openmm.Context(system, openmm.VerletIntegrator(0.001), openmm.Platform.getPlatformByName("Reference"))
    energies = []
    for frame in xyz_nm.astype(np.float64):
        context.setPositions(frame)
        energies.append(context.getState(getEnergy=True).getPotentialEnergy().value_in_unit(unit.kilojoule_per_mole))
    return np.array(energies)


@pytest.fixture(scope="module")
def angstrom_file(tmp_path_factory):
    path = copy_fixture(tmp_path_factory.mktemp("units") / "AD-angstrom-kcal.h5")
    with h5py.File(path, "r+") as f:
        replace(f, "coordinates", f["coordinates"][:] * np.float32(10), "angstroms")
        replace(f, "potentialEnergy", (f["potentialEnergy"][:] / KCAL).astype(np.float32), "kilocalories_per_mole")
    return path


def test_angstrom_kcal_file_gives_openmm_energies_of_what_mdtraj_reads(tbg, angstrom_file):
    traj = mdtraj.load(angstrom_file)
    np.testing.assert_allclose(traj.xyz, mdtraj.load(FIXTURE).xyz, rtol=1e-6, atol=1e-7)
    with h5py.File(FIXTURE) as f:
        system_xml = f["openmm_system"][0].decode()
    expected = openmm_energies(system_xml, traj.xyz)
    result = run(tbg, "energy", angstrom_file, "--json")
    assert result.returncode == 0, result.stderr
    totals = np.array([json.loads(line)["total_kj_mol"] for line in result.stdout.splitlines()])
    np.testing.assert_allclose(totals, expected, rtol=1e-7, atol=1e-5)
    # The case gave 4.1e6 kJ/mol here: the energies are peptide-sized.
    assert np.all(np.abs(totals) < 500)


def test_inspect_reports_kilojoules_and_nanometres(tbg, angstrom_file):
    result = run(tbg, "inspect", "--json", angstrom_file)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    with h5py.File(angstrom_file) as f:
        kj = f["potentialEnergy"][:].astype(np.float64) * KCAL
    np.testing.assert_allclose(report["potential_energy_range_kj_mol"], [kj.min(), kj.max()], rtol=1e-6)
    xyz = mdtraj.load(angstrom_file).xyz
    diagonal = np.linalg.norm(xyz.max(axis=1) - xyz.min(axis=1), axis=1).max()
    assert report["max_box_diagonal_nm"] == pytest.approx(diagonal, rel=1e-5)


@pytest.mark.parametrize("dataset,units", [("coordinates", "bohr"), ("coordinates", "picoseconds"),
                                           ("time", "femtoseconds"), ("potentialEnergy", "hartree")])
def test_units_tbg_does_not_convert_are_refused_by_name(tbg, tmp_path, dataset, units):
    path = copy_fixture(tmp_path / "odd-units.h5")
    with h5py.File(path, "r+") as f:
        f[dataset].attrs["units"] = units
    for command in (["inspect", path], ["energy", path]):
        result = run(tbg, *command)
        assert result.returncode == 1, result.stdout
        assert f"{path}: /{dataset} has units '{units}'" in result.stderr


@pytest.mark.parametrize("frame,atom,value", [(0, 0, np.nan), (11, 7, np.inf), (19, 21, -np.inf)])
def test_non_finite_coordinates_are_named(tbg, tmp_path, frame, atom, value):
    path = copy_fixture(tmp_path / "non-finite.h5")
    with h5py.File(path, "r+") as f:
        xyz = f["coordinates"][:]
        xyz[frame, atom, 2] = value
        f["coordinates"][:] = xyz
    name = list(mdtraj.load_topology(FIXTURE).atoms)[atom].name
    for command in (["energy", path], ["inspect", path], ["bench", "energy", path, "--frames", "20", "--repeats", "1"]):
        result = run(tbg, *command)
        assert result.returncode == 1, command
        assert f"{path}: /coordinates of frame {frame}, atom {atom} ({name}) is" in result.stderr, result.stderr


def test_system_built_in_the_other_atom_order_is_refused(tbg, tmp_path):
    """The issue's case: the same 22 particles, serialized by OpenMM for the `openmm` atom order."""
    preset = get_preset("amber99sbildn-obc2")
    peptide = build_peptide("A", "capped", "openmm", forcefield=preset.forcefield(), seed=0)
    system = preset.create_system(peptide.topology)
    assert system.getNumParticles() == 22
    path = copy_fixture(tmp_path / "reordered-system.h5")
    with h5py.File(path, "r+") as f:
        del f["openmm_system"]
        xml = openmm.XmlSerializer.serialize(system).encode()
        f.create_dataset("openmm_system", data=np.array([xml], dtype=f"S{len(xml)}"))
    amber = [a.element.symbol for a in mdtraj.load_topology(FIXTURE).atoms]
    masses = [system.getParticleMass(i).value_in_unit(unit.dalton) for i in range(22)]
    first = next(i for i, m in enumerate(masses) if abs(m - {"H": 1.008, "C": 12.011, "N": 14.007, "O": 15.999}[amber[i]]) > 0.5)
    for command in (["inspect", path], ["energy", path]):
        result = run(tbg, *command)
        assert result.returncode == 1, result.stdout
        assert f"{path}: particle {first} of /openmm_system (atom {first}," in result.stderr, result.stderr
        assert "same order" in result.stderr


def test_durable_replace_moves_the_whole_file_and_keeps_the_old_one_on_failure(tmp_path):
    final, tmp = tmp_path / "index.json", tmp_path / "index.json.tmp"
    final.write_text("old")
    tmp.write_text("new, complete")
    durable_replace(str(tmp), str(final))
    assert final.read_text() == "new, complete" and not tmp.exists()
    with pytest.raises(FileNotFoundError):
        durable_replace(str(tmp_path / "absent.tmp"), str(final))
    assert final.read_text() == "new, complete"
