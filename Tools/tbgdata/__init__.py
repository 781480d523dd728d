"""Data-generation tools for the Transferable Boltzmann Generators reference implementation.

The protocol implemented here is the one measured and decided in
the design note ``data.md`` (referred to as "data.md §N" in comments):

* :mod:`tbgdata.peptide`  -- sequence -> capped / zwitterionic peptide (data.md §2)
* :mod:`tbgdata.presets`  -- the two force-field/integrator presets (data.md §0, §3)
* :mod:`tbgdata.md`       -- one peptide -> one MDTraj-HDF5 trajectory file (data.md §5, Tools/FORMAT.md)
* :mod:`tbgdata.dataset`  -- many peptides -> dataset folder with ``index.json`` (data.md §7)
"""

FORMAT_NAME = "tbg-trajectory"
FORMAT_VERSION = 1
DATASET_FORMAT_NAME = "tbg-dataset"
DATASET_FORMAT_VERSION = 1

# Gas constant in kJ/mol/K (CODATA 2018, the value OpenMM uses); kT = R * T (data.md §6.4).
GAS_CONSTANT_KJ_PER_MOL_K = 0.00831446261815324
