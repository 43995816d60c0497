"""Generate the optimizer parity fixtures for crate-model's tests (OptimizerParityTest).

    /usr/bin/python3 tools/pytorch/gen_optimizer_fixtures.py [--out crate-model/src/test/resources/optim]

One tiny CRATE (1 channel, 8x8 images, patch 4, dim 16, 2 heads, depth 2, 3 classes, cls pooling) takes three
training steps (mean cross-entropy, no label smoothing) with each optimizer; every optimizer starts from the same
weights and sees the same three batches. For each optimizer it writes ``<name>.safetensors`` holding:

  <key>              every parameter under its official key (F32), the initial weights
  stepK.images       [4, 1, 8, 8] F32, uniform in [-1, 1]          (K = 0, 1, 2)
  stepK.labels       [4] I64
  stepK.after.<key>  every parameter after step K (F32)
  __metadata__       the model config (as the parity fixtures) and the optimizer's hyperparameters, as strings

The oracle runs in float64 (model.double(), the optimizer state and arithmetic in float64) from the float32 initial
weights and images; only the stored weights are rounded to float32. Weight decay applies to every parameter and is
decoupled (p <- p * (1 - lr * wd) before the update):

  adamw          torch.optim.AdamW (its decay is the decoupled one)
  lion           written by hand as lion-pytorch computes it (the package is not installed here)
  sgd            p.mul_(1 - lr * wd), then torch.optim.SGD(momentum=0.9, weight_decay=0).step()
  sgd_nesterov   the same with nesterov=True

Everything is seeded, so rerunning reproduces the same bytes. After writing, the script reads every file back,
checks the round trip, replays the three steps independently (plain float64 formulas, no torch.optim), and reports
how far a float32 run lands from the oracle and how far each step moves the weights (hints for the Java bounds).
Run with Debian's /usr/bin/python3 (torch 1.13, CPU).
"""

import argparse
import os
import sys

import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import crate_torch as ct  # noqa: E402
from gen_parity_fixtures import metadata as model_metadata  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_OUT = os.path.normpath(os.path.join(HERE, "..", "..", "crate-model", "src", "test", "resources", "optim"))

CFG = dict(image_size=8, channels=1, patch_size=4, dim=16, heads=2, depth=2, num_classes=3, pool="cls")
ETA = 0.1
LAMBD = 0.1
# Lion's first step (and AdamW's, where m / sqrt(v) = sign(g)) follows the sign of each gradient element, so an
# element whose decision value lies within float32 noise of zero could flip and move by 2 lr. This seed was picked
# for a wide margin: check() reports it (smallest |decision value| over float32's gradient error, per tensor).
SEED = 2707
BATCH = 4
STEPS = 3

OPTIMIZERS = [
    # file name, hyperparameters (written to the metadata as strings)
    ("adamw", dict(optimizer="adamw", lr=1e-2, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.1)),
    ("lion", dict(optimizer="lion", lr=1e-3, betas=(0.9, 0.99), weight_decay=0.1)),
    ("sgd", dict(optimizer="sgd", lr=1e-2, momentum=0.9, nesterov=False, weight_decay=0.1)),
    ("sgd_nesterov", dict(optimizer="sgd", lr=1e-2, momentum=0.9, nesterov=True, weight_decay=0.1)),
]


def perturb(model, gen):
    """Move every LayerNorm weight/bias and every Linear bias off its default so that tests exercise them."""
    with torch.no_grad():
        for mod in model.modules():
            if isinstance(mod, nn.LayerNorm):
                mod.weight.add_(0.1 * torch.randn(mod.weight.shape, generator=gen))
                mod.bias.add_(0.1 * torch.randn(mod.bias.shape, generator=gen))
            elif isinstance(mod, nn.Linear) and mod.bias is not None:
                mod.bias.add_(0.1 * torch.randn(mod.bias.shape, generator=gen))


def random_batch(gen):
    c, s = CFG["channels"], CFG["image_size"]
    images = torch.rand(BATCH, c, s, s, generator=gen) * 2 - 1
    labels = torch.randint(0, CFG["num_classes"], (BATCH,), generator=gen)
    return images, labels


def metadata(hp):
    meta = model_metadata(CFG)   # the model's keys, as the parity fixtures write them
    for k, v in hp.items():
        if k == "betas":
            meta[k] = ",".join(repr(b) for b in v)
        elif isinstance(v, bool):
            meta[k] = "true" if v else "false"
        else:
            meta[k] = v if isinstance(v, str) else repr(v)
    return meta


class HandLion:
    """lion-pytorch's update, written out: decay, p -= lr * sign(b1 m + (1 - b1) g), m = b2 m + (1 - b2) g."""

    def __init__(self, params, lr, betas, weight_decay):
        self.params = list(params)
        self.lr, self.betas, self.wd = lr, betas, weight_decay
        self.exp_avg = [torch.zeros_like(p) for p in self.params]

    @torch.no_grad()
    def step(self):
        b1, b2 = self.betas
        for p, m in zip(self.params, self.exp_avg):
            if p.grad is None:
                continue
            g = p.grad
            p.mul_(1 - self.lr * self.wd)
            update = m.clone().mul_(b1).add_(g, alpha=1 - b1).sign_()
            p.add_(update, alpha=-self.lr)
            m.mul_(b2).add_(g, alpha=1 - b2)


class DecoupledSgd:
    """p.mul_(1 - lr * wd), then torch.optim.SGD with weight_decay=0 (momentum, optional Nesterov)."""

    def __init__(self, params, lr, momentum, nesterov, weight_decay):
        self.params = list(params)
        self.lr, self.wd = lr, weight_decay
        self.inner = torch.optim.SGD(self.params, lr=lr, momentum=momentum, nesterov=nesterov, weight_decay=0)

    def step(self):
        with torch.no_grad():
            for p in self.params:
                if p.grad is not None:
                    p.mul_(1 - self.lr * self.wd)
        self.inner.step()


def make_optimizer(hp, params):
    if hp["optimizer"] == "adamw":
        return torch.optim.AdamW(params, lr=hp["lr"], betas=hp["betas"], eps=hp["eps"],
                                 weight_decay=hp["weight_decay"])
    if hp["optimizer"] == "lion":
        return HandLion(params, hp["lr"], hp["betas"], hp["weight_decay"])
    if hp["optimizer"] == "sgd":
        return DecoupledSgd(params, hp["lr"], hp["momentum"], hp["nesterov"], hp["weight_decay"])
    raise ValueError(hp["optimizer"])


def initial_state():
    torch.manual_seed(SEED)  # the official init draws from the global generator
    model = ct.CRATE(eta=ETA, lambd=LAMBD, **CFG)
    gen = torch.Generator().manual_seed(SEED + 1)
    perturb(model, gen)
    batches = [random_batch(gen) for _ in range(STEPS)]
    state32 = {k: v.detach().clone().float() for k, v in model.state_dict().items()}
    return state32, batches


def train(state, batches, hp, dtype):
    """The weights after each step, in ``dtype`` (torch's optimizers keep their state in the parameters' dtype)."""
    model = ct.CRATE(eta=ETA, lambd=LAMBD, **CFG).to(dtype)
    model.load_state_dict({k: v.to(dtype) for k, v in state.items()}, strict=True)
    opt = make_optimizer(hp, model.parameters())
    after = []
    for images, labels in batches:
        model.zero_grad(set_to_none=True)
        F.cross_entropy(model(images.to(dtype)), labels).backward()
        missing = [k for k, p in model.named_parameters() if p.grad is None]
        assert not missing, missing
        opt.step()
        after.append({k: v.detach().clone() for k, v in model.state_dict().items()})
    return after


def generate(out_dir, name, hp, state32, batches):
    after = train(state32, batches, hp, torch.float64)
    tensors = dict(state32)
    for k, (images, labels) in enumerate(batches):
        tensors[f"step{k}.images"] = images.float()
        tensors[f"step{k}.labels"] = labels.long()
    for k, weights in enumerate(after):
        for key, v in weights.items():
            tensors[f"step{k}.after.{key}"] = v.float()
    path = os.path.join(out_dir, name + ".safetensors")
    ct.save_safetensors(path, tensors, metadata(hp))
    return path, tensors


def replay(hp, sd, batches):
    """The three steps again from the read-back file with the update rules written out in plain float64 math,
    without torch.optim (the gradients still come from the float64 CRATE modules). Also returns the sign margin:
    the smallest ratio, over steps and tensors, of |the value whose sign sets the update| (Lion: b1 m + (1 - b1) g
    over (1 - b1); AdamW's first step: g) to the largest error of a float32 gradient at the same weights."""
    model = ct.CRATE(eta=ETA, lambd=LAMBD, **CFG).double()
    model32 = ct.CRATE(eta=ETA, lambd=LAMBD, **CFG)
    w = {k: v.clone() for k, v in sd.items()}
    m = {k: torch.zeros_like(v) for k, v in sd.items()}
    v2 = {k: torch.zeros_like(v) for k, v in sd.items()}
    lr, wd = hp["lr"], hp["weight_decay"]
    out, margin = [], float("inf")
    for t, (images, labels) in enumerate(batches, start=1):
        model.load_state_dict(w, strict=True)
        model.zero_grad(set_to_none=True)
        F.cross_entropy(model(images), labels).backward()
        grads = {k: p.grad.detach() for k, p in model.named_parameters()}
        model32.load_state_dict({k: v.float() for k, v in w.items()}, strict=True)
        model32.zero_grad(set_to_none=True)
        F.cross_entropy(model32(images.float()), labels).backward()
        err32 = {k: (p.grad.double() - grads[k]).abs().max().item() for k, p in model32.named_parameters()}
        for k in w:
            g, p = grads[k], w[k] * (1 - lr * wd)
            if hp["optimizer"] == "adamw":
                b1, b2 = hp["betas"]
                if t == 1:
                    margin = min(margin, g.abs().min().item() / err32[k])
                m[k] = b1 * m[k] + (1 - b1) * g
                v2[k] = b2 * v2[k] + (1 - b2) * g * g
                p = p - lr / (1 - b1 ** t) * m[k] / (torch.sqrt(v2[k]) / (1 - b2 ** t) ** 0.5 + hp["eps"])
            elif hp["optimizer"] == "lion":
                b1, b2 = hp["betas"]
                c = b1 * m[k] + (1 - b1) * g
                margin = min(margin, c.abs().min().item() / (1 - b1) / err32[k])
                p = p - lr * torch.sign(c)
                m[k] = b2 * m[k] + (1 - b2) * g
            else:
                mu = hp["momentum"]
                m[k] = g.clone() if t == 1 else mu * m[k] + g
                p = p - lr * ((g + mu * m[k]) if hp["nesterov"] else m[k])
            w[k] = p
        out.append({k: v.clone() for k, v in w.items()})
    return out, margin


def rel(a, b):
    return ((a.double() - b.double()).norm() / b.double().norm()).item()


def check(name, hp, path, written, state32):
    loaded, meta = ct.load_safetensors(path)
    assert meta == metadata(hp), (meta, metadata(hp))
    assert list(loaded.keys()) == list(written.keys()), "tensor names or order differ"
    for k, v in written.items():
        assert loaded[k].dtype == v.dtype and loaded[k].shape == v.shape, k
        assert torch.equal(loaded[k], v), f"{k} differs after the round trip"
    keys = list(state32.keys())
    assert keys == [k for k in loaded if not k.startswith("step")], "parameter keys differ from the model's"

    batches = [(loaded[f"step{k}.images"].double(), loaded[f"step{k}.labels"]) for k in range(STEPS)]
    again, margin = replay(hp, {k: loaded[k].double() for k in keys}, batches)
    worst_replay = 0.0
    for k in range(STEPS):
        for key in keys:
            want = loaded[f"step{k}.after.{key}"]
            got = again[k][key]
            # the replay may differ from torch.optim by float64 rounding, which float32 storage absorbs
            worst_replay = max(worst_replay, rel(got.float(), want))
    assert worst_replay < 1e-6, f"{name}: the hand-written replay is off by {worst_replay:.2e}"
    assert margin > 100, f"{name}: sign margin only {margin:.1f}x float32's gradient error; pick another SEED"

    # a float32 run (what the Java side does) against the float64 oracle, and how far each step moves the weights
    f32 = train(state32, [(x, y) for x, y in batches], hp, torch.float32)
    worst32, worst32_key, least_move, least_move_key = 0.0, None, float("inf"), None
    before = {k: loaded[k] for k in keys}
    for k in range(STEPS):
        now = {key: loaded[f"step{k}.after.{key}"] for key in keys}
        for key in keys:
            e = rel(f32[k][key], now[key])
            if e > worst32:
                worst32, worst32_key = e, f"step{k}.{key}"
            mv = rel(now[key], before[key]) * before[key].double().norm().item() / now[key].double().norm().item()
            if mv < least_move:
                least_move, least_move_key = mv, f"step{k}.{key}"
        before = now
    print(f"{name}: float32 torch vs the float64 oracle, worst relative L2 {worst32:.2e} ({worst32_key}); "
          f"smallest step movement ||after - before|| / ||after|| {least_move:.2e} ({least_move_key}); "
          f"replay {worst_replay:.1e}; sign margin {margin:.0f}x; {os.path.getsize(path)} bytes")
    return worst32, least_move


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=DEFAULT_OUT, help="output folder (default: %(default)s)")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    torch.set_num_threads(1)  # deterministic reductions
    state32, batches = initial_state()
    for name, hp in OPTIMIZERS:
        path, written = generate(args.out, name, hp, state32, batches)
        check(name, hp, path, written, state32)
    print("all optimizer fixtures written and checked")


if __name__ == "__main__":
    main()
