"""Weight initialisation shared by every architecture (one scheme for all models)."""

from __future__ import annotations

from torch import nn

__all__ = ["initialize_decoder", "initialize_head"]

_NORMS = (nn.modules.batchnorm._NormBase, nn.GroupNorm, nn.LayerNorm)


def initialize_decoder(module: nn.Module) -> None:
    """Kaiming-uniform convolutions (fan-in, ReLU), zero biases, unit norms, Xavier linears."""
    for m in module.modules():
        if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose2d, nn.ConvTranspose3d)):
            nn.init.kaiming_uniform_(m.weight, mode="fan_in", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, _NORMS) or type(m).__name__ == "LayerNormNd":
            weight = getattr(m, "weight", None)
            bias = getattr(m, "bias", None)
            if weight is not None:
                nn.init.ones_(weight)
            if bias is not None:
                nn.init.zeros_(bias)
        elif isinstance(m, nn.Linear):
            nn.init.xavier_uniform_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)


def initialize_head(module: nn.Module) -> None:
    """Xavier-uniform weights and zero biases for the conv/linear layers of a head."""
    for m in module.modules():
        if isinstance(m, (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)):
            nn.init.xavier_uniform_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
