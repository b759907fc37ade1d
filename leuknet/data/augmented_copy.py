"""``leuknet augment``: a balanced, augmented copy of a data set on disk (the source is only read).

Kept apart from :mod:`leuknet.augment` (the transforms, which the pipeline imports) so that imports run one way:
this module reads files through the pipeline and augments them.
"""

from __future__ import annotations

import cv2

from leuknet.augment import OLIVEIRA, AugmentConfig, augment_image, balance_plan
from leuknet.errors import DataError


def write_augmented_copy(dataset, per_class, out, seed=0, config: AugmentConfig = OLIVEIRA, progress=None,
                         checked=None):
    """``leuknet augment``: a folder per class with ``per_class`` images each (originals copied, the rest
    augmented) and ``manifest.csv`` (output, source, class, ops). The source folder is only read. Unreadable
    source files are left out first (each file is decoded once to check it; ``checked(n)`` counts them) and listed
    with the reason in ``skipped.csv``, as ``leuknet train`` lists them. The copy is written to ``<out>.partial``
    and renamed to ``out`` when whole: an error leaves no half-written copy. Returns (out, skipped pairs)."""
    import os
    import shutil
    from pathlib import Path

    from leuknet.data.images import read_image
    from leuknet.io import write_csv

    out = Path(out).resolve()  # '.' or 'a/..' have no name to put '.partial' after
    dataset, skipped = readable_part(dataset, checked)
    classes = sorted({s.label for s in dataset.samples})
    if len(classes) < len(dataset.classes):
        empty = sorted(set(dataset.classes) - set(classes))
        raise DataError(f"no readable image in class {', '.join(empty)} (unreadable files: {len(skipped)}, first: "
                        f"{skipped[0][0]}: {skipped[0][1]})")
    idx, seeds = balance_plan(dataset.labels, per_class, seed)
    partial = out.with_name(out.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)  # what an earlier, interrupted copy left
    try:
        rows = []
        for k, (i, s) in enumerate(zip(idx, seeds)):
            sample = dataset.samples[i]
            img = read_image(sample.path)
            ops = []
            if s >= 0:
                img, ops = augment_image(img, int(s), config)
            d = partial / sample.label
            d.mkdir(parents=True, exist_ok=True)
            name = f"{k:06d}_{Path(sample.path).stem}{'_aug' if ops else ''}.png"
            if not cv2.imwrite(str(d / name), cv2.cvtColor(img, cv2.COLOR_RGB2BGR)):
                raise OSError(f"{d / name}: could not be written")
            rows.append([f"{sample.label}/{name}", sample.path, sample.label, int(s), ";".join(ops)])
            if progress:
                progress(1)
        write_csv(partial / "manifest.csv", ["file", "source", "class", "seed", "ops"], rows)
        if skipped:
            write_csv(partial / "skipped.csv", ["file", "reason"], [list(p) for p in skipped])
        if out.is_dir():  # an empty folder made for it (or '.'): kept, the copy moved in, manifest.csv last
            for entry in sorted(partial.iterdir(), key=lambda e: e.name == "manifest.csv"):
                os.rename(entry, out / entry.name)
            partial.rmdir()
        else:
            os.rename(partial, out)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return out, skipped


def readable_part(dataset, checked=None):
    """(the data set without its unreadable files, [(path, reason), ...] for those): every file decoded once by
    the pipeline's scan (a thread pool; on Ctrl-C the chunks not started are dropped)."""
    from leuknet.data.images import unreadable_reason
    from leuknet.data.pipeline import unreadable_files

    bad = set(unreadable_files([s.path for s in dataset.samples], checked))
    skipped = [(dataset.samples[i].path, unreadable_reason(dataset.samples[i].path)) for i in sorted(bad)]
    return dataset.subset([i for i in range(len(dataset)) if i not in bad]), skipped
