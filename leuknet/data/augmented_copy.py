"""``leuknet augment``: a balanced, augmented copy of a data set on disk (the source is only read).

Kept apart from :mod:`leuknet.augment` (the transforms, which the pipeline imports) so that imports run one way:
this module reads files through the pipeline and augments them.
"""

from __future__ import annotations

import cv2

from leuknet.augment import OLIVEIRA, AugmentConfig, augment_image, balance_plan


def write_augmented_copy(dataset, per_class, out, seed=0, config: AugmentConfig = OLIVEIRA, progress=None):
    """``leuknet augment``: a folder per class with ``per_class`` images each (originals copied, the rest
    augmented) and ``manifest.csv`` (output, source, class, ops). The source folder is only read."""
    from pathlib import Path

    from leuknet.data.images import read_image
    from leuknet.io import write_csv

    out = Path(out)
    labels = dataset.labels
    idx, seeds = balance_plan(labels, per_class, seed)
    rows = []
    for k, (i, s) in enumerate(zip(idx, seeds)):
        sample = dataset.samples[i]
        img = read_image(sample.path)
        ops = []
        if s >= 0:
            img, ops = augment_image(img, int(s), config)
        d = out / sample.label
        d.mkdir(parents=True, exist_ok=True)
        name = f"{k:06d}_{Path(sample.path).stem}{'_aug' if ops else ''}.png"
        cv2.imwrite(str(d / name), cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
        rows.append([f"{sample.label}/{name}", sample.path, sample.label, int(s), ";".join(ops)])
        if progress:
            progress(1)
    write_csv(out / "manifest.csv", ["file", "source", "class", "seed", "ops"], rows)
    return out
