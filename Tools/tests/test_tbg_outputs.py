"""Files written by the Swift program are read by the tools users analyse them with (mdtraj, h5py).

Trains a tiny model on the committed alanine-dipeptide fixture with `tbg train`, samples it with
`tbg sample`, and loads the result with mdtraj. Needs the release build (Tools/run_tests.sh builds
it first); skipped with a reason when the binary is missing.
"""
import json
import subprocess

import h5py
import mdtraj
import numpy as np
import openmm
import openmm.unit
import pytest

from conftest import AD2_FIXTURE as FIXTURE, make_ad2_dataset, private_tbg


def test_sample_output_loads_in_mdtraj(tmp_path, tmp_path_factory):
    TBG = private_tbg(tmp_path_factory)
    dataset = make_ad2_dataset(tmp_path / "dataset")
    checkpoint = tmp_path / "model.h5"
    overrides = ["model.hidden=8", "model.layers=2", f"data.dataset={dataset}", "data.frames_per_peptide=4",
                 "data.window_frames=4", "data.shuffle_windows=2", "data.validation_frames=3", "training.steps=10",
                 f"training.checkpoint={checkpoint}"]
    subprocess.run([TBG, "train"] + [a for o in overrides for a in ("--set", o)], check=True, capture_output=True)
    out = tmp_path / "samples.h5"
    result = subprocess.run([TBG, "sample", "--checkpoint", str(checkpoint), "--peptide", FIXTURE, "--count", "4",
                             "--method", "rk4", "--steps", "3", "--out", str(out)], check=True, capture_output=True, text=True)
    assert "4 samples" in result.stdout

    traj = mdtraj.load(str(out))
    reference = mdtraj.load(FIXTURE)
    assert traj.n_frames == 4
    assert traj.n_atoms == 22
    assert [a.name for a in traj.topology.atoms] == [a.name for a in reference.topology.atoms]
    assert np.all(np.isfinite(traj.xyz))

    with h5py.File(out, "r") as f:
        samples = f["samples"]
        for name in ["index", "latent_log_prior", "delta_log_det", "log_q", "energy_kj_mol", "energy_kT",
                     "log_weight", "topology_ok", "chirality_ok", "chirality_fixed"]:
            assert samples[name].shape == (4,), name
        np.testing.assert_allclose(samples["log_q"][:], samples["latent_log_prior"][:] - samples["delta_log_det"][:])
        config = json.loads(samples.attrs["config"])
        assert config["model"]["hidden"] == 8
        assert list(samples["index"][:]) == [0, 1, 2, 3]

        # The energy and log weight of every sample, valid or not (the clipped SNIS protocol), agree
        # with OpenMM on the written coordinates (float32 in the file, float64 in tbg).
        kT = samples.attrs["kT_kJ_per_mol"]
        raw = samples["raw_energy"][:]
        assert samples["raw_energy"].attrs["units"] in (b"kilojoules_per_mole", "kilojoules_per_mole")
        np.testing.assert_allclose(samples["raw_log_weight"][:], -raw / kT - samples["log_q"][:], rtol=1e-12)
        valid = (samples["topology_ok"][:] == 1) & (samples["chirality_ok"][:] == 1)
        np.testing.assert_array_equal(raw[valid], samples["energy_kj_mol"][:][valid])
        assert samples.attrs["energy_evaluations"] == 4   # one per finished integration
        system = openmm.XmlSerializer.deserialize(f["openmm_system"][0].decode())
        context = openmm.Context(system, openmm.VerletIntegrator(0.001), openmm.Platform.getPlatformByName("Reference"))
        for k in range(4):
            context.setPositions(f["coordinates"][k].astype(np.float64))
            expected = context.getState(getEnergy=True).getPotentialEnergy().value_in_unit(openmm.unit.kilojoule_per_mole)
            assert raw[k] == pytest.approx(expected, rel=1e-4, abs=1e-2), k
