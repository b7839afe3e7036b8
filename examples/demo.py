"""seg demo: build a Unet by name, train it briefly on the built-in synthetic dataset, save and reload it.

Run with `nox -s demo` (or `python examples/demo.py` in a workspace environment).
Everything is local: no weights or data are downloaded.
"""

from __future__ import annotations

import argparse
import tempfile
import time

import torch

import seg_core
import seg_train


def _batches(dataset, batch_size: int):
    loader = torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=True, num_workers=0)
    while True:
        yield from loader


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--arch", default="unet")
    parser.add_argument("--encoder", default="basic_cnn")
    args = parser.parse_args()
    torch.manual_seed(0)

    from seg_data import create_dataset

    train = create_dataset("synthetic", split="train", size=args.size, num_samples=256, data_seed=0)
    val = create_dataset("synthetic", split="val", size=args.size, num_samples=32, data_seed=1)
    meta = train.metadata
    print(f"dataset: synthetic, {meta.num_classes} classes {list(meta.labels)}, ignore_index={meta.ignore_index}")

    model = seg_core.create_model(
        args.arch,
        encoder_name=args.encoder,
        encoder_depth=4,
        classes=meta.num_classes,
        decoder_channels=[64, 32, 16, 8],
    )
    params = sum(p.numel() for p in model.parameters())
    print(f"model: {args.arch} with {args.encoder}, {params / 1e6:.2f} M parameters")
    if hasattr(model.encoder, "features_info_str"):
        print(model.encoder.features_info_str)

    images, masks = next(iter(torch.utils.data.DataLoader(val, batch_size=len(val))))

    metric = seg_train.create_metric("segmentation", num_classes=meta.num_classes, ignore_index=meta.ignore_index)

    def evaluate() -> float:
        metric.reset()
        metric.update(model.predict(images), masks)
        return float(metric.compute()["miou"])

    before = evaluate()
    # Everything by name, as a config would say it: cross-entropy + 0.5 Dice, AdamW, linear warmup + poly decay.
    loss_fn = seg_train.create_loss("cross_entropy", ignore_index=meta.ignore_index) + 0.5 * seg_train.create_loss(
        "dice", mode="multiclass", ignore_index=meta.ignore_index
    )
    optimizer = seg_train.create_optimizer("AdamW", model, lr=3e-3, weight_decay=1e-4, no_decay_norm_bias=True)
    scheduler = seg_train.create_scheduler("warmup_poly", optimizer, total_steps=args.steps, warmup_steps=5)
    start = time.perf_counter()
    model.train()
    for step, (x, y) in zip(range(1, args.steps + 1), _batches(train, 8)):
        loss = loss_fn(model(x), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        scheduler.step()
        if step % 20 == 0 or step == 1:
            terms = "  ".join(f"{name} {value.item():.4f}" for name, value in loss_fn.last.items())
            print(f"step {step:4d}  loss {loss.item():.4f}  ({terms})")
    after = evaluate()
    print(f"trained {args.steps} steps in {time.perf_counter() - start:.1f} s: val mIoU {before:.3f} -> {after:.3f}")

    with tempfile.TemporaryDirectory() as tmp:
        model.save_pretrained(tmp)
        reloaded = seg_core.from_pretrained(tmp)
        same = torch.equal(model.predict(images), reloaded.predict(images))
    print(f"save_pretrained/from_pretrained round trip identical: {same}")
    if not same or after <= before:
        raise SystemExit("demo failed: the model did not improve or did not reload identically")


if __name__ == "__main__":
    main()
