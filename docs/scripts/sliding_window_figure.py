"""Draw docs/images/sliding_window.png: a 2D window layout and the Gaussian blending weights.

Three panels for a 200x160 image (height x width) with 96-pixel windows at overlap 0.5, all computed
by ``seg_train.inference.plan_windows`` and ``importance_map`` (the functions the inference uses):

1. the windows as rectangles, numbered in C order at their centres (scan interval int(96 * 0.5) = 48; the last window of each axis is
   pulled back inside the image: starts (0, 48, 96, 104) down and (0, 48, 64) across);
2. one window's Gaussian weights (sigma = 0.125 * 96 = 12 px, not normalised, floor 1e-3);
3. the weights of all windows summed over the image (the count map the blended logits are divided by).

Run: ``python docs/scripts/sliding_window_figure.py [--out docs/images/sliding_window.png]``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import torch
from matplotlib.patches import Rectangle

from seg_train.inference import importance_map, plan_windows

IMAGE, WINDOW, OVERLAP, SIGMA = (200, 160), 96, 0.5, 0.125


def draw(out: Path) -> None:
    plan = plan_windows(IMAGE, WINDOW, OVERLAP)
    weights = importance_map(plan.window_size, "gaussian", SIGMA)
    count = torch.zeros(plan.padded_size)
    for window in plan.windows():
        count[window] += weights

    fig, axes = plt.subplots(1, 3, figsize=(10.5, 4.0), dpi=80, constrained_layout=True)
    layout, single, summed = axes
    height, width = plan.padded_size
    colors = plt.get_cmap("tab10")
    layout.add_patch(Rectangle((0, 0), width, height, facecolor="0.93", edgecolor="black", lw=1.5))
    for i, (rows, cols) in enumerate(plan.windows()):
        color = colors(i % 10)
        shift = 1.5 * (i % 3)  # keep coinciding edges apart
        layout.add_patch(
            Rectangle(
                (cols.start + shift, rows.start + shift),
                WINDOW - 2 * shift,
                WINDOW - 2 * shift,
                fill=False,
                edgecolor=color,
                lw=1.4,
            )
        )
        centre = (cols.start + WINDOW / 2, rows.start + WINDOW / 2)
        layout.plot(*centre, "o", color=color, ms=4)
        layout.annotate(str(i), centre, xytext=(3, -3), textcoords="offset points", color=color, fontsize=8)
    layout.set_xlim(-4, width + 4)
    layout.set_ylim(height + 4, -4)
    layout.set_aspect("equal")
    starts = ", ".join(str(s) for s in plan.starts[0]), ", ".join(str(s) for s in plan.starts[1])
    layout.set_title(f"{plan.count} windows of {WINDOW} px, overlap {OVERLAP}", fontsize=10)
    layout.set_xlabel(f"starts across: {starts[1]}", fontsize=9)
    layout.set_ylabel(f"starts down: {starts[0]}", fontsize=9)

    image = single.imshow(weights.numpy(), cmap="magma", vmin=0, vmax=1)
    single.set_title(f"Gaussian weights, sigma = {SIGMA} x {WINDOW} px", fontsize=10)
    fig.colorbar(image, ax=single, shrink=0.8)

    image = summed.imshow(count.numpy(), cmap="viridis", vmin=0)
    summed.set_title("summed weights (the divisor)", fontsize=10)
    fig.colorbar(image, ax=summed, shrink=0.8)
    for ax in (single, summed):
        ax.tick_params(labelsize=8)
    layout.tick_params(labelsize=8)

    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=80)
    plt.close(fig)
    print(f"{out}: {out.stat().st_size / 1024:.0f} KB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    default = Path(__file__).resolve().parents[1] / "images" / "sliding_window.png"
    parser.add_argument("--out", type=Path, default=default, help="where to write the PNG")
    draw(parser.parse_args().out)


if __name__ == "__main__":
    main()
