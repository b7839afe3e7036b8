"""Vectorized augmentation kernels on (B, C, H, W) images and (B, H, W) masks, on any device.

One code path serves a single sample in a DataLoader worker (B = 1) and a collated batch on the GPU:

* every geometric step (scale, crop/pad, flips, rotation, perspective) is folded into one 3x3 matrix per
  sample that maps output pixel coordinates to input pixel coordinates, so each image is resampled once, at
  the output size (crop before resize/rotate);
* axis-aligned maps (no rotation, no perspective) resample with an integer gather (exact, any dtype, uint8
  stays uint8); others use ``grid_sample`` on the bounding box of the needed input region only;
* masks always use nearest sampling and get ``ignore_index`` wherever the output comes from outside the input;
* color jitter is one 3x3 matrix plus offset per sample (brightness, contrast, saturation, YIQ hue rotation);
  blur is a separable grouped convolution with a per-sample sigma.

Coordinates are continuous pixel coordinates: pixel ``(i, j)`` covers ``[j, j + 1) x [i, i + 1)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as nnf

# RGB <-> YIQ (NTSC); a hue shift is a rotation of the (I, Q) chroma plane.
_RGB2YIQ = torch.tensor(
    [[0.299, 0.587, 0.114], [0.595716, -0.274453, -0.321263], [0.211456, -0.522591, 0.311135]], dtype=torch.float64
)
_YIQ2RGB = torch.linalg.inv(_RGB2YIQ)
_GRAY = torch.tensor([0.299, 0.587, 0.114], dtype=torch.float64)  # the weights torchvision uses


@dataclass(frozen=True)
class AugmentConfig:
    """Validated options of :class:`~seg_data.transforms.SegmentationAugment` (see there)."""

    hflip: float
    vflip: float
    scale_range: tuple[float, float]
    crop_size: tuple[int, int] | None
    rotation: float
    perspective: float
    perspective_p: float
    color_jitter: tuple[float, float, float, float] | None
    blur: float
    blur_kernel: int
    blur_sigma: tuple[float, float]
    mode: str  # grid_sample mode of the image: "bilinear", "nearest" or "bicubic"


@dataclass
class Geometry:
    """Inverse maps (B, 3, 3) float64 (output coords -> input coords) and the output size."""

    inverse: torch.Tensor
    out_hw: tuple[int, int]


def _uniform(lo: float, hi: float, n: int, generator: torch.Generator | None) -> torch.Tensor:
    return lo + (hi - lo) * torch.rand(n, generator=generator, dtype=torch.float64)


def draw_geometry(
    cfg: AugmentConfig, batch: int, in_hw: tuple[int, int], generator: torch.Generator | None, *, fixed_out: bool
) -> Geometry:
    """Draw scale, crop offset, flips, rotation and perspective for ``batch`` samples and compose them.

    Args:
        cfg: The options.
        batch: Number of independent draws.
        in_hw: Input ``(H, W)``.
        generator: CPU generator (None: torch's global generator, as seeded per sample by the datasets).
        fixed_out: Output size must not depend on the draw (batches): without ``crop_size`` the output is the
            input size (scale jitter then crops or pads back to it).

    Returns:
        The composed inverse maps on the CPU and the output size.
    """
    h, w = in_hw
    b = batch
    s = _uniform(cfg.scale_range[0], cfg.scale_range[1], b, generator)
    u_top, u_left = torch.rand(2, b, generator=generator, dtype=torch.float64)
    flip_h = torch.rand(b, generator=generator, dtype=torch.float64) < cfg.hflip
    flip_v = torch.rand(b, generator=generator, dtype=torch.float64) < cfg.vflip
    angle = _uniform(-cfg.rotation, cfg.rotation, b, generator) * (math.pi / 180.0)
    do_persp = torch.rand(b, generator=generator, dtype=torch.float64) < cfg.perspective_p
    corners = torch.rand(b, 4, 2, generator=generator, dtype=torch.float64)

    sh = torch.clamp(torch.round(h * s), min=1)
    sw = torch.clamp(torch.round(w * s), min=1)
    if cfg.crop_size is not None:
        ch, cw = cfg.crop_size
    elif fixed_out or b > 1:
        ch, cw = h, w
    else:
        ch, cw = int(sh[0]), int(sw[0])
    # crop offset in the scaled image; negative = the image sits inside a padded crop
    lo_t, hi_t = torch.clamp(sh - ch, max=0), torch.clamp(sh - ch, min=0)
    lo_l, hi_l = torch.clamp(sw - cw, max=0), torch.clamp(sw - cw, min=0)
    top = lo_t + torch.floor(u_top * (hi_t - lo_t + 1)).clamp(max=hi_t - lo_t)
    left = lo_l + torch.floor(u_left * (hi_l - lo_l + 1)).clamp(max=hi_l - lo_l)

    eye = torch.eye(3, dtype=torch.float64).expand(b, 3, 3)
    # output -> pre-perspective: homography from the distorted corners back to the crop corners
    inv = _perspective_inverse(cw, ch, cfg.perspective, corners, do_persp) if cfg.perspective > 0 else eye.clone()
    if cfg.rotation > 0:  # rotate about the crop center
        c, sn = torch.cos(angle), torch.sin(angle)
        rot = eye.clone()
        cx, cy = cw / 2.0, ch / 2.0
        rot[:, 0, 0], rot[:, 0, 1], rot[:, 0, 2] = c, -sn, cx - c * cx + sn * cy
        rot[:, 1, 0], rot[:, 1, 1], rot[:, 1, 2] = sn, c, cy - sn * cx - c * cy
        inv = rot @ inv
    flip = eye.clone()
    flip[:, 0, 0] = torch.where(flip_h, -1.0, 1.0)
    flip[:, 0, 2] = torch.where(flip_h, float(cw), 0.0)
    flip[:, 1, 1] = torch.where(flip_v, -1.0, 1.0)
    flip[:, 1, 2] = torch.where(flip_v, float(ch), 0.0)
    inv = flip @ inv
    # crop offset, then undo the scale (exact factors of the rounded scaled size)
    crop_scale = eye.clone()
    crop_scale[:, 0, 0] = w / sw
    crop_scale[:, 0, 2] = left * (w / sw)
    crop_scale[:, 1, 1] = h / sh
    crop_scale[:, 1, 2] = top * (h / sh)
    inv = crop_scale @ inv
    return Geometry(inv, (int(ch), int(cw)))


def _perspective_inverse(
    cw: int, ch: int, distortion: float, corners: torch.Tensor, active: torch.Tensor
) -> torch.Tensor:
    """Homographies mapping randomly inward-moved corners (output) to the crop corners, identity where inactive."""
    b = corners.shape[0]
    start = torch.tensor([[0.0, 0.0], [cw, 0.0], [cw, ch], [0.0, ch]], dtype=torch.float64).expand(b, 4, 2)
    reach = torch.tensor([distortion * cw / 2.0, distortion * ch / 2.0], dtype=torch.float64)
    inward = torch.tensor([[1.0, 1.0], [-1.0, 1.0], [-1.0, -1.0], [1.0, -1.0]], dtype=torch.float64)
    end = start + inward * corners * reach * active.view(b, 1, 1)
    x, y = end[..., 0], end[..., 1]
    u, v = start[..., 0], start[..., 1]
    zeros, ones = torch.zeros_like(x), torch.ones_like(x)
    rows_u = torch.stack([x, y, ones, zeros, zeros, zeros, -x * u, -y * u], -1)
    rows_v = torch.stack([zeros, zeros, zeros, x, y, ones, -x * v, -y * v], -1)
    a = torch.cat([rows_u, rows_v], 1)
    rhs = torch.cat([u, v], 1)
    sol = torch.linalg.solve(a, rhs)
    return torch.cat([sol, torch.ones(b, 1, dtype=torch.float64)], 1).view(b, 3, 3)


def is_axis_aligned(inverse: torch.Tensor) -> bool:
    """True when every map is a scale/flip plus translation (no rotation, no perspective)."""
    off = inverse[:, 0, 1].abs() + inverse[:, 1, 0].abs() + inverse[:, 2, 0].abs() + inverse[:, 2, 1].abs()
    return bool((off < 1e-12).all())


def _axis_indices(inverse: torch.Tensor, out_hw: tuple[int, int], in_hw: tuple[int, int]) -> tuple[torch.Tensor, ...]:
    ho, wo = out_hw
    ys = torch.arange(ho, dtype=torch.float64) + 0.5
    xs = torch.arange(wo, dtype=torch.float64) + 0.5
    iy = torch.floor(inverse[:, 1, 1, None] * ys + inverse[:, 1, 2, None] + 1e-9).long()
    ix = torch.floor(inverse[:, 0, 0, None] * xs + inverse[:, 0, 2, None] + 1e-9).long()
    vy = (iy >= 0) & (iy < in_hw[0])
    vx = (ix >= 0) & (ix < in_hw[1])
    return iy.clamp(0, in_hw[0] - 1), ix.clamp(0, in_hw[1] - 1), vy, vx


def gather_axis_aligned(x: torch.Tensor, inverse: torch.Tensor, out_hw: tuple[int, int], fill: float) -> torch.Tensor:
    """Nearest resampling of (B, C, H, W) ``x`` under axis-aligned maps by integer indexing (exact, keeps dtype).

    Unit-step maps (crop, pad, flips) are plain slices; others select rows and columns by index.
    """
    b, _, h, w = x.shape
    iy, ix, vy, vx = _axis_indices(inverse, out_hw, (h, w))
    ho, wo = out_hw
    if b == 1:
        out = _take(_take(x, 2, iy[0]), 3, ix[0])
    else:
        bi = torch.arange(b, device=x.device).view(b, 1, 1)
        dev_iy, dev_ix = iy.to(x.device), ix.to(x.device)
        out = x.permute(0, 2, 3, 1)[bi, dev_iy.view(b, ho, 1), dev_ix.view(b, 1, wo)].permute(0, 3, 1, 2)
    if bool(vy.all()) and bool(vx.all()):
        return out
    valid = (vy.view(b, 1, ho, 1) & vx.view(b, 1, 1, wo)).to(x.device)
    return out.masked_fill(~valid, fill)


def _take(x: torch.Tensor, dim: int, index: torch.Tensor) -> torch.Tensor:
    """``x.index_select(dim, index)``, as a (possibly flipped) slice when ``index`` steps by +-1."""
    n = index.numel()
    first, last = int(index[0]), int(index[-1])
    if n > 1 and abs(last - first) == n - 1 and bool((index.diff().abs() == 1).all()):
        lo = min(first, last)
        part = x.narrow(dim, lo, n)
        return part.flip(dim) if last < first else part
    if n == 1 or bool((index == first).all()):
        return x.narrow(dim, first, 1).expand(*[n if d == dim else -1 for d in range(x.ndim)])
    return x.index_select(dim, index.to(x.device))


def _roi(inverse: torch.Tensor, out_hw: tuple[int, int], in_hw: tuple[int, int], margin: int) -> tuple[int, ...]:
    """Bounding box (y0, y1, x0, x1) of the input region any output pixel reads (union over the batch)."""
    ho, wo = out_hw
    pts = torch.tensor([[0.0, 0.0, 1.0], [wo, 0.0, 1.0], [wo, ho, 1.0], [0.0, ho, 1.0]], dtype=torch.float64)
    mapped = torch.einsum("bij,kj->bki", inverse, pts)
    xy = mapped[..., :2] / mapped[..., 2:].clamp(min=1e-9)
    x0 = max(0, min(in_hw[1] - 1, math.floor(float(xy[..., 0].min())) - margin))
    y0 = max(0, min(in_hw[0] - 1, math.floor(float(xy[..., 1].min())) - margin))
    x1 = min(in_hw[1], max(x0 + 1, math.ceil(float(xy[..., 0].max())) + margin))
    y1 = min(in_hw[0], max(y0 + 1, math.ceil(float(xy[..., 1].max())) + margin))
    return y0, y1, x0, x1


def grid_warp(x: torch.Tensor, inverse: torch.Tensor, out_hw: tuple[int, int], mode: str) -> torch.Tensor:
    """Resample (B, C, H, W) ``x`` under projective maps with ``grid_sample`` (0 outside).

    Only the bounding box of the region the output reads is converted to float and sampled.
    """
    h, w = x.shape[-2:]
    y0, y1, x0, x1 = _roi(inverse, out_hw, (h, w), margin=3)
    shift = torch.eye(3, dtype=torch.float64)
    shift[0, 2], shift[1, 2] = -x0, -y0
    m = shift @ inverse
    src = x[:, :, y0:y1, x0:x1]
    src = src if src.is_floating_point() else src.float()
    rh, rw = y1 - y0, x1 - x0
    # normalized grid (align_corners=False): g = 2 * u / size - 1
    norm = torch.tensor([[2.0 / rw, 0.0, -1.0], [0.0, 2.0 / rh, -1.0], [0.0, 0.0, 1.0]], dtype=torch.float64)
    m = norm @ m
    grid = _input_coords(m, out_hw, x.device, src.dtype)
    return nnf.grid_sample(src, grid, mode=mode, padding_mode="zeros", align_corners=False)


def _input_coords(
    inverse: torch.Tensor, out_hw: tuple[int, int], device: torch.device, dtype: torch.dtype
) -> torch.Tensor:
    """(B, H, W, 2) input pixel coordinates ``(u, v)`` of the output pixel centers."""
    ho, wo = out_hw
    xs = (torch.arange(wo, device=device, dtype=dtype) + 0.5).view(1, 1, wo)
    ys = (torch.arange(ho, device=device, dtype=dtype) + 0.5).view(1, ho, 1)
    r = inverse.to(device=device, dtype=dtype).view(-1, 9, 1, 1)
    coords = torch.empty(r.shape[0], ho, wo, 2, device=device, dtype=dtype)
    torch.add(r[:, 0] * xs + r[:, 2], r[:, 1] * ys, out=coords[..., 0])
    torch.add(r[:, 3] * xs + r[:, 5], r[:, 4] * ys, out=coords[..., 1])
    if not is_axis_aligned(inverse):
        coords.div_(torch.add(r[:, 6] * xs + r[:, 8], r[:, 7] * ys).unsqueeze(-1))
    return coords


def nearest_warp(x: torch.Tensor, inverse: torch.Tensor, out_hw: tuple[int, int], fill: float) -> torch.Tensor:
    """Nearest resampling (pixel ``floor(u), floor(v)``) of (B, C, H, W) ``x`` by flat indexing; keeps the dtype."""
    b, c, h, w = x.shape
    ho, wo = out_hw
    xs = (torch.arange(wo, device=x.device, dtype=torch.float32) + 0.5).view(1, 1, wo)
    ys = (torch.arange(ho, device=x.device, dtype=torch.float32) + 0.5).view(1, ho, 1)
    r = inverse.to(device=x.device, dtype=torch.float32).view(-1, 9, 1, 1)
    u = torch.add(r[:, 0] * xs + r[:, 2], r[:, 1] * ys)
    v = torch.add(r[:, 3] * xs + r[:, 5], r[:, 4] * ys)
    if not is_axis_aligned(inverse):
        den = torch.add(r[:, 6] * xs + r[:, 8], r[:, 7] * ys)
        u.div_(den)
        v.div_(den)
    valid = (u >= 0) & (u < w) & (v >= 0) & (v < h)
    flat = (v.clamp_(0, h - 1).floor_().mul_(w) + u.clamp_(0, w - 1).floor_()).long()
    if b == 1:
        out = x.reshape(c, h * w).index_select(1, flat.view(-1)).view(1, c, ho, wo)
    else:
        out = x.reshape(b, c, h * w).gather(2, flat.view(b, 1, -1).expand(b, c, -1)).view(b, c, ho, wo)
    return out if bool(valid.all()) else out.masked_fill(~valid[:, None], fill)


def warp_mask(mask: torch.Tensor, geometry: Geometry, ignore_index: int) -> torch.Tensor:
    """Nearest-resample (B, H, W) masks; pixels from outside the input get ``ignore_index``."""
    if is_axis_aligned(geometry.inverse):
        return gather_axis_aligned(mask[:, None], geometry.inverse, geometry.out_hw, ignore_index)[:, 0]
    return nearest_warp(mask[:, None], geometry.inverse, geometry.out_hw, ignore_index)[:, 0]


def warp_image(image: torch.Tensor, geometry: Geometry, mode: str) -> torch.Tensor:
    """Resample (B, C, H, W) images (0 outside). Nearest and unscaled axis-aligned maps keep the dtype (exact)."""
    inv = geometry.inverse
    if is_axis_aligned(inv):
        unit = bool(((inv[:, 0, 0].abs() - 1).abs() < 1e-12).all() and ((inv[:, 1, 1].abs() - 1).abs() < 1e-12).all())
        if mode == "nearest" or unit:
            return gather_axis_aligned(image, inv, geometry.out_hw, 0)
    elif mode == "nearest":
        return nearest_warp(image, inv, geometry.out_hw, 0)
    return grid_warp(image, inv, geometry.out_hw, mode)


def draw_color(
    jitter: tuple[float, float, float, float], batch: int, generator: torch.Generator | None
) -> torch.Tensor:
    """Per-sample factors (B, 4): brightness, contrast, saturation (around 1) and hue shift (turns)."""
    b, c, s, h = jitter
    return torch.stack(
        [
            _uniform(max(0.0, 1 - b), 1 + b, batch, generator),
            _uniform(max(0.0, 1 - c), 1 + c, batch, generator),
            _uniform(max(0.0, 1 - s), 1 + s, batch, generator),
            _uniform(-h, h, batch, generator),
        ],
        1,
    )


def color_jitter(image: torch.Tensor, factors: torch.Tensor, max_value: float) -> torch.Tensor:
    """Brightness, contrast, saturation and hue in that order, as one affine color map per sample.

    ``out = H S (c b x + (1 - c) b mean_gray(x))``, clamped to ``[0, max_value]`` once at the end (no
    intermediate clamping). Hue rotates the YIQ chroma plane, a cheap stand-in for an HSV hue shift.
    """
    b = image.shape[0]
    bright, contrast, sat, hue = factors.unbind(1)
    if image.shape[1] < 3:  # gray: brightness and contrast only
        dev, dt = image.device, image.dtype
        gain = (contrast * bright).to(dev, dt).view(b, 1, 1, 1)
        offset = ((1 - contrast) * bright).to(dev, dt).view(b, 1, 1, 1) * image.mean(dim=(1, 2, 3), keepdim=True)
        return (image * gain + offset).clamp_(0.0, max_value)
    gray = _GRAY.expand(3, 3)
    eye = torch.eye(3, dtype=torch.float64)
    m_sat = sat.view(b, 1, 1) * eye + (1 - sat).view(b, 1, 1) * gray
    theta = hue * 2 * math.pi
    rot = torch.zeros(b, 3, 3, dtype=torch.float64)
    rot[:, 0, 0] = 1.0
    rot[:, 1, 1], rot[:, 1, 2] = torch.cos(theta), -torch.sin(theta)
    rot[:, 2, 1], rot[:, 2, 2] = torch.sin(theta), torch.cos(theta)
    m_hue = _YIQ2RGB @ rot @ _RGB2YIQ
    m = m_hue @ m_sat * (contrast * bright).view(b, 1, 1)
    dev, dt = image.device, image.dtype
    mean_gray = torch.einsum("c,bchw->b", _GRAY.to(dev, dt), image[:, :3]) / (image.shape[-1] * image.shape[-2])
    offset = (1 - contrast).to(dev, dt) * bright.to(dev, dt) * mean_gray
    out = torch.einsum("bij,bjhw->bihw", m.to(dev, dt), image[:, :3]) + offset.view(b, 1, 1, 1)
    out = out.clamp_(0.0, max_value)
    return torch.cat([out, image[:, 3:]], 1) if image.shape[1] > 3 else out


def gaussian_blur(image: torch.Tensor, sigma: torch.Tensor, kernel: int) -> torch.Tensor:
    """Separable Gaussian blur with a per-sample sigma (B,); sigma <= 0 leaves the sample unchanged.

    Weighted sums of shifted views (replicate padding): faster on CPU than a grouped convolution for small
    kernels, and the same code on any device.
    """
    b, _, h, w = image.shape
    r = kernel // 2
    t = torch.arange(-r, r + 1, dtype=torch.float64)
    sig = sigma.clamp(min=1e-6).view(b, 1)
    k = torch.exp(-0.5 * (t / sig) ** 2)
    k = k / k.sum(1, keepdim=True)
    k = torch.where((sigma > 0).view(b, 1), k, (t == 0).to(torch.float64).expand(b, -1))
    k = k.to(image.device, image.dtype).view(b, kernel, 1, 1, 1)
    x = nnf.pad(image, (r, r, r, r), mode="replicate") if r else image
    rows = x[:, :, 0:h, :] * k[:, 0]
    for i in range(1, kernel):
        rows.add_(x[:, :, i : i + h, :] * k[:, i])
    out = rows[..., 0:w] * k[:, 0]
    for i in range(1, kernel):
        out.add_(rows[..., i : i + w] * k[:, i])
    return out
