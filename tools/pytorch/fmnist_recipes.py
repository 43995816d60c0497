"""Recipe search for fmnist-small on Fashion-MNIST, on a GPU with the PyTorch CRATE (same equations as the Java
model): which of a few settings reaches >= 90 % test accuracy within the epochs the 2-core CPU can afford.

Run from a folder holding crate_torch.py and the four Fashion-MNIST .gz files (the device machine has no network):
    python3 fmnist_recipes.py
Prints one JSON line per setting with the test accuracy after every epoch (results in BENCHMARKS.md)."""
import gzip, sys, time, json, itertools
import numpy as np, torch, torch.nn.functional as F
sys.path.insert(0, '.')
import crate_torch as ct

def idx(path):
    b = gzip.open(path).read()
    magic = int.from_bytes(b[:4], 'big')
    if magic == 0x803:
        n, r, c = (int.from_bytes(b[4 + 4 * i:8 + 4 * i], 'big') for i in range(3))
        return np.frombuffer(b, np.uint8, offset=16).reshape(n, 1, r, c)
    n = int.from_bytes(b[4:8], 'big')
    return np.frombuffer(b, np.uint8, offset=8)

dev = 'cuda'
xtr = torch.tensor(idx('train-images-idx3-ubyte.gz'), dtype=torch.float32, device=dev) / 255
ytr = torch.tensor(idx('train-labels-idx1-ubyte.gz'), dtype=torch.long, device=dev)
xte = torch.tensor(idx('t10k-images-idx3-ubyte.gz'), dtype=torch.float32, device=dev) / 255
yte = torch.tensor(idx('t10k-labels-idx1-ubyte.gz'), dtype=torch.long, device=dev)
norm = lambda x: (x - 0.2860) / 0.3530

def augment(x, g, padn=2, doflip=True):
    n = x.shape[0]
    pad = F.pad(x, (padn,) * 4)
    dy = torch.randint(0, 2 * padn + 1, (n,), generator=g, device=dev); dx = torch.randint(0, 2 * padn + 1, (n,), generator=g, device=dev)
    idxy = (dy[:, None] + torch.arange(28, device=dev)[None]).clamp(max=27 + 2 * padn)
    idxx = (dx[:, None] + torch.arange(28, device=dev)[None]).clamp(max=27 + 2 * padn)
    rows = pad[:, 0][torch.arange(n, device=dev)[:, None], idxy]            # [n, 28, 32]
    crop = rows[torch.arange(n, device=dev)[:, None, None], torch.arange(28, device=dev)[None, :, None], idxx[:, None, :]]
    flip = (torch.rand(n, generator=g, device=dev) < 0.5) & doflip
    crop = torch.where(flip[:, None, None], crop.flip(-1), crop)
    return crop[:, None]

def run(lr, epochs, aug, ls, wd, batch=128, warm_epochs=1, seed=0, padn=2, doflip=True):
    torch.manual_seed(seed)
    g = torch.Generator(device=dev); g.manual_seed(seed)
    m = ct.build_preset('fmnist-small').to(dev)
    decay = [p for n, p in m.named_parameters() if p.dim() >= 2 and n not in ('cls_token', 'pos_embedding')]
    other = [p for n, p in m.named_parameters() if not (p.dim() >= 2 and n not in ('cls_token', 'pos_embedding'))]
    opt = torch.optim.AdamW([{'params': decay, 'weight_decay': wd}, {'params': other, 'weight_decay': 0}], lr=lr)
    steps = 60000 // batch; total = steps * epochs; warm = steps * warm_epochs
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: (s + 1) / warm if s < warm else
                                              0.5 * (1 + np.cos(np.pi * min(1, (s - warm) / max(1, total - warm)))))
    accs = []
    for e in range(epochs):
        m.train()
        perm = torch.randperm(60000, generator=g, device=dev)
        for s in range(steps):
            i = perm[s * batch:(s + 1) * batch]
            x = xtr[i]
            if aug: x = augment(x, g, padn, doflip)
            loss = F.cross_entropy(m(norm(x)), ytr[i], label_smoothing=ls)
            opt.zero_grad(); loss.backward()
            torch.nn.utils.clip_grad_norm_(m.parameters(), 1.0)
            opt.step(); sched.step()
        m.eval()
        with torch.no_grad():
            acc = sum((m(norm(xte[j:j + 1000])).argmax(1) == yte[j:j + 1000]).sum().item() for j in range(0, 10000, 1000)) / 10000
        accs.append(round(acc, 4))
    return accs

A, N = dict(aug=True), dict(aug=False)
grid = [dict(lr=1e-3, epochs=8, ls=0.1, wd=0.05, **A), dict(lr=1e-3, epochs=8, ls=0.1, wd=0.05, **N),
        dict(lr=2e-3, epochs=8, ls=0.1, wd=0.05, **N), dict(lr=2e-3, epochs=10, ls=0.0, wd=0.05, **N),
        dict(lr=1e-3, epochs=10, ls=0.1, wd=0.05, **N), dict(lr=2e-3, epochs=10, ls=0.1, wd=0.05, **A),
        dict(lr=3e-3, epochs=10, ls=0.1, wd=0.05, **N),
        dict(lr=2e-3, epochs=8, ls=0.1, wd=0.05, padn=0, doflip=True, **A),
        dict(lr=2e-3, epochs=8, ls=0.1, wd=0.05, padn=1, doflip=False, **A),
        dict(lr=2e-3, epochs=8, ls=0.1, wd=0.05, padn=1, doflip=True, **A)]
for cfg in grid:
    t = time.time()
    accs = run(**cfg)
    print(json.dumps({**cfg, 'accs': accs, 'seconds': round(time.time() - t, 1)}), flush=True)
