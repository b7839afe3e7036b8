"""Progress of an epoch: a live tqdm bar on a terminal, plain log lines every N steps elsewhere (CI logs)."""

from __future__ import annotations

import logging
import sys
import time
from typing import Any

__all__ = ["Progress"]

log = logging.getLogger("seg_train")


def _duration(seconds: float) -> str:
    seconds = int(max(seconds, 0))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60:02d}:{rest % 60:02d}"


class Progress:
    """Report the steps of one epoch: loss, throughput (images/s), learning rate and ETA.

    Args:
        total: Optimizer steps in the epoch.
        epoch: The epoch (from 1).
        epochs: Epochs in the run.
        enabled: False on processes other than rank 0 (nothing is shown).
        log_every: Steps between log lines when not on a terminal.
        tty: Force the bar (True) or the log lines (False); default: whether stderr is a terminal.

    Example:
        >>> progress = Progress(10, epoch=1, epochs=2, tty=False, log_every=5)
        >>> progress.update(loss=0.5, lr=1e-3, images_per_second=100.0)
        >>> progress.close()
    """

    def __init__(
        self, total: int, *, epoch: int, epochs: int, enabled: bool = True, log_every: int = 10, tty: bool | None = None
    ) -> None:
        self.total, self.epoch, self.epochs = total, epoch, epochs
        self.enabled = enabled
        self.log_every = max(1, log_every)
        self.count = 0
        self.start = time.perf_counter()
        self.bar: Any = None
        if enabled and (sys.stderr.isatty() if tty is None else tty):
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total, desc=f"epoch {epoch}/{epochs}", unit="step", dynamic_ncols=True, leave=False)

    def update(self, *, loss: float, lr: float, images_per_second: float) -> None:
        """One optimizer step finished."""
        self.count += 1
        if not self.enabled:
            return
        if self.bar is not None:
            self.bar.set_postfix(loss=f"{loss:.4f}", img_s=f"{images_per_second:.1f}", lr=f"{lr:.3g}", refresh=False)
            self.bar.update(1)
            return
        if self.count % self.log_every == 0 or self.count == self.total:
            elapsed = time.perf_counter() - self.start
            eta = elapsed / self.count * (self.total - self.count)
            log.info(
                "epoch %d/%d step %d/%d loss %.4f %.1f img/s lr %.3g eta %s",
                self.epoch, self.epochs, self.count, self.total, loss, images_per_second, lr, _duration(eta),
            )  # fmt: skip

    def close(self) -> None:
        """The epoch's training part is over."""
        if self.bar is not None:
            self.bar.close()
