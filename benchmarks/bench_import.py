"""Import and listing cost: seg versus smp, measured side by side in fresh interpreters.

Each measurement runs in its own subprocess (imports are cached per process), several
times, and reports the median wall time and the ratio to smp where smp is installed.
Run: `nox -s bench` or `python benchmarks/bench_import.py [--repeat N]`.
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import subprocess
import sys
import time

CASES = {
    "import torch (baseline)": "import torch",
    "import seg_core": "import seg_core",
    "seg_core: list encoders + architectures": "import seg_core; seg_core.list_encoders(); seg_core.list_architectures()",
    "seg_core: build unet(basic_cnn)": "import seg_core; seg_core.create_model('unet', encoder_name='basic_cnn')",
}
SMP_CASES = {
    "import segmentation_models_pytorch": "import segmentation_models_pytorch",
    "smp: build Unet(resnet34, weights=None)": (
        "import segmentation_models_pytorch as smp; smp.Unet('resnet34', encoder_weights=None)"
    ),
}


def _time(code: str, repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    results = {name: _time(code, args.repeat) for name, code in CASES.items()}
    if importlib.util.find_spec("segmentation_models_pytorch") is not None:
        results.update({name: _time(code, args.repeat) for name, code in SMP_CASES.items()})
    width = max(map(len, results))
    print(f"{'case':<{width}}  median s (n={args.repeat})")
    for name, seconds in results.items():
        print(f"{name:<{width}}  {seconds:7.3f}")
    smp_import = results.get("import segmentation_models_pytorch")
    if smp_import:
        print(f"\nratio import seg_core / import smp: {results['import seg_core'] / smp_import:.3f}")
        ratio = results["seg_core: build unet(basic_cnn)"] / results["smp: build Unet(resnet34, weights=None)"]
        print(f"ratio build seg unet / build smp Unet: {ratio:.3f}")
    else:
        print("\n(smp not installed: install segmentation-models-pytorch to compare side by side)")


if __name__ == "__main__":
    main()
