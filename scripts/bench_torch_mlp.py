#!/usr/bin/env python3
"""Times one PyTorch CPU epoch of the MLP crocbench trains: 32-64-64-1, ReLU, Adam (lr 1e-3),
BCE-with-logits, batch 256, shuffled, over the 1M x 32 rows crocbench writes, on 2 threads.

    swift run -c release crocbench models   # writes /tmp/crocbench_models_1m.bin
    python3 scripts/bench_torch_mlp.py
"""
import time

import numpy as np
import torch

torch.set_num_threads(2)
torch.manual_seed(0)
n, d = 1_000_000, 32
raw = np.fromfile("/tmp/crocbench_models_1m.bin", dtype="<f8")
X = torch.from_numpy(raw[: n * d].reshape(n, d).astype(np.float32))
y = torch.from_numpy(raw[n * d:].astype(np.float32)).unsqueeze(1)
model = torch.nn.Sequential(torch.nn.Linear(32, 64), torch.nn.ReLU(), torch.nn.Linear(64, 64), torch.nn.ReLU(), torch.nn.Linear(64, 1))
opt = torch.optim.Adam(model.parameters(), lr=1e-3, weight_decay=0.0)
loss_fn = torch.nn.BCEWithLogitsLoss()
for epoch in range(2):  # the first epoch warms up kernels and allocators; report the second too
    t = time.perf_counter()
    perm = torch.randperm(n)
    for start in range(0, n, 256):
        idx = perm[start:start + 256]
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(X[idx]), y[idx])
        loss.backward()
        opt.step()
    el = time.perf_counter() - t
    print(f"torch {torch.__version__} CPU, 2 threads: epoch {epoch + 1} of 32-64-64-1 over 1M rows, batch 256: {el:.2f} s (last loss {loss.item():.4f})")
