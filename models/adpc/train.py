"""Trains an ADP-C network on a split in the Cityscapes layout.

Loss: sum over exits of class-balanced cross-entropies on the merged logits (upsampled to
the label size), optionally plus distillation of the final exit into the earlier ones.
CA is on from `ca_from` (0 = from the start) at `ca_threshold`, in a `ca_share` of the steps
(the rest run CA off, so the model stays good with CA off too); SGD with a poly schedule.
With `time_budget_s` the step count is fitted to the budget after a few timed steps and
refitted after every step, so a run on a borrowed GPU ends in time with its schedule nearly
done; if the budget is spent first, the run stops and records the step it reached. A resumed
run keeps the recorded step count and does not apply the budget again.
`amp` trains in bfloat16 autocast.

    python -m models.adpc.train --data data/synth --out runs/w18s1 --arch w18s1 --iters 3000
    python -m models.adpc.train --config runs/w18s1/config.json --resume
"""
from __future__ import annotations

import argparse
import contextlib
import json
import math
import random
import sys
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import List, Optional

import torch
import torch.nn.functional as F

from . import checkpoint
from .data import IGNORE, NUM_CLASSES, InMemorySplit
from .network import build_model


@dataclass
class TrainConfig:
    data: str = "data/synth"
    out: str = "runs/default"
    arch: str = "w18s1"
    split: str = "train"
    iters: int = 3000
    batch: int = 8
    crop: List[int] = None  # [h, w]; None = whole images
    scale_min: float = 0.75
    scale_max: float = 1.5
    flip: bool = True
    lr: float = 0.02
    warmup: int = 100
    momentum: float = 0.9
    weight_decay: float = 5e-4
    poly_power: float = 0.9
    class_balance: float = 0.5  # 0 = unweighted, 1 = inverse frequency
    exit_weights: List[float] = None
    distill: float = 0.0        # weight of KL(final exit -> earlier exits) on pixels it gets right
    ca_threshold: float = 1.0   # 1.0 = CA off
    ca_from: int = 0            # iteration at which CA switches on
    ca_share: float = 1.0       # share of the steps from ca_from that run CA on
    time_budget_s: float = 0.0  # > 0: fit iters to this many seconds of the whole run
    amp: bool = False           # bfloat16 autocast (GPU; CPU too where torch supports it)
    init: Optional[str] = None  # checkpoint whose weights start this run
    seed: int = 0
    threads: int = 0            # 0 = torch default
    device: str = "auto"
    checkpoint_every: int = 250
    log_every: int = 10

    def __post_init__(self):
        if self.exit_weights is None:
            self.exit_weights = [1.0, 1.0, 1.0, 1.0]
        if self.crop is not None and len(self.crop) != 2:
            raise ValueError("crop must be [height, width]")
        if not 0.0 <= self.ca_share <= 1.0:
            raise ValueError("ca_share must be in [0, 1]")
        if self.time_budget_s < 0:
            raise ValueError("time_budget_s must be >= 0")


def class_weights(frequencies: torch.Tensor, balance: float) -> torch.Tensor:
    """(f / median f)^-balance over present classes, normalised to mean 1; absent classes 1."""
    present = frequencies > 0
    weights = torch.ones(NUM_CLASSES, dtype=torch.float64)
    if present.any() and balance > 0:
        median = frequencies[present].median()
        weights[present] = (frequencies[present] / median).pow(-balance)
        weights = weights.clamp(max=10.0)
        weights[present] /= weights[present].mean()
    return weights.float()


def poly_lr(cfg: TrainConfig, step: int) -> float:
    if step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    return cfg.lr * (1 - step / cfg.iters) ** cfg.poly_power


# steps timed before the budget fixes the step count; the first few carry cudnn's autotuning
BUDGET_SKIP, BUDGET_TIMED = 5, 20


def fitted_iters(done: int, per_step: float, elapsed: float, budget: float, cap: int) -> int:
    """Steps that end the run inside `budget` seconds at `per_step`, with 3% kept spare."""
    remaining = max(0.0, budget - elapsed) * 0.97
    return max(done, min(cap, done + int(remaining / max(per_step, 1e-6))))


class StepBudget:
    """Fits a run's step count to `seconds` from `run_started`, from the mean time of all steps
    after the first few: a mix of CA-on and CA-off steps is only learnt over many (the first 20
    alone promised 3,925 steps on the H200, and the budget ran out at 3,794)."""

    def __init__(self, seconds: float, run_started: float, start: int, cap: int):
        self.seconds, self.run_started, self.start, self.cap = seconds, run_started, start, cap
        self.timed_from: Optional[float] = None
        self.per_step: Optional[float] = None

    def fit(self, done: int, iters: int) -> int:
        now = time.time()
        if now - self.run_started > self.seconds:
            return done
        timed = done - self.start - BUDGET_SKIP
        if timed == 0:
            self.timed_from = now
        elif timed >= BUDGET_TIMED:
            self.per_step = (now - self.timed_from) / timed
            return fitted_iters(done, self.per_step, now - self.run_started, self.seconds, self.cap)
        return iters


def exit_losses(logits, labels, weights, cfg: TrainConfig):
    size = labels.shape[-2:]
    up = [F.interpolate(l, size=size, mode="bilinear", align_corners=False) for l in logits]
    losses = [F.cross_entropy(u, labels, weight=weights, ignore_index=IGNORE) for u in up]
    if cfg.distill > 0:
        teacher = up[-1].detach()
        right = (teacher.argmax(1) == labels).unsqueeze(1).float()
        target = F.softmax(teacher, dim=1)
        for k in range(len(up) - 1):
            kl = F.kl_div(F.log_softmax(up[k], dim=1), target, reduction="none")
            losses[k] = losses[k] + cfg.distill * (kl * right).sum() / right.sum().clamp(min=1)
    return losses


def save_checkpoint(path: Path, model, cfg: TrainConfig, input_size, optimizer=None,
                    step=None) -> None:
    checkpoint.save(path, checkpoint.Checkpoint(
        arch=cfg.arch, input_size=input_size, model=model.state_dict(), config=asdict(cfg),
        step=step, optimizer=None if optimizer is None else optimizer.state_dict()))


def write_config(out: Path, cfg: TrainConfig) -> None:
    (out / "config.json").write_text(json.dumps(asdict(cfg), indent=2) + "\n")


def train(cfg: TrainConfig, resume: bool = False) -> Path:
    run_started = time.time()
    random.seed(cfg.seed)
    torch.manual_seed(cfg.seed)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    device = torch.device("cuda" if cfg.device == "auto" and torch.cuda.is_available()
                          else ("cpu" if cfg.device == "auto" else cfg.device))
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True  # fixed crop sizes: autotuned kernels pay off
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    write_config(out, cfg)

    data = InMemorySplit(cfg.data, cfg.split)
    weights = class_weights(data.class_frequencies(), cfg.class_balance).to(device)
    # on a GPU the augmentation runs there too, if the split fits in a quarter of free memory
    if device.type == "cuda" and data.nbytes() < torch.cuda.mem_get_info(device)[0] / 4:
        data.to(device)
    print(f"train: {len(data)} images, arch {cfg.arch}, device {device}, "
          f"class weights {[round(w, 2) for w in weights.tolist()]}", flush=True)

    model = build_model(cfg.arch).to(device)
    decay = [p for n, p in model.named_parameters() if p.requires_grad and p.ndim > 1]
    no_decay = [p for n, p in model.named_parameters() if p.requires_grad and p.ndim <= 1]
    optimizer = torch.optim.SGD([{"params": decay, "weight_decay": cfg.weight_decay},
                                 {"params": no_decay, "weight_decay": 0.0}],
                                lr=cfg.lr, momentum=cfg.momentum)
    start = 0
    last = out / "last.pt"
    input_size = tuple(int(v) for v in data.images.shape[1:3])
    if resume and last.is_file():
        state = checkpoint.load(last, map_location=device)
        if state.step is None or state.optimizer is None:
            raise ValueError(f"{last}: not a resumable checkpoint (no step or optimizer state)")
        model.load_state_dict(state.model)
        optimizer.load_state_dict(state.optimizer)
        start = state.step
        print(f"resumed from {last} at step {start}", flush=True)
    elif cfg.init:
        model.load_state_dict(checkpoint.load(cfg.init, map_location=device).model)
        print(f"initialised from {cfg.init}", flush=True)

    rng = random.Random(cfg.seed + start)
    order: List[int] = []
    started = time.time()
    window = []
    # a resumed run keeps the step count its first run fitted (or cut)
    budget = (StepBudget(cfg.time_budget_s, run_started, start, cfg.iters)
              if cfg.time_budget_s > 0 and start == 0 else None)
    autocast = (torch.autocast(device.type, dtype=torch.bfloat16) if cfg.amp
                else contextlib.nullcontext())
    model.train()
    step = start
    while step < cfg.iters:
        lr = poly_lr(cfg, step)
        for group in optimizer.param_groups:
            group["lr"] = lr
        if len(order) < cfg.batch:
            perm = list(range(len(data)))
            rng.shuffle(perm)
            order += perm
        indices, order = order[: cfg.batch], order[cfg.batch:]
        x, y = data.batch(indices, tuple(cfg.crop) if cfg.crop else None,
                          (cfg.scale_min, cfg.scale_max), cfg.flip, rng)
        x, y = x.to(device), y.to(device)
        ca_on = step >= cfg.ca_from and cfg.ca_threshold < 1
        if ca_on and cfg.ca_share < 1:
            ca_on = rng.random() < cfg.ca_share
        with autocast:
            result = model(x, threshold=cfg.ca_threshold if ca_on else None)
            losses = exit_losses(result.logits, y, weights, cfg)
        loss = sum(w * l for w, l in zip(cfg.exit_weights, losses))
        if not math.isfinite(loss.item()):
            raise RuntimeError(f"loss is {loss.item()} at step {step}; lower the learning rate")
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

        window.append([l.item() for l in losses])
        step = done = step + 1
        if budget is not None:
            fitted = budget.fit(done, cfg.iters)
            if done - start == BUDGET_SKIP + BUDGET_TIMED and budget.per_step is not None:
                print(f"time budget {budget.seconds:.0f}s at {budget.per_step:.3f}s/step: "
                      f"{fitted} steps", flush=True)
            elif fitted == done < cfg.iters:
                print(f"time budget spent at step {done} of {cfg.iters}; stopping", flush=True)
            cfg.iters = fitted
        if done % cfg.log_every == 0 or done == cfg.iters:
            elapsed = time.time() - started
            per_step = elapsed / (done - start)
            eta = per_step * (cfg.iters - done)
            mean = [sum(v) / len(window) for v in zip(*window)]
            shares = [float(m.mean()) for m in result.masks if m is not None]
            print(f"step {done}/{cfg.iters} lr {lr:.4f} loss/exit "
                  f"{' '.join(f'{v:.3f}' for v in mean)} "
                  f"{'computed ' + ' '.join(f'{s:.2f}' for s in shares) + ' ' if shares else ''}"
                  f"{per_step:.2f}s/step eta {eta / 60:.1f}min", flush=True)
            window = []
        if done % cfg.checkpoint_every == 0 or done == cfg.iters:
            save_checkpoint(last, model, cfg, input_size, optimizer, done)
            write_config(out, cfg)  # a budget may have changed iters; --resume reads it here
    final = out / "final.pt"
    save_checkpoint(final, model, cfg, input_size)
    print(f"saved {final}", flush=True)
    return final


def main(argv=None):
    parser = argparse.ArgumentParser(description="Train ADP-C on a Cityscapes-layout split")
    parser.add_argument("--config", help="JSON file with TrainConfig fields (flags override)")
    parser.add_argument("--resume", action="store_true", help="continue from OUT/last.pt")
    for f in fields(TrainConfig):
        flag = "--" + f.name.replace("_", "-")
        if f.name in ("crop", "exit_weights"):
            parser.add_argument(flag, type=float if f.name == "exit_weights" else int, nargs="+")
        elif f.type in ("bool",):
            parser.add_argument(flag, type=lambda s: s.lower() in ("1", "true", "yes"))
        else:
            kind = {"int": int, "float": float}.get(f.type, str)
            parser.add_argument(flag, type=kind)
    args = parser.parse_args(argv)
    values = json.loads(Path(args.config).read_text()) if args.config else {}
    for f in fields(TrainConfig):
        v = getattr(args, f.name)
        if v is not None:
            values[f.name] = v
    unknown = set(values) - {f.name for f in fields(TrainConfig)}
    if unknown:
        parser.error(f"unknown config keys: {sorted(unknown)}")
    try:
        train(TrainConfig(**values), resume=args.resume)
    except (ValueError, RuntimeError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
