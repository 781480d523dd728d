"""Independent PyTorch reference of the TBG vector field (fixtures and baselines only).

Written from the design note ``method.md`` (shared design folder) §2.2-§2.6, §3, §4, §5.1, §6, §7.3.
It is the yardstick for the Swift implementation; it is NOT a dependency of the Swift test suite.

Contract with the Swift side (fixed by the project brief, which wins over method.md where they differ):

* Parameter names mirror the original TBG modules: ``embedding.{weight,bias}`` and, per layer l,
  ``gcl_{l}.edge_mlp.{0,2}``, ``gcl_{l}.att_mlp.0``, ``gcl_{l}.coord_mlp.0``, ``gcl_{l}.coord_mlp.2``
  (no bias), ``gcl_{l}.node_mlp.{0,2}``. PyTorch Linear weights are (out, in). The unused
  ``embedding_out`` of the original is not part of this model (its output is discarded there).
* Unpadded batches: molecules of different sizes N_m are concatenated along the atom axis; the
  graph of each molecule is all ordered pairs (i, j), i != j (N(N-1) edges), i = receiver (row).
* Node input = [one-hot c (K) ‖ t] (t last, one scalar per molecule).

Order of operations of one E_GCL layer (method.md §4.2), for every edge (i, j):
    r_ij = |x_i - x_j|^2 (current x),  d2_ij = |x0_i - x0_j|^2 (network input, fixed)
    u_ij = (x_i - x_j) / (sqrt(r_ij + 1e-8) + 1)
    m = SiLU(W2 SiLU(W1 [h_i ‖ h_j ‖ r_ij ‖ d2_ij] + b1) + b2);  m <- m * sigmoid(w_a m + b_a)
    s = tanh(w_c . SiLU(W_c m + b_c))
    x_i <- x_i + rho * sum_j u_ij s_ij              (rho = coords_range / L, pre-update x)
    h_i <- h_i + W4 SiLU(W3 [h_i ‖ sum_j m_ij] + b3) + b4   (pre-update h)
v = x^L - x^0, minus its per-molecule mean over atoms.
"""

from __future__ import annotations

import json
from typing import Iterable, Sequence

import torch
from torch import nn

__all__ = [
    "E_GCL", "EGNNField", "make_edges", "molecule_index", "remove_mean", "sample_mean_free",
    "flow_matching_loss", "divergence_exact", "divergence_bruteforce",
    "ELEMENT_CLASSES", "AMINO_ACIDS", "ATOM_NAME_VOCAB", "EncodingError",
    "canonical_atom_name", "atoms_from_topology", "encode_tbg", "encode_tbg_backbone",
    "encode_tbg_full_classes", "encode_tbg_full", "one_hot",
]


# ----------------------------------------------------------------------------------------------
# Graph helpers (unpadded, concatenated batch)
# ----------------------------------------------------------------------------------------------

def molecule_index(atom_counts: Sequence[int], device=None) -> torch.Tensor:
    """(ΣN,) int64: molecule id of every atom."""
    counts = torch.as_tensor(list(atom_counts), dtype=torch.long, device=device)
    return torch.repeat_interleave(torch.arange(len(counts), device=device), counts)


def make_edges(atom_counts: Sequence[int], device=None) -> tuple[torch.Tensor, torch.Tensor]:
    """All ordered pairs (i, j), i != j, inside each molecule; global atom indices.

    Order: molecule by molecule, row-major in (i, j) with the diagonal skipped. The order does not
    change the maths (only the summation order of the scatter-sums)."""
    rows, cols = [], []
    offset = 0
    for n in atom_counts:
        n = int(n)
        i = torch.arange(n, device=device).repeat_interleave(n)
        j = torch.arange(n, device=device).repeat(n)
        keep = i != j
        rows.append(i[keep] + offset)
        cols.append(j[keep] + offset)
        offset += n
    return torch.cat(rows), torch.cat(cols)


def remove_mean(x: torch.Tensor, mol: torch.Tensor, n_mol: int) -> torch.Tensor:
    """Subtract the per-molecule mean over atoms (unweighted). x: (ΣN, 3)."""
    sums = torch.zeros(n_mol, x.shape[1], dtype=x.dtype, device=x.device).index_add_(0, mol, x)
    counts = torch.bincount(mol, minlength=n_mol).to(x.dtype).unsqueeze(1)
    return x - (sums / counts)[mol]


def sample_mean_free(atom_counts: Sequence[int], dtype=torch.float64, generator=None) -> torch.Tensor:
    """Mean-free standard normal per molecule (method.md §6): draw on the real atoms, subtract mean."""
    total = int(sum(atom_counts))
    z = torch.randn(total, 3, dtype=dtype, generator=generator)
    mol = molecule_index(atom_counts)
    return remove_mean(z, mol, len(atom_counts))


# ----------------------------------------------------------------------------------------------
# Model
# ----------------------------------------------------------------------------------------------

class E_GCL(nn.Module):
    """One equivariant graph convolution layer (method.md §4.2)."""

    def __init__(self, hidden: int, coords_weight: float):
        super().__init__()
        self.coords_weight = coords_weight  # rho = coords_range / L
        self.edge_mlp = nn.Sequential(nn.Linear(2 * hidden + 2, hidden), nn.SiLU(),
                                      nn.Linear(hidden, hidden), nn.SiLU())
        self.att_mlp = nn.Sequential(nn.Linear(hidden, 1), nn.Sigmoid())
        last = nn.Linear(hidden, 1, bias=False)
        nn.init.xavier_uniform_(last.weight, gain=0.001)
        self.coord_mlp = nn.Sequential(nn.Linear(hidden, hidden), nn.SiLU(), last)
        self.node_mlp = nn.Sequential(nn.Linear(2 * hidden, hidden), nn.SiLU(),
                                      nn.Linear(hidden, hidden))

    def forward(self, h, x, d2, row, col):
        n_atoms = h.shape[0]
        diff = x[row] - x[col]                                   # (E, 3)
        radial = (diff * diff).sum(dim=1, keepdim=True)          # (E, 1) current x
        unit = diff / (torch.sqrt(radial + 1e-8) + 1.0)          # note the +1
        m = self.edge_mlp(torch.cat([h[row], h[col], radial, d2], dim=1))
        m = m * self.att_mlp(m)
        s = torch.tanh(self.coord_mlp(m))                        # (E, 1)
        trans = unit * s * self.coords_weight
        x_new = x + torch.zeros_like(x).index_add_(0, row, trans)
        agg = torch.zeros(n_atoms, m.shape[1], dtype=m.dtype, device=m.device).index_add_(0, row, m)
        h_new = h + self.node_mlp(torch.cat([h, agg], dim=1))
        return h_new, x_new


class EGNNField(nn.Module):
    """TBG EGNN vector field v(x, t | c) on unpadded, concatenated molecules."""

    def __init__(self, feature_width: int, hidden: int, layers: int, coords_range: float = 15.0):
        super().__init__()
        self.feature_width = feature_width
        self.hidden = hidden
        self.layers = layers
        self.coords_range = coords_range
        self.embedding = nn.Linear(feature_width + 1, hidden)
        for l in range(layers):
            self.add_module(f"gcl_{l}", E_GCL(hidden, coords_range / layers))

    def gcl(self, l: int) -> E_GCL:
        return getattr(self, f"gcl_{l}")

    def forward(self, x, features, t, atom_counts, edges=None, mol=None):
        """x: (ΣN, 3); features: (ΣN, K); t: (M,) one time per molecule; atom_counts: M ints.

        Returns v: (ΣN, 3), mean-free per molecule."""
        if mol is None:
            mol = molecule_index(atom_counts, device=x.device)
        if edges is None:
            edges = make_edges(atom_counts, device=x.device)
        row, col = edges
        t_atom = t.to(x.dtype)[mol].unsqueeze(1)
        h = self.embedding(torch.cat([features.to(x.dtype), t_atom], dim=1))
        diff0 = x[row] - x[col]
        d2 = (diff0 * diff0).sum(dim=1, keepdim=True)
        xl = x
        for l in range(self.layers):
            h, xl = self.gcl(l)(h, xl, d2, row, col)
        return remove_mean(xl - x, mol, len(atom_counts))


# ----------------------------------------------------------------------------------------------
# Loss and divergence
# ----------------------------------------------------------------------------------------------

def flow_matching_loss(model: EGNNField, x1, x0, noise, t, features, atom_counts, sigma=0.01):
    """method.md §5.1. Returns (loss, loss_per_molecule, x_t, v, u)."""
    mol = molecule_index(atom_counts, device=x1.device)
    tt = t.to(x1.dtype)[mol].unsqueeze(1)
    x_t = (1 - tt) * x0 + tt * x1 + sigma * noise
    u = x1 - x0
    v = model(x_t, features, t, atom_counts, mol=mol)
    sq = ((v - u) ** 2).sum(dim=1)
    m = len(atom_counts)
    per = torch.zeros(m, dtype=x1.dtype, device=x1.device).index_add_(0, mol, sq)
    per = per / (3.0 * torch.as_tensor(list(atom_counts), dtype=x1.dtype, device=x1.device))
    return per.mean(), per, x_t, v, u


def divergence_exact(model: EGNNField, x, features, t, atom_counts) -> torch.Tensor:
    """Per molecule: trace of the (3N x 3N) Jacobian ∂v/∂x of that molecule w.r.t. its own input,
    with torch.func.jacrev (each molecule evaluated on its own)."""
    out = []
    offset = 0
    for m, n in enumerate(atom_counts):
        n = int(n)
        xm = x[offset:offset + n].detach()
        fm = features[offset:offset + n]
        tm = t[m:m + 1]

        def f(xx, fm=fm, tm=tm, n=n):
            return model(xx, fm, tm, [n]).reshape(-1)

        jac = torch.func.jacrev(f)(xm).reshape(3 * n, 3 * n)
        out.append(torch.diagonal(jac).sum())
        offset += n
    return torch.stack(out)


def divergence_bruteforce(v_fn, x: torch.Tensor):
    """bgflow ``BruteForceEstimatorFast``-style: x (B, D) is split into D columns, v is evaluated
    once, then one reverse pass per column (ones over the batch). Returns (v, div) with div (B,)."""
    with torch.enable_grad():
        cols = [x[:, k:k + 1].detach().requires_grad_(True) for k in range(x.shape[1])]
        xx = torch.cat(cols, dim=1)
        v = v_fn(xx)
        div = torch.zeros(x.shape[0], dtype=x.dtype, device=x.device)
        ones = torch.ones(x.shape[0], dtype=x.dtype, device=x.device)
        for k in range(x.shape[1]):
            (g,) = torch.autograd.grad(v[:, k], cols[k], ones, retain_graph=True)
            div = div + g[:, 0]
    return v.detach(), div


# ----------------------------------------------------------------------------------------------
# Encodings (method.md §3)
# ----------------------------------------------------------------------------------------------

class EncodingError(ValueError):
    pass


ELEMENT_CLASSES = {"H": 0, "C": 1, "N": 2, "O": 3, "S": 4}

AMINO_ACIDS = ["ALA", "ARG", "ASN", "ASP", "CYS", "GLN", "GLU", "GLY", "HIS", "ILE",
               "LEU", "LYS", "MET", "PHE", "PRO", "SER", "THR", "TRP", "TYR", "VAL"]

ATOM_NAME_VOCAB = [
    "C", "CA", "CB", "CD", "CD1", "CD2", "CE", "CE1", "CE2", "CE3", "CG", "CG1", "CG2", "CH2", "CZ",
    "CZ2", "CZ3",
    "H", "HA", "HB", "HD", "HD1", "HD2", "HE", "HE1", "HE2", "HE3", "HG", "HG1", "HG2", "HH", "HH1",
    "HH2", "HZ", "HZ2", "HZ3",
    "N", "ND1", "ND2", "NE", "NE1", "NE2", "NH1", "NH2", "NZ",
    "O", "OD", "OE", "OG", "OG1", "OH", "OXT",
    "SD", "SG",
]
assert len(ATOM_NAME_VOCAB) == 54 and ATOM_NAME_VOCAB == sorted(ATOM_NAME_VOCAB)

_AROMATIC = {"HIS", "PHE", "TRP", "TYR"}
_BACKBONE_NAMES = {"N", "CA", "C", "O"}


def canonical_atom_name(residue: str, name: str) -> str:
    """method.md §3.3 canonicalisation (at most one character is stripped)."""
    if name.startswith("H") and name[-1:] in ("1", "2", "3"):
        if not (residue in _AROMATIC and name[:2] in ("HE", "HD", "HZ", "HH")):
            name = name[:-1]
    if name.startswith("OD") or name.startswith("OE"):
        name = name[:-1]
    return name


def atoms_from_topology(topology) -> list[tuple[int, str, str]]:
    """Per atom, in atom-index order: (residue position, residue name, atom name).

    ``topology`` is an MDTraj topology JSON string/bytes/dict (as stored in ``/topology``), or an
    ``mdtraj.Topology``. The residue position is the 0-based residue order in the topology."""
    if hasattr(topology, "atoms") and not isinstance(topology, (dict, str, bytes)):
        rows = [(a.index, a.residue.index, a.residue.name, a.name) for a in topology.atoms]
    else:
        if isinstance(topology, (bytes, bytearray)):
            topology = topology.decode()
        if isinstance(topology, str):
            topology = json.loads(topology)
        rows = []
        pos = 0
        for chain in topology["chains"]:
            for res in chain["residues"]:
                for a in res["atoms"]:
                    rows.append((a["index"], pos, res["name"], a["name"]))
                pos += 1
    rows.sort(key=lambda r: r[0])
    if [r[0] for r in rows] != list(range(len(rows))):
        raise EncodingError("atom indices are not 0..N-1")
    return [(p, rn, an) for _, p, rn, an in rows]


def encode_tbg(atoms: Iterable[tuple[int, str, str]]) -> list[int]:
    """TBG (§3.1): class of the first character of the atom name, H0 C1 N2 O3 S4 (5 classes)."""
    out = []
    for k, (_, res, name) in enumerate(atoms):
        c = ELEMENT_CLASSES.get(name[:1])
        if c is None:
            raise EncodingError(f"atom {k} ({res} {name}): first character not in H/C/N/O/S")
        out.append(c)
    return out


def encode_tbg_backbone(atoms: Sequence[tuple[int, str, str]]) -> list[int]:
    """TBG+backbone (§3.2): element classes, then the 8 backbone atoms (names N, CA, C, O, in
    ascending atom index; OXT and H excluded) get 5..12. Exactly 8 must exist (a dipeptide)."""
    atoms = list(atoms)
    out = encode_tbg(atoms)
    bb = [k for k, (_, res, name) in enumerate(atoms) if name in _BACKBONE_NAMES]
    if len(bb) != 8:
        raise EncodingError(f"TBG+backbone needs exactly 8 backbone atoms (N, CA, C, O of two residues), got {len(bb)}")
    for c, k in enumerate(bb):
        out[k] = 5 + c
    return out


def encode_tbg_full_classes(atoms: Sequence[tuple[int, str, str]]) -> list[tuple[int, int, int]]:
    """TBG+full (§3.3): per atom (residue position 0/1, amino-acid class 0..19, atom-name class 0..53)."""
    out = []
    for k, (pos, res, name) in enumerate(atoms):
        if pos not in (0, 1):
            raise EncodingError(f"atom {k} ({res} {name}): residue position {pos} not in 0..1 (TBG+full is for dipeptides)")
        if res not in AMINO_ACIDS:
            raise EncodingError(f"atom {k}: residue name {res!r} is not one of the 20 amino acids {AMINO_ACIDS}")
        canon = canonical_atom_name(res, name)
        if canon not in ATOM_NAME_VOCAB:
            raise EncodingError(f"atom {k} ({res} {name}): canonical name {canon!r} is not in the 54-name vocabulary")
        out.append((pos, AMINO_ACIDS.index(res), ATOM_NAME_VOCAB.index(canon)))
    return out


def one_hot(classes: Sequence[int], width: int, dtype=torch.float64) -> torch.Tensor:
    return torch.nn.functional.one_hot(torch.as_tensor(list(classes), dtype=torch.long), width).to(dtype)


def encode_tbg_full(atoms: Sequence[tuple[int, str, str]], dtype=torch.float64) -> torch.Tensor:
    """(N, 76) = [residue position (2) ‖ amino acid (20) ‖ atom name (54)]."""
    cls = encode_tbg_full_classes(atoms)
    return torch.cat([one_hot([c[0] for c in cls], 2, dtype), one_hot([c[1] for c in cls], 20, dtype),
                      one_hot([c[2] for c in cls], 54, dtype)], dim=1)


def parameter_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def per_layer_count(hidden: int) -> int:
    return 7 * hidden * hidden + 9 * hidden + 1


if __name__ == "__main__":  # small self-check of the parameter counts in method.md §4.6
    m = EGNNField(21, 64, 5)
    assert parameter_count(m) == 147_717, parameter_count(m)
    m = EGNNField(76, 128, 9)
    assert parameter_count(m) == 1_052_553, parameter_count(m)
    print("parameter counts match method.md §4.6")
