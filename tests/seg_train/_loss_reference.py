"""Plain numpy formulas for the losses, written from the papers and torch's documentation.

They loop and index the obvious way (ignored pixels are *removed*, not masked), so they share no
code and no trick with seg_train.losses.
"""

from __future__ import annotations

import numpy as np


def softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def layout(pred: np.ndarray, target: np.ndarray, mode: str, ignore: int | None):
    """Per class c: the list of (prob-or-logit, target) pairs over valid pixels of the whole batch,
    and per image. Returns pred (N, C, P), onehot (N, C, P), valid (N, C, P)."""
    n, c = pred.shape[:2]
    p = pred.reshape(n, c, -1)
    if mode == "multiclass":
        t = target.reshape(n, -1)
        valid = np.ones_like(t, dtype=bool) if ignore is None else t != ignore
        onehot = np.stack([(t == k) for k in range(c)], axis=1).astype(float)
        valid = np.repeat(valid[:, None], c, axis=1)
    else:
        t = target.reshape(n, c, -1).astype(float)
        valid = np.ones_like(t, dtype=bool) if ignore is None else t != ignore
        onehot = np.where(valid, t, 0.0)
    return p, onehot * valid, valid


def region_counts(probs, onehot, valid, per_image: bool):
    """TP, FP, FN per class (or per image and class) over valid pixels only."""
    n, c, _ = probs.shape
    out = np.zeros((n, c, 3)) if per_image else np.zeros((c, 3))
    for i in range(n):
        for k in range(c):
            v = valid[i, k]
            p, t = probs[i, k][v], onehot[i, k][v]
            counts = np.array([(p * t).sum(), (p * (1 - t)).sum(), ((1 - p) * t).sum()])
            if per_image:
                out[i, k] += counts
            else:
                out[k] += counts
    return out[..., 0], out[..., 1], out[..., 2]


def activate(pred, mode):
    return softmax(pred) if mode == "multiclass" else sigmoid(pred)


def weighted_mean(values, weight):
    if weight is None:
        return values.mean(-1)
    w = np.asarray(weight, dtype=float)
    return (values * w).sum(-1) / w.sum()


def region_loss(
    kind,
    pred,
    target,
    mode,
    ignore=None,
    weight=None,
    smooth=0.0,
    eps=1e-7,
    alpha=0.5,
    beta=0.5,
    gamma=1.0,
    log_loss=False,
    per_image=False,
    classes=None,
):
    p, t, v = layout(pred, target, mode, ignore)
    probs = activate(p, mode)
    tp, fp, fn = region_counts(probs, t, v, per_image)
    if kind == "dice":
        score = (2 * tp + smooth) / np.maximum(2 * tp + fp + fn + smooth, eps)
    elif kind == "jaccard":
        score = (tp + smooth) / np.maximum(tp + fp + fn + smooth, eps)
    else:
        score = (tp + smooth) / np.maximum(tp + alpha * fp + beta * fn + smooth, eps)
    loss = -np.log(np.maximum(score, eps)) if log_loss else 1 - score
    loss = loss * ((tp + fn) > 0)
    if classes is not None:
        loss = loss[..., list(classes)]
        weight = None if weight is None else np.asarray(weight)[list(classes)]
    out = weighted_mean(loss, weight)
    out = out.mean() if per_image else out
    return out**gamma if kind == "tversky" else out


def generalized_dice(pred, target, mode, ignore=None, weight=None, smooth=0.0, weight_type="square", eps=1e-7):
    p, t, v = layout(pred, target, mode, ignore)
    tp, fp, fn = region_counts(activate(p, mode), t, v, False)
    volume = tp + fn
    with np.errstate(divide="ignore"):
        w = {"square": 1 / volume**2, "simple": 1 / volume, "uniform": np.ones_like(volume)}[weight_type]
    finite = np.isfinite(w)
    w = np.where(finite, w, w[finite].max() if finite.any() else 0.0)
    if weight is not None:
        w = w * np.asarray(weight)
    if volume.sum() == 0:
        return 0.0
    return 1 - (2 * (w * tp).sum() + smooth) / max((w * (2 * tp + fp + fn)).sum() + smooth, eps)


def mcc(pred, target, mode, ignore=None, weight=None, eps=1e-5, from_logits=True):
    p, t, v = layout(pred, target, mode, ignore)
    probs = activate(p, mode) if from_logits else p
    c = p.shape[1]
    losses = []
    for k in range(c):
        pk, tk = probs[:, k][v[:, k]], t[:, k][v[:, k]]
        tp = (pk * tk).sum() + eps
        tn = ((1 - pk) * (1 - tk)).sum() + eps
        fp = (pk * (1 - tk)).sum() + eps
        fn = ((1 - pk) * tk).sum() + eps
        losses.append(1 - (tp * tn - fp * fn) / np.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn)))
    return weighted_mean(np.array(losses), weight)


def focal_sigmoid(pred, target, mode, ignore=None, weight=None, gamma=2.0, alpha=None):
    p, t, v = layout(pred, target, mode, ignore)
    c = p.shape[1]
    per_class = []
    for k in range(c):
        x, y = p[:, k][v[:, k]], t[:, k][v[:, k]]
        prob = sigmoid(x)
        pt = np.where(y == 1, prob, 1 - prob)
        term = -((1 - pt) ** gamma) * np.log(pt)
        if alpha is not None:
            term = term * np.where(y == 1, alpha, 1 - alpha)
        per_class.append(term.mean() if term.size else 0.0)
    return weighted_mean(np.array(per_class), weight)


def focal_softmax(pred, target, ignore=None, weight=None, gamma=2.0):
    n, c = pred.shape[:2]
    probs = softmax(pred).reshape(n, c, -1)
    t = target.reshape(n, -1)
    w = np.ones(c) if weight is None else np.asarray(weight)
    num = den = 0.0
    for i in range(n):
        for j in range(t.shape[1]):
            y = t[i, j]
            if ignore is not None and y == ignore:
                continue
            pt = probs[i, y, j]
            num += -w[y] * (1 - pt) ** gamma * np.log(pt)
            den += w[y]
    return num / den


def cross_entropy(pred, target, ignore=None, weight=None, label_smoothing=0.0):
    """torch's definition: mean = sum_i loss_i / sum_i w_{y_i} over non-ignored pixels."""
    n, c = pred.shape[:2]
    logp = np.log(softmax(pred)).reshape(n, c, -1)
    t = target.reshape(n, -1)
    w = np.ones(c) if weight is None else np.asarray(weight)
    num = den = 0.0
    for i in range(n):
        for j in range(t.shape[1]):
            y = t[i, j]
            if ignore is not None and y == ignore:
                continue
            nll = -w[y] * logp[i, y, j]
            smooth = -(w * logp[i, :, j]).sum() / c
            num += (1 - label_smoothing) * nll + label_smoothing * smooth
            den += w[y]
    return num / den


def binary_cross_entropy(pred, target, mode, ignore=None, weight=None, pos_weight=None, smoothing=0.0):
    p, t, v = layout(pred, target, mode, ignore)
    c = p.shape[1]
    w = np.ones(c) if weight is None else np.asarray(weight)
    pw = np.ones(c) if pos_weight is None else np.asarray(pos_weight)
    total, count = 0.0, 0
    for k in range(c):
        x, y = p[:, k][v[:, k]], t[:, k][v[:, k]]
        y = y * (1 - smoothing) + (1 - y) * smoothing
        prob = sigmoid(x)
        total += (w[k] * -(pw[k] * y * np.log(prob) + (1 - y) * np.log(1 - prob))).sum()
        count += x.size
    return total / count


def _lovasz_grad(gt_sorted):
    gts = gt_sorted.sum()
    intersection = gts - np.cumsum(gt_sorted)
    union = gts + np.cumsum(1 - gt_sorted)
    jaccard = 1.0 - intersection / union
    jaccard[1:] = jaccard[1:] - jaccard[:-1]
    return jaccard


def lovasz_flat(errors, gt):
    if errors.size == 0:
        return 0.0
    order = np.argsort(-errors, kind="stable")
    return float(np.maximum(errors[order], 0) @ _lovasz_grad(gt[order]))


def lovasz(pred, target, mode, ignore=None, weight=None, per_image=False, from_logits=True):
    """Berman's algorithm: ignored pixels removed; Lovasz-softmax over present classes (multiclass)."""
    n, c = pred.shape[:2]
    p, t, v = layout(pred, target, mode, ignore)
    w = np.ones(c) if weight is None else np.asarray(weight)
    if mode == "multiclass":
        p = softmax(p) if from_logits else p

    def classes_loss(images):
        losses, weights = [], []
        for k in range(c):
            e = np.concatenate([_errors(p[i, k][v[i, k]], t[i, k][v[i, k]]) for i in images])
            g = np.concatenate([t[i, k][v[i, k]] for i in images])
            if mode == "multiclass" and g.sum() == 0:
                continue
            losses.append(lovasz_flat(e, g))
            weights.append(w[k])
        if not losses:
            return 0.0
        return float(np.dot(losses, weights) / np.sum(weights))

    def _errors(x, y):
        if mode == "multiclass" or not from_logits:
            return np.abs(y - x)
        return 1.0 - x * (2 * y - 1)

    if per_image:
        return float(np.mean([classes_loss([i]) for i in range(n)]))
    return classes_loss(range(n))
