#!/usr/bin/env python3
"""Prepare a peptide for zero-shot sampling, without MD: one minimised frame in the project's
trajectory format (Tools/FORMAT.md), the --peptide input of `tbg sample` (and of `tbg inspect`,
`tbg energy`, mdtraj.load).

  From a sequence (built as Tools/generate_trajectory.py builds it):
    python Tools/prepare_peptide.py --seq KS --termini zwitterion --preset amber14-obc1 --out data/KS-prep.h5
  From a PDB or PDBx/mmCIF file (termini from the file: ACE/NME caps -> capped, else zwitterion;
  pdbfixer adds missing heavy atoms; hydrogens are added again at --ph with HIS as HIE):
    python Tools/prepare_peptide.py --pdb ad.pdb --preset amber99sbildn-obc2 --atom-order amber \\
        --name AD --out data/AD-prep.h5

--atom-order amber is the order of the shipped AD2 model (Configs/models/ad2.h5), whose 'atoms'
encoding refuses any other. The structure is minimised with the preset's force field to the
generator's tolerance (1 kJ/mol/nm) on the Reference platform; the file holds that one frame, its
Reference energies, and metadata with source = "prepare_peptide". The output is written
atomically and durably; an existing --out is replaced only with --overwrite, the input never.

Exit status 2 with a message naming the file, residue or atom for input that cannot be prepared:
non-standard residues (MSE, ligands, water), D-amino acids, more than one chain, atoms pdbfixer
cannot add, letters that are not the 20 amino acids, fewer than 2 residues. Peptides other than
the dipeptide shapes of the shipped models get a warning.
"""
import argparse
import os
import shlex
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from tbgdata.peptide import BUILD_PH  # noqa: E402
from tbgdata.prepare import prepare_peptide  # noqa: E402
from tbgdata.presets import PRESETS  # noqa: E402


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    source = ap.add_mutually_exclusive_group(required=True)
    source.add_argument("--seq", help="one-letter sequence, e.g. A (with --termini capped) or KS")
    source.add_argument("--pdb", help="PDB or PDBx/mmCIF file of one peptide chain")
    ap.add_argument("--termini", choices=["capped", "zwitterion"], default=None,
                    help="with --seq (default zwitterion); a --pdb file gives its own")
    ap.add_argument("--preset", choices=sorted(PRESETS), required=True, help="force field (Tools/tbgdata/presets.py)")
    ap.add_argument("--atom-order", choices=["openmm", "amber"], default="openmm",
                    help="openmm (2AA/Timewarp order, default) or amber (tleap order of the AD2 model)")
    ap.add_argument("--name", default=None, help="peptide name stored in metadata and title (default: the sequence)")
    ap.add_argument("--seed", type=int, default=1, help="seeds the hydrogen placement and pdbfixer (default 1)")
    ap.add_argument("--ph", type=float, default=BUILD_PH, help=f"pH of the protonation states (default {BUILD_PH:g})")
    ap.add_argument("--out", required=True, help="output .h5 file (written atomically)")
    ap.add_argument("--overwrite", "--force", dest="force", action="store_true",
                    help="replace an existing --out (without it an existing file is refused; --force is the old name)")
    a = ap.parse_args(argv)
    if a.pdb is not None and a.termini is not None:
        ap.error("--termini goes with --seq; a --pdb file's termini come from its caps")
    return a


def main(argv=None):
    a = parse_args(argv)
    command = shlex.join([os.path.basename(sys.argv[0])] + (sys.argv[1:] if argv is None else list(argv)))
    try:
        s = prepare_peptide(a.out, preset=a.preset, sequence=a.seq, termini=a.termini or "zwitterion",
                            pdb=a.pdb, atom_order=a.atom_order, seed=a.seed, pH=a.ph, name=a.name,
                            force=a.force, command=command)
    except (ValueError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {s['file']}: {s['name']} ({s['sequence']}, {s['termini']}), {s['n_atoms']} atoms, "
          f"minimised energy {s['energy_kj_mol']:.4f} kJ/mol")
    return 0


if __name__ == "__main__":
    sys.exit(main())
