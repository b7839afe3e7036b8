"""nnU-Net-style planning: from a dataset's spacings and shapes to a trainable 3D configuration.

``plan(fingerprint, preset="m")`` derives, with nnU-Net v2's rules, the target spacing
(`seg_3d.plan.spacing`), the per-stage strides and kernel sizes and the depth
(`seg_3d.plan.topology`), a patch size that fits the preset's memory budget and the batch size
(`seg_3d.plan.memory`, `seg_3d.plan.planner`), and explains each decision. `plan_to_toml` prints it
as a seg-train config (`seg_3d.plan.config`); ``seg plan`` does all of it from the command line.
Nothing here imports torch.

Example:
    >>> from seg_3d.plan import Fingerprint, plan
    >>> p = plan(Fingerprint.from_lists([(5.0, 0.8, 0.8)] * 100, [(80, 512, 512)] * 100, num_classes=3))
    >>> p.patch_size, p.strides[1], p.kernel_sizes[0]
    ((32, 224, 192), (1, 2, 2), (1, 3, 3))
"""

from __future__ import annotations

from seg_3d.plan.config import encoder_geometry, plan_config, plan_to_toml
from seg_3d.plan.fingerprint import Fingerprint
from seg_3d.plan.memory import feature_map_size
from seg_3d.plan.planner import Plan, plan
from seg_3d.plan.spacing import TargetSpacing, target_spacing
from seg_3d.plan.topology import Topology, topology

__all__ = [
    "Fingerprint",
    "Plan",
    "TargetSpacing",
    "Topology",
    "encoder_geometry",
    "feature_map_size",
    "plan",
    "plan_config",
    "plan_to_toml",
    "target_spacing",
    "topology",
]
