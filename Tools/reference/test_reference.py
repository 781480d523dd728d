"""Self-checks of the PyTorch reference (run with the torch venv; NOT part of the main test suite):

    .venv-torch/bin/python -m pytest Tools/reference/test_reference.py -q
"""

from __future__ import annotations

import os
import sys

import pytest

torch = pytest.importorskip("torch")  # only the .venv-torch environment has it
import h5py  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from egnn_torch import (ATOM_NAME_VOCAB, EGNNField, EncodingError, atoms_from_topology,  # noqa: E402
                        canonical_atom_name, divergence_bruteforce, divergence_exact, encode_tbg,
                        encode_tbg_backbone, encode_tbg_full, encode_tbg_full_classes, flow_matching_loss,
                        molecule_index, remove_mean)

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
torch.set_num_threads(1)


def small_model(k=3, hidden=4, layers=2, seed=0, a=0.3):
    torch.manual_seed(seed)
    m = EGNNField(k, hidden, layers).double()
    with torch.no_grad():
        for l in range(layers):
            m.gcl(l).coord_mlp[2].weight.uniform_(-a, a)
    return m


def random_batch(counts, k, seed=1, scale=2.0, classes=None):
    g = torch.Generator().manual_seed(seed)
    total = sum(counts)
    if classes is None:
        classes = torch.randint(0, k, (total,), generator=g)
    feats = torch.nn.functional.one_hot(torch.as_tensor(classes), k).double()
    mol = molecule_index(counts)
    x = remove_mean(scale * torch.randn(total, 3, dtype=torch.float64, generator=g), mol, len(counts))
    t = torch.rand(len(counts), dtype=torch.float64, generator=g)
    return x, feats, t


def random_orthogonal(det_sign, seed=3):
    g = torch.Generator().manual_seed(seed)
    q, r = torch.linalg.qr(torch.randn(3, 3, dtype=torch.float64, generator=g))
    q = q * torch.sign(torch.diagonal(r))
    if torch.det(q) * det_sign < 0:
        q[:, 0] = -q[:, 0]
    return q


# ------------------------------------------------------------------------------------------ model

def test_gradcheck_params_and_x():
    counts = [3, 4]
    model = small_model()
    x, feats, t = random_batch(counts, 3)
    names = [n for n, _ in model.named_parameters()]
    params = tuple(p.detach().clone().requires_grad_(True) for _, p in model.named_parameters())

    def f(xx, tt, *ps):
        out = torch.func.functional_call(model, dict(zip(names, ps)), (xx, feats, tt, counts))
        return out

    assert torch.autograd.gradcheck(f, (x.clone().requires_grad_(True), t.clone().requires_grad_(True)) + params,
                                    eps=1e-6, atol=1e-6, rtol=1e-5)


def test_gradcheck_loss():
    counts = [3, 5]
    model = small_model(seed=5)
    x1, feats, t = random_batch(counts, 3, seed=7)
    x0, _, _ = random_batch(counts, 3, seed=8, scale=1.0)
    eps, _, _ = random_batch(counts, 3, seed=9, scale=1.0)
    names = [n for n, _ in model.named_parameters()]
    params = tuple(p.detach().clone().requires_grad_(True) for _, p in model.named_parameters())

    def f(*ps):
        with torch.nn.utils.stateless._reparametrize_module(model, dict(zip(names, ps))):
            return flow_matching_loss(model, x1, x0, eps, t, feats, counts)[0]

    assert torch.autograd.gradcheck(f, params, eps=1e-6, atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("det_sign", [1, -1])
def test_rotation_reflection_translation(det_sign):
    counts = [5, 7, 4]
    model = small_model(k=4, hidden=8, layers=3)
    x, feats, t = random_batch(counts, 4)
    q = random_orthogonal(det_sign)
    v = model(x, feats, t, counts)
    v_rot = model(x @ q.T, feats, t, counts)
    torch.testing.assert_close(v_rot, v @ q.T, atol=1e-11, rtol=1e-11)
    shift = torch.tensor([[1.5, -2.0, 0.7]], dtype=torch.float64)
    mol = molecule_index(counts)
    shifts = torch.randn(len(counts), 3, dtype=torch.float64)[mol]
    torch.testing.assert_close(model(x + shift, feats, t, counts), v, atol=1e-11, rtol=1e-11)
    torch.testing.assert_close(model(x + shifts, feats, t, counts), v, atol=1e-11, rtol=1e-11)
    # mean-free output
    sums = torch.zeros(len(counts), 3, dtype=torch.float64).index_add_(0, mol, v)
    assert sums.abs().max() < 1e-12


def test_permutation_identical_features():
    counts = [6, 5]
    classes = [0, 1, 1, 2, 1, 0, 2, 2, 0, 1, 2]
    model = small_model(k=3, hidden=8, layers=3)
    x, feats, t = random_batch(counts, 3, classes=classes)
    # permute atoms with identical features, within each molecule
    perm = torch.tensor([5, 4, 2, 3, 1, 0, 7, 10, 8, 9, 6])
    assert torch.equal(feats[perm], feats)
    v = model(x, feats, t, counts)
    torch.testing.assert_close(model(x[perm], feats, t, counts), v[perm], atol=1e-11, rtol=1e-11)
    # any permutation, features permuted along
    perm2 = torch.cat([torch.randperm(6), 6 + torch.randperm(5)])
    torch.testing.assert_close(model(x[perm2], feats[perm2], t, counts), v[perm2], atol=1e-11, rtol=1e-11)


def test_batch_equals_separate_molecules():
    counts = [5, 8, 6]
    model = small_model(k=4, hidden=8, layers=3)
    x, feats, t = random_batch(counts, 4)
    v = model(x, feats, t, counts)
    off = 0
    for m, n in enumerate(counts):
        vm = model(x[off:off + n], feats[off:off + n], t[m:m + 1], [n])
        torch.testing.assert_close(v[off:off + n], vm, atol=1e-12, rtol=1e-12)
        off += n


def test_divergence_matches_finite_differences():
    counts = [4, 6]
    model = small_model(k=3, hidden=8, layers=3)
    x, feats, t = random_batch(counts, 3)
    div = divergence_exact(model, x, feats, t, counts)
    h = 1e-5
    off = 0
    with torch.no_grad():
        for m, n in enumerate(counts):
            xm, fm, tm = x[off:off + n], feats[off:off + n], t[m:m + 1]
            tr = 0.0
            for a in range(n):
                for d in range(3):
                    e = torch.zeros_like(xm)
                    e[a, d] = h
                    tr += ((model(xm + e, fm, tm, [n]) - model(xm - e, fm, tm, [n]))[a, d] / (2 * h)).item()
            assert abs(tr - div[m].item()) < 1e-6 * max(1.0, abs(tr)), (tr, div[m].item())
            off += n


def test_bruteforce_divergence_equals_jacrev():
    n, b = 5, 3
    model = small_model(k=3, hidden=8, layers=2)
    x, feats, t = random_batch([n] * b, 3)
    fm = feats[:n]
    t = t[:1].expand(b).contiguous()
    counts = [n] * b

    def v_fn(xx):
        return model(xx.reshape(-1, 3), fm.repeat(b, 1), t, counts).reshape(b, 3 * n)

    _, div = divergence_bruteforce(v_fn, x.reshape(b, 3 * n))
    torch.testing.assert_close(div, divergence_exact(model, x, fm.repeat(b, 1), t, counts), atol=1e-10, rtol=1e-10)


def test_bench_dense_matches_reference():
    from bench_torch import DenseForward, EdgeIndexForward
    model = small_model(k=5, hidden=8, layers=3)
    n, b = 7, 4
    x, feats, t = random_batch([n] * b, 5)
    fm = feats[:n]
    ref = model(x, fm.repeat(b, 1), t, [n] * b).reshape(b, n, 3)
    torch.testing.assert_close(DenseForward(model, fm, b)(x.reshape(b, n, 3), t), ref, atol=1e-12, rtol=1e-12)
    torch.testing.assert_close(EdgeIndexForward(model, fm, b)(x.reshape(b, n, 3), t), ref, atol=1e-12, rtol=1e-12)


def test_init_scale():
    m = EGNNField(21, 64, 5)
    w = m.gcl(0).coord_mlp[2].weight
    a = 0.001 * (6.0 / 65) ** 0.5
    assert w.abs().max() <= a and w.abs().max() > 0.5 * a
    assert m.gcl(0).coord_mlp[2].bias is None
    names = {n for n, _ in m.named_parameters()}
    assert "gcl_4.edge_mlp.2.weight" in names and "embedding_out.weight" not in names
    assert sum(p.numel() for p in m.parameters()) == 147_717


# -------------------------------------------------------------------------------------- encodings

def test_canonical_names():
    cases = {("ALA", "HB1"): "HB", ("GLY", "HA2"): "HA", ("LYS", "H3"): "H", ("ASN", "HD21"): "HD2",
             ("ARG", "HH11"): "HH1", ("ILE", "HG12"): "HG1", ("THR", "HG1"): "HG", ("LYS", "HZ1"): "HZ",
             ("MET", "HE1"): "HE", ("ASP", "OD1"): "OD", ("GLU", "OE2"): "OE", ("TRP", "HZ2"): "HZ2",
             ("TYR", "HE1"): "HE1", ("PHE", "HD2"): "HD2", ("HIS", "HE2"): "HE2", ("TRP", "HH2"): "HH2",
             ("ILE", "CD1"): "CD1", ("SER", "OXT"): "OXT", ("THR", "OG1"): "OG1", ("LEU", "HD11"): "HD1"}
    for (res, name), want in cases.items():
        assert canonical_atom_name(res, name) == want, (res, name)
        assert want in ATOM_NAME_VOCAB


def test_ks_encoding_and_errors():
    with h5py.File(os.path.join(ROOT, "Tests", "Fixtures", "ks_zwitterion.h5"), "r") as f:
        atoms = atoms_from_topology(f["topology"][0])
    assert len(atoms) == 36
    full = encode_tbg_full(atoms)
    assert full.shape == (36, 76) and torch.all(full.sum(1) == 3)
    cls = encode_tbg_full_classes(atoms)
    assert cls[0] == (0, 11, ATOM_NAME_VOCAB.index("N")) and cls[-1] == (1, 15, ATOM_NAME_VOCAB.index("OXT"))
    bb = encode_tbg_backbone(atoms)
    assert sorted(c for c in bb if c >= 5) == list(range(5, 13))
    assert max(encode_tbg(atoms)) <= 4
    with h5py.File(os.path.join(ROOT, "Tests", "Fixtures", "ad2_capped.h5"), "r") as f:
        capped = atoms_from_topology(f["topology"][0])
    with pytest.raises(EncodingError, match="ACE"):
        encode_tbg_full_classes(capped)
    with pytest.raises(EncodingError, match="vocabulary"):
        encode_tbg_full_classes([(0, "ALA", "HXT")])


def test_fixture_files_consistent():
    for name in ("egnn_parity.h5", "egnn_parity_tbg_full.h5"):
        path = os.path.join(ROOT, "Tests", "Fixtures", "model", name)
        if not os.path.exists(path):
            pytest.skip("fixtures not generated")
        with h5py.File(path, "r") as f:
            k, hid, lay = int(f.attrs["feature_width"]), int(f.attrs["hidden"]), int(f.attrs["layers"])
            model = EGNNField(k, hid, lay).double()
            with torch.no_grad():
                for n, p in model.named_parameters():
                    p.copy_(torch.from_numpy(f[f"params/{n}"][()]))
            counts = [int(c) for c in f["batch/atom_counts"][()]]
            b = {key: torch.from_numpy(f[f"batch/{key}"][()]) for key in ("features", "x1", "x0", "noise", "t")}
            loss, per, x_t, v, u = flow_matching_loss(model, b["x1"], b["x0"], b["noise"], b["t"], b["features"], counts)
            np.testing.assert_allclose(v.detach().numpy(), f["outputs/velocity"][()], rtol=1e-12, atol=1e-12)
            np.testing.assert_allclose(loss.item(), f["outputs/loss"][()], rtol=1e-12)
            assert f["outputs/loss"].shape == ()
            if "encoding_classes" in f["batch"]:
                assert f["batch/encoding_classes"].shape == (sum(counts), 3)
