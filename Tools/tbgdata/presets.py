"""The two simulation presets of the project (data.md §0 and §3).

* ``amber99sbildn-obc2`` reproduces TBG's AD2 data (bgmol ``AImplicitUnconstrained``):
  ff99SB-ILDN + GBSAOBCForce (OBC2), NoCutoff, 300 K, LangevinMiddle 1/ps, 1 fs.
  Default platform Reference: for GBSAOBCForce at ~22 atoms it is ~5x faster than CPU (data.md §4).
* ``amber14-obc1`` reproduces the Timewarp / TBG 2AA data: ff14SB + OBC1 as a CustomGBForce,
  CutoffNonPeriodic 2 nm, 310 K, LangevinMiddle 0.3/ps, 1 fs (Timewarp used 0.5 fs; pass
  ``timestep_fs=0.5`` for an exact replica). Default platform CPU with Threads=1: CustomGBForce
  is 3-4.5x slower on Reference, and Threads=2 never helps at this size (data.md §4, §9.8).

Both presets are unconstrained (``constraints=None``): a Boltzmann generator models all 3N
Cartesian coordinates including X-H bonds (data.md §3 "No constraints"). ``removeCMMotion=True``.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import openmm
import openmm.app as app
import openmm.unit as unit


@dataclass(frozen=True)
class Preset:
    name: str
    forcefield_files: tuple
    nonbonded_method: str  # "NoCutoff" | "CutoffNonPeriodic"
    nonbonded_cutoff_nm: float | None
    temperature_K: float
    friction_per_ps: float
    timestep_fs: float
    default_platform: str
    default_threads: int | None = None
    description: str = ""

    def forcefield(self) -> app.ForceField:
        return app.ForceField(*self.forcefield_files)

    def create_system(self, topology: app.Topology, forcefield: app.ForceField | None = None) -> openmm.System:
        ff = forcefield or self.forcefield()
        kwargs = dict(
            nonbondedMethod=getattr(app, self.nonbonded_method),
            constraints=None,
            rigidWater=False,
            removeCMMotion=True,
        )
        if self.nonbonded_cutoff_nm is not None:
            kwargs["nonbondedCutoff"] = self.nonbonded_cutoff_nm * unit.nanometer
        return ff.createSystem(topology, **kwargs)

    def integrator(self, seed: int, timestep_fs: float | None = None) -> openmm.LangevinMiddleIntegrator:
        dt = self.timestep_fs if timestep_fs is None else timestep_fs
        integ = openmm.LangevinMiddleIntegrator(
            self.temperature_K * unit.kelvin,
            self.friction_per_ps / unit.picosecond,
            dt * unit.femtosecond,
        )
        integ.setRandomNumberSeed(openmm_seed(seed))
        return integ


def openmm_seed(seed: int) -> int:
    """Map a user seed to a valid, *nonzero* OpenMM seed.

    OpenMM treats a random-number seed of 0 as "pick one at random", which would silently make
    runs irreproducible; we therefore map every integer to 1..2^31-1.
    """
    return int(seed) % (2**31 - 1) + 1


PRESETS = {
    "amber99sbildn-obc2": Preset(
        name="amber99sbildn-obc2",
        forcefield_files=("amber99sbildn.xml", "amber99_obc.xml"),
        nonbonded_method="NoCutoff",
        nonbonded_cutoff_nm=None,
        temperature_K=300.0,
        friction_per_ps=1.0,
        timestep_fs=1.0,
        default_platform="Reference",
        default_threads=None,
        description="TBG AD2 (bgmol AImplicitUnconstrained): ff99SB-ILDN + GBSAOBCForce OBC2",
    ),
    "amber14-obc1": Preset(
        name="amber14-obc1",
        forcefield_files=("amber14-all.xml", "implicit/obc1.xml"),
        nonbonded_method="CutoffNonPeriodic",
        nonbonded_cutoff_nm=2.0,
        temperature_K=310.0,
        friction_per_ps=0.3,
        timestep_fs=1.0,
        default_platform="CPU",
        default_threads=1,
        description="Timewarp/TBG 2AA: ff14SB + CustomGBForce OBC1, cutoff 2 nm",
    ),
}


def get_preset(name: str) -> Preset:
    try:
        return PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown preset {name!r}; choose one of {sorted(PRESETS)}") from None


def make_platform(name: str, threads: int | None = None):
    """Return ``(platform, properties, threads_used)`` for an OpenMM platform name.

    Only Reference and CPU are installed here (data.md §1). For CPU we always pin ``Threads``
    (default 1) because the platform default (all cores) is slower and disturbs parallel runs.
    """
    try:
        platform = openmm.Platform.getPlatformByName(name)
    except Exception:
        avail = [openmm.Platform.getPlatform(i).getName() for i in range(openmm.Platform.getNumPlatforms())]
        raise ValueError(f"unknown OpenMM platform {name!r}; available: {avail}") from None
    props = {}
    used = 1
    if name == "CPU":
        used = int(threads or 1)
        props["Threads"] = str(used)
    return platform, props, used
