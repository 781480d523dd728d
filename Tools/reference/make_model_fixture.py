#!/usr/bin/env python3
"""Write the EGNN parity fixtures for the Swift model (float64 everywhere).

    .venv-torch/bin/python Tools/reference/make_model_fixture.py [--out-dir Tests/Fixtures/model]

Files:
  egnn_parity.h5           H=16, L=3, K=7, random one-hot, 3 molecules (N = 5, 8, 6)
  egnn_parity_tbg_full.h5  H=32, L=2, K=76 (TBG+full), KS zwitterion frames 0 and 7 (x30 scaling)

Layout (both files):
  attrs: hidden, layers, feature_width (int64), coords_range, sigma (float64), description (bytes)
  /params/<name>            PyTorch shapes (out, in)
  /batch/atom_counts        int32 (M,)
  /batch/features           (ΣN, K)
  /batch/x1, x0, noise      (ΣN, 3); x0 and noise mean-free per molecule
  /batch/t                  (M,)
  /batch/encoding_classes   int32 (ΣN, 3) (residue position, amino acid, atom name) -- TBG+full file only
  /outputs/x_t, velocity, target, velocity_at_x1   (ΣN, 3)
  /outputs/loss_per_molecule (M,), /outputs/loss ()
  /outputs/grad/<name>      d loss / d param (param shapes)
  /outputs/divergence       (M,) trace of dv/dx_t per molecule

Notes: the last layer's node_mlp never reaches v (v ignores h), so its /outputs/grad entries are
exactly 0. In egnn_parity_tbg_full.h5 datasets with >= 256 elements are zlib(9)+shuffle compressed
(to stay < 300 kB; libhdf5 decompresses transparently).
"""

from __future__ import annotations

import argparse
import os
import sys

import h5py
import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from egnn_torch import (EGNNField, atoms_from_topology, divergence_exact, encode_tbg_full,  # noqa: E402
                        encode_tbg_full_classes, flow_matching_loss, molecule_index, remove_mean,
                        sample_mean_free)

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SIGMA = 0.01
COORDS_RANGE = 15.0


def perturb_coord_head(model: EGNNField, gen: torch.Generator, a: float = 0.3):
    """Replace the (tiny, gain 0.001) last coordinate weights by U(-a, a) so v is not ~0."""
    with torch.no_grad():
        for l in range(model.layers):
            w = model.gcl(l).coord_mlp[2].weight
            w.copy_((torch.rand(w.shape, dtype=w.dtype, generator=gen) * 2 - 1) * a)


def compute_and_write(path, model, features, x1, x0, noise, t, counts, description, extra=None, compress=False):
    model.zero_grad()
    loss, per, x_t, v, u = flow_matching_loss(model, x1, x0, noise, t, features, counts, sigma=SIGMA)
    loss.backward()
    # The last layer's node_mlp never reaches the output (v ignores h): its gradient is exactly 0.
    grads = {n: (p.grad.detach().clone() if p.grad is not None else torch.zeros_like(p))
             for n, p in model.named_parameters()}
    div = divergence_exact(model, x_t.detach(), features, t, counts)
    with torch.no_grad():
        v1 = model(x1, features, t, counts)

    def put(group, name, data):
        data = np.asarray(data)
        if compress and data.size >= 256:  # zlib + shuffle (read transparently by libhdf5)
            return group.create_dataset(name, data=data, compression="gzip", compression_opts=9, shuffle=True)
        return group.create_dataset(name, data=data)

    with h5py.File(path, "w") as f:
        f.attrs["hidden"] = np.int64(model.hidden)
        f.attrs["layers"] = np.int64(model.layers)
        f.attrs["feature_width"] = np.int64(model.feature_width)
        f.attrs["coords_range"] = np.float64(model.coords_range)
        f.attrs["sigma"] = np.float64(SIGMA)
        f.attrs["description"] = np.bytes_(description)
        for n, p in model.named_parameters():
            put(f, f"params/{n}", p.detach().numpy().astype(np.float64))
        b = f.create_group("batch")
        b.create_dataset("atom_counts", data=np.asarray(counts, dtype=np.int32))
        put(b, "features", features.numpy().astype(np.float64))
        b.create_dataset("x1", data=x1.numpy())
        b.create_dataset("x0", data=x0.numpy())
        b.create_dataset("noise", data=noise.numpy())
        b.create_dataset("t", data=t.numpy())
        if extra:
            for k, val in extra.items():
                b.create_dataset(k, data=val)
        o = f.create_group("outputs")
        o.create_dataset("x_t", data=x_t.detach().numpy())
        o.create_dataset("velocity", data=v.detach().numpy())
        o.create_dataset("target", data=u.detach().numpy())
        o.create_dataset("loss_per_molecule", data=per.detach().numpy())
        o.create_dataset("loss", data=np.float64(loss.item()))
        for n, g in grads.items():
            put(o, f"grad/{n}", g.numpy())
        o.create_dataset("divergence", data=div.detach().numpy())
        o.create_dataset("velocity_at_x1", data=v1.numpy())

    gn = torch.sqrt(sum((g ** 2).sum() for g in grads.values())).item()
    print(f"{os.path.relpath(path, ROOT)}: {os.path.getsize(path) / 1024:.1f} kB  loss={loss.item():.6g} "
          f"per_mol={per.detach().numpy()} |v|_rms={v.detach().pow(2).mean().sqrt().item():.4g} "
          f"|u|_rms={u.pow(2).mean().sqrt().item():.4g} |v(x1)|_rms={v1.pow(2).mean().sqrt().item():.4g} "
          f"|grad|={gn:.4g} div={div.detach().numpy()}")


def fixture_random(out_dir):
    torch.manual_seed(1234)
    gen = torch.Generator().manual_seed(99)
    hidden, layers, k = 16, 3, 7
    counts = [5, 8, 6]
    model = EGNNField(k, hidden, layers, COORDS_RANGE).double()
    perturb_coord_head(model, gen)
    total = sum(counts)
    classes = torch.randint(0, k, (total,), generator=gen)
    features = torch.nn.functional.one_hot(classes, k).double()
    mol = molecule_index(counts)
    x1 = remove_mean(3.0 * torch.randn(total, 3, dtype=torch.float64, generator=gen), mol, len(counts))
    x0 = sample_mean_free(counts, generator=gen)
    noise = sample_mean_free(counts, generator=gen)
    t = torch.tensor([0.1, 0.55, 0.9], dtype=torch.float64)
    compute_and_write(os.path.join(out_dir, "egnn_parity.h5"), model, features, x1, x0, noise, t, counts,
                      "TBG EGNN parity fixture: H=16 L=3 K=7 random one-hot, molecules N=5,8,6, default "
                      "PyTorch init with coord_mlp.2.weight ~ U(-0.3,0.3); Tools/reference/make_model_fixture.py")


def fixture_tbg_full(out_dir):
    torch.manual_seed(4321)
    gen = torch.Generator().manual_seed(77)
    hidden, layers, k = 32, 2, 76
    with h5py.File(os.path.join(ROOT, "Tests", "Fixtures", "ks_zwitterion.h5"), "r") as f:
        topo = f["topology"][0]
        coords = np.asarray(f["coordinates"][[0, 7]], dtype=np.float64)  # (2, N, 3) nm
    atoms = atoms_from_topology(topo)
    cls = np.asarray(encode_tbg_full_classes(atoms), dtype=np.int32)
    feat1 = encode_tbg_full(atoms)
    n = feat1.shape[0]
    counts = [n, n]
    features = torch.cat([feat1, feat1], dim=0)
    classes = np.concatenate([cls, cls], axis=0)
    x1 = torch.from_numpy(coords - coords.mean(axis=1, keepdims=True)).reshape(-1, 3) * 30.0
    model = EGNNField(k, hidden, layers, COORDS_RANGE).double()
    perturb_coord_head(model, gen, a=0.05)  # smaller: at x30 scaling U(-0.3,0.3) gives |v| >> |u|
    x0 = sample_mean_free(counts, generator=gen)
    noise = sample_mean_free(counts, generator=gen)
    t = torch.tensor([0.3, 0.8], dtype=torch.float64)
    compute_and_write(os.path.join(out_dir, "egnn_parity_tbg_full.h5"), model, features, x1, x0, noise, t,
                      counts,
                      "TBG EGNN parity fixture, TBG+full encoding (K=76): KS zwitterion (Tests/Fixtures/"
                      "ks_zwitterion.h5) frames 0 and 7, centred nm x30; H=32 L=2, default PyTorch init with "
                      "coord_mlp.2.weight ~ U(-0.05,0.05); Tools/reference/make_model_fixture.py",
                      extra={"encoding_classes": classes}, compress=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out-dir", default=os.path.join(ROOT, "Tests", "Fixtures", "model"))
    args = ap.parse_args()
    os.makedirs(args.out_dir, exist_ok=True)
    torch.set_num_threads(1)
    fixture_random(args.out_dir)
    fixture_tbg_full(args.out_dir)


if __name__ == "__main__":
    main()
