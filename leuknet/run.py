"""One training run end to end: data -> split -> pipeline -> model -> solver -> run directory.

The run directory is built as ``<out>.partial`` and renamed to ``<out>`` only when everything is written, so a
reader never sees a half-written run; a failed run leaves nothing behind. The process that claims ``<out>.lock``
(:mod:`leuknet.locks`, released by the OS if the process dies) owns ``<out>`` and ``<out>.partial`` until the
rename; another process that asks for the same ``--out`` (new, ``--resume`` or ``--overwrite``) is refused with
one line naming the owner's pid. Contents:

- ``config.json``: the resolved configuration, trainingOptions, versions, device, seed, dataset description
  and fingerprint (``synthetic: true`` for the demo), split sizes, skipped files;
- ``model.keras``: the trained network (input statistics, colour space and class names inside);
- ``history.csv``: one row per iteration (validation columns where validated);
- ``metrics.json`` and ``predictions.csv``: the test split;
- ``splits.csv``: every file with its split; ``skipped.csv`` where unreadable files were skipped.
"""

from __future__ import annotations

import platform
import shutil
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from leuknet.config import RunConfig
from leuknet.errors import ConfigError, DataError, RunInUse  # noqa: F401  (leuknet.run.RunInUse)
from leuknet.io import load_model  # noqa: F401  (leuknet.run.load_model, as before)
from leuknet.ops import used as native_kernels


def versions() -> dict:
    """The versions a run depends on: Keras' backend and its version (TensorFlow, or JAX and jaxlib)."""
    import cv2
    import keras

    import leuknet

    backend = keras.backend.backend()
    if backend == "jax":
        import jax
        import jaxlib

        engine = {"jax": jax.__version__, "jaxlib": jaxlib.__version__}
    else:
        import tensorflow as tf

        engine = {"tensorflow": tf.__version__}
    return {"leuknet": leuknet.__version__, "python": platform.python_version(), "backend": backend, **engine,
            "keras": keras.__version__, "numpy": np.__version__, "opencv": cv2.__version__,
            "platform": platform.platform(), "processor": platform.processor() or platform.machine()}


def partial_dir(final: Path) -> Path:
    return final.with_name(final.name + ".partial")


def run_lock_path(final) -> Path:
    """``<out>.lock``: whoever holds it owns ``<out>`` and ``<out>.partial``."""
    from leuknet.locks import lock_path_for

    return lock_path_for(Path(final))


def write_checkpoint(path, state):
    """One .npz (variables, best weights, counters and history as JSON), written atomically."""
    import json

    from leuknet.io import atomic_path

    arrays = {f"v{i}": a for i, a in enumerate(state["variables"])}
    best = state.get("best_weights")
    if best is not None:
        arrays.update({f"b{i}": a for i, a in enumerate(best)})
    meta = {"counters": state["counters"], "rows": state["rows"], "n_variables": len(state["variables"]),
            "n_best": 0 if best is None else len(best)}
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, meta=np.array(json.dumps(meta)), **arrays)


def read_checkpoint(path) -> dict:
    import json

    from leuknet.errors import ModelFileError

    try:
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(str(z["meta"]))
            state = {"variables": [z[f"v{i}"] for i in range(meta["n_variables"])],
                     "best_weights": [z[f"b{i}"] for i in range(meta["n_best"])] if meta["n_best"] else None,
                     "counters": meta["counters"], "rows": meta["rows"]}
    except Exception as e:  # noqa: BLE001
        raise ModelFileError(f"checkpoint {path} cannot be read: {str(e).splitlines()[0][:200]}") from None
    return state


def load_dataset(cfg: RunConfig):
    from leuknet.data.sources import discover
    from leuknet.data.synthetic import demo_dataset

    if cfg.labels:
        from leuknet.data.sources import discover_csv

        return discover_csv(cfg.labels, cfg.data)
    if cfg.data:
        return discover(cfg.data, cfg.dataset_format)
    return demo_dataset(per_class=cfg.demo_per_class, seed=0)


# ---- the stages of a run ------------------------------------------------------------------------------------


@dataclass
class RunDirectory:
    """Where the run is written: ``partial`` while it runs, renamed to ``final`` when complete."""

    final: Path
    partial: Path
    scratch: Path | None = None  # a non-chief worker's scratch folder (only the chief writes the run)
    lock: object = None  # leuknet.locks.Lock on <final>.lock, held from the check to the rename

    @property
    def has_checkpoint(self) -> bool:
        return (self.partial / "checkpoint.npz").is_file()

    def release(self):
        if self.lock is not None:
            self.lock.release()


def writes_run_directory(cfg: RunConfig) -> bool:
    """False for a multi-worker run's non-chief workers (they write a scratch folder, not ``--out``)."""
    if str(cfg.strategy) != "multi-worker":
        return True
    from leuknet.profiles import tf_config

    cluster = tf_config()
    task = cluster["task"]
    return task["type"] == "chief" or (not cluster["cluster"].get("chief") and task.get("index", 0) == 0)


def claim_run_directory(final: Path):
    """The lock on ``final`` for this process (refused with one line while another process holds it)."""
    from leuknet.locks import claim

    return claim(run_lock_path(final), what=f"run directory {final}", error=RunInUse,
                 hint="wait for that run to finish, or choose another --out")


def check_run_directory(cfg: RunConfig) -> RunDirectory:
    """Stage 1: the run directory: claimed by this process (before anything is written, and before deciding: another
    process may be writing it), then free to write, or holding the checkpoint of the run to resume."""
    final = Path(cfg.out)
    lock = claim_run_directory(final) if writes_run_directory(cfg) else None
    try:
        return _check_claimed_run_directory(cfg, final, lock)
    except BaseException:
        if lock is not None:
            lock.release()
        raise


def _check_claimed_run_directory(cfg: RunConfig, final: Path, lock) -> RunDirectory:
    partial = partial_dir(final)
    ck = partial / "checkpoint.npz"
    if cfg.resume:
        if (final / "model.keras").exists() and not partial.exists():
            raise ConfigError(f"run {final} is already complete; nothing to resume")
        if not ck.is_file():
            raise ConfigError(f"{partial} has no checkpoint (the run stopped before its first one): start again "
                              f"with --out {final} --overwrite")
        return RunDirectory(final, partial, lock=lock)
    if final.exists() and any(final.iterdir()) and not cfg.overwrite:
        raise ConfigError(f"run directory {final} already exists and is not empty; choose another --out or pass "
                          "--overwrite")
    if partial.exists() and not cfg.overwrite:
        if ck.is_file():
            raise ConfigError(f"an interrupted run is in {partial}: pass --resume to continue it from its last "
                              "checkpoint, or --overwrite to start again")
        raise ConfigError(f"an earlier run stopped in {partial} before its first checkpoint: pass --overwrite to "
                          "start again")
    return RunDirectory(final, partial, lock=lock)


def check_run(cfg: RunConfig) -> RunDirectory:
    """Everything about a run that can be checked before any image is read: the configuration, the augmentation,
    the model's input size and the run directory."""
    from leuknet import models
    from leuknet.config import validate

    validate(cfg)  # the augmentation spec too
    models.check_input_size(cfg.model, cfg.image_size, cfg.pool_stride)
    check_device(cfg)
    return check_run_directory(cfg)


def check_device(cfg: RunConfig):
    """``--device gpu`` where the backend sees none: refused (one line) before a run or study is announced or
    writes anything (a multi-worker cluster lists its GPUs later, once its strategy exists)."""
    if str(cfg.device) == "gpu" and str(cfg.strategy) != "multi-worker":
        from leuknet.profiles import resolve_device

        resolve_device("gpu")


@dataclass
class Devices:
    profile: object
    strategy: object
    device: dict
    options: object  # TrainingOptions with MiniBatchSize = the global batch


def set_up_devices(cfg: RunConfig, cb) -> Devices:
    """Stage 2: the device profile, threads, dtype policy and distribution strategy (before any op runs)."""
    from leuknet.profiles import apply_profile, make_strategy, resolve_device, resolve_profile

    gpus = [] if cfg.strategy == "multi-worker" else None
    profile = resolve_profile(str(cfg.device), cfg.precision and str(cfg.precision), cfg.batch_size,
                              str(cfg.strategy), cache_mb=cfg.cache_mb, model=cfg.model, gpus=gpus)
    strategy = make_strategy(profile)  # before any op: collective ops are configured at start-up
    if cfg.deterministic and profile.backend == "tensorflow":  # XLA on CPU (JAX) is deterministic already
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()
    device = resolve_device(str(cfg.device))
    apply_profile(profile)
    cb("profile", profile.to_dict())
    # GPU profile: MiniBatchSize = per-replica batch x replicas (derived; the configuration keeps the per-replica)
    options = cfg.training_options(MiniBatchSize=profile.global_batch, Verbose=cfg.verbose)
    return Devices(profile, strategy, device, options)


@dataclass
class RunData:
    dataset: object  # leuknet.data.sources.Dataset (readable files only)
    splits: dict  # split name -> indices into dataset.samples
    train: object  # leuknet.data.pipeline.ImageData, after augmentation and balancing
    validation: object
    test: object
    skipped: list
    scan_seconds: float


def read_data(cfg: RunConfig, cb):
    """Stage 3a: find and decode every image (unreadable files skipped, with their reasons)."""
    from leuknet.data.pipeline import load_image_data, unreadable_reason

    dataset = load_dataset(cfg)
    cb("dataset", dataset.describe())
    paths = [s.path for s in dataset.samples]
    cb("scan", {"total": len(paths)})
    t = time.perf_counter()
    data, bad = load_image_data(paths, dataset.labels, (cfg.image_size, cfg.image_size), str(cfg.colorspace),
                                cfg.cache_mb, progress=lambda n: cb("scan_advance", {"n": n}), crop=cfg.crop)
    t = time.perf_counter() - t
    skipped = [(p, unreadable_reason(p, cfg.crop)) for p in bad]
    if bad:
        gone = set(bad)
        label_of = {s.path: s.label for s in dataset.samples}
        dataset = dataset.subset([i for i, p in enumerate(paths) if p not in gone])
        empty = [c for c, n in dataset.counts().items() if n == 0]
        if empty:
            first = next((p for p in bad if label_of.get(p) == empty[0]), None)
            why = dict(skipped).get(first, "")
            if "border crop leaves nothing" in why:
                why += f"; --crop {cfg.crop} (the recipe {cfg.recipe}'s unless given): give a smaller --crop (0: none)"
            raise DataError(f"class {empty[0]!r} has no readable images" + (f" ({first}: {why})" if first else ""))
        cb("skipped", {"files": bad, "reasons": dict(skipped)})  # listed in skipped.csv: the run goes on
    return dataset, data, skipped, t


def fold_splits(dataset, cfg: RunConfig) -> dict:
    """The splits of one cross-validation fold (``cfg.cv_fold`` = (K, fold, seed)): the test split is the fold's
    test cells of :func:`leuknet.data.split.cv_folds` (grouped by subject where the data has subjects), every one
    of them, unbalanced; the other cells are split as a run splits its data (``--split-by``, ``--balance``,
    ``--seed``), with the train and validation fractions of ``--split`` renormalised to fill them (the recipe's
    test fraction is the fold's job here)."""
    from leuknet.data.split import cv_folds, make_splits

    k, fold, fold_seed = cfg.cv_fold
    labels = np.asarray(dataset.labels)
    groups = [s.subject for s in dataset.samples] if dataset.has_subjects else None
    rest, test = cv_folds(labels, k, fold_seed, groups)[fold]
    train_share, val_share = cfg.split[0], cfg.split[1]
    fractions = (train_share / (train_share + val_share), val_share / (train_share + val_share), 0.0)
    inner = make_splits(dataset.subset(rest), fractions, by=str(cfg.split_by), seed=cfg.seed,
                        balance=str(cfg.balance))
    return {"train": rest[inner["train"]], "validation": rest[inner["validation"]], "test": test}


def split_data(cfg: RunConfig, cb) -> RunData:
    """Stage 3: read, split (splitEachLabel per class, by cell or subject), augment and balance the data."""
    from leuknet.config import parse_balance_to
    from leuknet.data.split import make_splits, undersample

    dataset, data, skipped, t_scan = read_data(cfg, cb)
    if cfg.cv_fold is not None:
        splits = fold_splits(dataset, cfg)
    else:
        splits = make_splits(dataset, cfg.split, by=str(cfg.split_by), seed=cfg.seed, balance=str(cfg.balance))
    train, val, test = (data.subset(splits[k]) for k in ("train", "validation", "test"))
    if cfg.augment == "rotate-mirror":
        train = train.augmented((1, 2, 3, 4))
    elif cfg.augment != "none":  # on the fly: a fresh random transform at every read
        from leuknet.spec.augmenter import augmenter_from_spec

        train.augmenter = augmenter_from_spec(cfg.augment)
        train.augment_seed = cfg.seed
    if cfg.equalize:
        train = train.subset(undersample(train.labels, np.arange(len(train)), cfg.seed))
    if cfg.balance_to:
        n_train, n_val = parse_balance_to(cfg.balance_to)
        train = train.balanced_by_augmentation(n_train, cfg.seed)
        if len(val) and n_val:
            val = val.balanced_by_augmentation(n_val, cfg.seed + 1)
    parts = {"train": train, "validation": val, "test": test}
    cb("splits", {"by": str(cfg.split_by), "classes": dataset.classes,
                  "counts": {k: np.bincount(v.labels, minlength=len(dataset.classes)).tolist()
                             for k, v in parts.items()},
                  "augmented": cfg.augment != "none" or cfg.equalize or bool(cfg.balance_to)})
    # a training split smaller than --batch-size trains as one mini-batch of all of it, as MATLAB (train.py)
    return RunData(dataset, splits, train, val, test, skipped, t_scan)


def class_weights_of(cfg: RunConfig, data: RunData):
    """classificationLayer ClassWeights N / (K n_c) from the training split ('balanced'), else None."""
    if cfg.class_weighting != "balanced":
        return None
    counts = np.bincount(data.train.labels, minlength=len(data.dataset.classes)).astype(float)
    return [len(data.train) / (len(counts) * c) if c else 0.0 for c in counts]


def model_options(cfg: RunConfig, data: RunData) -> dict:
    """The build options of ``cfg.model`` (only those it accepts: :func:`leuknet.models.accepts`)."""
    from leuknet import models

    values = dict(image_size=cfg.image_size, classes=data.dataset.classes, colorspace=str(cfg.colorspace),
                  normalization=str(cfg.normalization), crop=cfg.crop, class_weights=class_weights_of(cfg, data),
                  weights=cfg.weights, fc_units=cfg.fc_units, pool_stride=cfg.pool_stride, lr_factor=cfg.lr_factor,
                  freeze_base=cfg.freeze_base, input_order=cfg.input_order and str(cfg.input_order), transfer=True,
                  l1l2=cfg.l1l2)
    accepted = models.accepts(cfg.model)
    return {k: v for k, v in values.items() if k in accepted}


def build_model(cfg: RunConfig, data: RunData, dev: Devices, cb):
    """Stage 4: the network and its Trainer, inside the distribution strategy's scope."""
    import contextlib

    from leuknet import models
    from leuknet.train import Trainer, seed_everything

    seed_everything(cfg.seed)
    opts = model_options(cfg, data)
    with dev.strategy.scope() if dev.strategy is not None else contextlib.nullcontext():
        model = models.build(cfg.model, num_classes=len(data.dataset.classes), **opts)
        trainer = Trainer(model, dev.options, strategy=dev.strategy, jit_step=dev.profile.xla_train_step)
    cb("model", {"name": cfg.model, "params": models.learnables(model), "pretrained": bool(cfg.weights),
                 "weights": cfg.weights})
    return model, trainer, opts.get("class_weights")


def fit(cfg: RunConfig, where: RunDirectory, trainer, data: RunData, cb, skip_while_writing=False):
    """Stage 5: train, checkpointing into the partial directory; a run that fails or is interrupted before its
    first checkpoint leaves nothing behind."""
    from leuknet.io import write_json

    t = time.perf_counter()
    try:  # from the folder's making on: a Ctrl-C while run_config.json is written leaves nothing either
        if not cfg.resume:
            if where.partial.exists():
                shutil.rmtree(where.partial)
            where.partial.mkdir(parents=True)
            write_json(where.partial / "run_config.json", dict(cfg.to_dict(), resume=False))
        resume_state = read_checkpoint(where.partial / "checkpoint.npz") if cfg.resume else None
        info = trainer.fit(data.train, data.validation if len(data.validation) else None, seed=cfg.seed, callback=cb,
                           checkpoint=lambda state: write_checkpoint(where.partial / "checkpoint.npz", state),
                           checkpoint_every=cfg.checkpoint_every, resume=resume_state,
                           checkpoint_last=False,  # the model is saved next; the checkpoint would be deleted
                           skip_while_writing=skip_while_writing)
    except BaseException:  # KeyboardInterrupt too
        if not where.has_checkpoint:
            shutil.rmtree(where.partial, ignore_errors=True)  # nothing to resume: leave nothing behind
        raise
    return info, time.perf_counter() - t


def evaluate_split(cfg: RunConfig, trainer, data: RunData, batch_size: int) -> dict:
    """Stage 6a: predictions and metrics on the test split (the validation split only when there is no test
    split, and then the metrics say so), with 95 % intervals (the bootstrap seeded with the run's seed)."""
    from leuknet.metrics import metrics_with_intervals

    name = "test" if len(data.test) else "validation"
    part = data.test if len(data.test) else data.validation
    t = time.perf_counter()
    probs = trainer.predict(part, batch_size) if len(part) else np.zeros((0, len(data.dataset.classes)))
    t = time.perf_counter() - t
    metrics = None
    if len(part):
        metrics = metrics_with_intervals(part.labels, probs.argmax(1), data.dataset.classes, seed=cfg.seed)
        metrics.update(evaluated_split=name, synthetic_data=data.dataset.synthetic)
        if name == "validation":
            metrics["note"] = ("no test split (--split gives the test 0): these metrics come from the validation "
                               "split, which chose nothing here but was seen at every validation")
    files = [data.dataset.samples[i].path for i in data.splits[name]]
    return {"split": name, "files": files, "labels": part.labels, "probabilities": probs, "metrics": metrics,
            "seconds": t, "n": len(part)}


def run_record(cfg: RunConfig, dev: Devices, data: RunData, model, info, timing, class_weights) -> dict:
    """config.json: the configuration, trainingOptions as used, versions, device, data and model."""
    from leuknet import models

    options = dev.options.to_dict()
    options["ValidationData"] = (f"validation split ({len(data.validation)} images)" if len(data.validation)
                                 else None)
    record = {
        "config": cfg.to_dict(),
        "training_options": options,
        "dataset": data.dataset.describe(),
        "splits": {k: len(v) for k, v in data.splits.items()},
        "skipped_files": [p for p, _ in data.skipped],
        "class_weights": class_weights,
        "device": dev.device,
        "profile": dev.profile.to_dict(),
        "native_kernels": native_kernels(),
        "strategy": dev.profile.strategy, "num_workers": dev.profile.num_workers,
        "num_replicas": dev.profile.num_replicas, "global_batch": dev.profile.global_batch,
        "versions": versions(),
        "seed": cfg.seed,
        "model": {"name": cfg.model, "params": models.learnables(model), "classes": data.dataset.classes,
                  "pretrained_weights": cfg.weights, "from_scratch": not cfg.weights,
                  "layers": [layer.name for layer in model.layers]},
        "timing": timing,
        "training": {"iterations_per_epoch": info.iterations_per_epoch, "mini_batch_size": info.mini_batch_size,
                     "stopped_early": info.stopped_early,
                     "output_network_iteration": info.output_network_iteration,
                     "final_validation_accuracy": info.final_validation_accuracy},
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    if data.dataset.synthetic:
        record["note"] = "SYNTHETIC demo data: results say nothing about real cells"
    return record


def write_run(where: RunDirectory, record: dict, model, data: RunData, info, evaluation: dict):
    """Stage 6b: every artefact into the partial directory, then one rename: the run is complete only then."""
    from leuknet import artefacts
    from leuknet.io import save_model, write_json

    p = where.partial
    try:
        if evaluation["metrics"]:
            artefacts.write_predictions(p / "predictions.csv", evaluation["files"], evaluation["probabilities"],
                                        data.dataset.classes, evaluation["labels"])
            artefacts.write_metrics(p / "metrics.json", evaluation["metrics"])
        artefacts.write_history(p / "history.csv", info.rows)
        artefacts.write_splits(p / "splits.csv", data.dataset, data.splits)
        if data.skipped:
            artefacts.write_skipped(p / "skipped.csv", data.skipped)
        write_json(p / "config.json", record)
        save_model(model, p / "model.keras")
        (p / "checkpoint.npz").unlink(missing_ok=True)
        (p / "run_config.json").unlink(missing_ok=True)
        if where.final.exists():
            shutil.rmtree(where.final)
        p.rename(where.final)
    except BaseException:
        shutil.rmtree(p, ignore_errors=True)
        raise


def train_run(cfg: RunConfig, callback=None) -> dict:
    """Train ``cfg.model`` as configured, in stages; returns a summary (paths, metrics, timings)."""
    cb = callback or (lambda event, payload: None)
    where = check_run(cfg)
    try:
        return _train_claimed(cfg, where, cb)
    finally:
        where.release()  # after the rename, or after a failure (a checkpoint, if any, stays to resume)


def _train_claimed(cfg: RunConfig, where: RunDirectory, cb) -> dict:
    announced = {"out": str(where.final), "resume": cfg.resume}
    dev = set_up_devices(cfg, cb)
    if not dev.profile.is_chief:  # only the chief writes the run directory; the others write to a scratch folder
        import tempfile

        scratch = Path(tempfile.mkdtemp(prefix=f"leuknet-worker{dev.profile.task_index}-"))
        where = RunDirectory(scratch / "run", partial_dir(scratch / "run"), scratch, lock=where.lock)
    data = split_data(cfg, cb)
    cb("run_directory", announced)  # once the data is read: a data error names no folder that will not exist
    model, trainer, class_weights = build_model(cfg, data, dev, cb)
    info, t_train = fit(cfg, where, trainer, data, cb, dev.profile.skip_checkpoints_while_writing)
    evaluation = evaluate_split(cfg, trainer, data, dev.options.MiniBatchSize)
    n = evaluation["n"]
    timing = {"scan_seconds": data.scan_seconds, "train_seconds": t_train, "iterations": len(info.rows),
              "statistics_seconds": info.statistics_seconds, "final_checkpoint_seconds": info.final_checkpoint_seconds,
              "checkpoints_skipped": info.checkpoints_skipped,
              "train_images_per_second_incl_validation":
                  len(info.rows) * info.mini_batch_size / t_train if t_train else None,
              "test_seconds": evaluation["seconds"],
              "inference_images_per_second": n / evaluation["seconds"] if evaluation["seconds"] and n else None}
    write_run(where, run_record(cfg, dev, data, model, info, timing, class_weights), model, data, info, evaluation)
    out = str(where.final)
    if where.scratch is not None:
        shutil.rmtree(where.scratch, ignore_errors=True)
        out = None
    result = {"out": out, "classes": data.dataset.classes, "synthetic": data.dataset.synthetic,
              "metrics": evaluation["metrics"], "timing": timing, "info": info,
              "splits": {k: len(v) for k, v in data.splits.items()}}
    cb("done", result)
    return result


def model_metadata(model) -> dict:
    from leuknet.train import input_layer, output_layer

    inp, out = input_layer(model), output_layer(model)
    return {"input_size": tuple(int(v) for v in model.input.shape[1:3]),
            "colorspace": inp.colorspace if inp else "rgb", "crop": getattr(inp, "crop", 0) if inp else 0,
            "classes": list(out.classes) if out and out.classes else
            [str(i) for i in range(int(model.output.shape[-1]))]}


def stream_predict(model, files, meta, batch_size=64, progress=None):
    """Decode, convert and predict ``files`` in one streamed pass (bounded memory).

    Returns (probabilities of the readable files, boolean mask of readable files). Either backend: the files are
    decoded by :func:`~leuknet.data.pipeline.file_batches` (tf.data, or threads without TensorFlow)."""
    from keras import ops

    from leuknet.data.pipeline import file_batches
    from leuknet.train import inference_step

    step = inference_step(model)
    probs, oks = [], []
    for imgs, ok in file_batches(files, meta["input_size"], meta["colorspace"], batch=batch_size,
                                 crop=meta.get("crop", 0)):
        p = ops.convert_to_numpy(step(ops.convert_to_tensor(imgs)))  # uint8 in: the model casts it
        probs.append(p[ok])
        oks.append(ok)
        if progress:
            progress(len(ok))
    k = len(meta["classes"])
    return (np.concatenate(probs, 0) if probs else np.zeros((0, k), np.float32),
            np.concatenate(oks, 0) if oks else np.zeros(0, bool))


def training_overlap(model_file, files) -> dict:
    """How many of ``files`` the model was trained or validated on, from the ``splits.csv`` beside it."""
    from leuknet.artefacts import read_split_files

    seen = read_split_files(Path(model_file).parent)
    used = [f for f in files if seen.get(f) in ("train", "validation")]
    return {"n": len(used), "of": len(files), "files": used}


def evaluate_run(model_file, data, dataset_format=None, out=None, batch_size=64, callback=None,
                 overwrite=False) -> dict:
    """Evaluate a saved model on every image of a data set: metrics.json and predictions.csv in ``out`` (and
    skipped.csv for unreadable files). The metrics say when the data is synthetic and how many of the images
    the model saw in training (its run's splits.csv). The folder is claimed (``<out>.lock``) for the whole
    evaluation: another process asking for it is refused with one line."""
    from leuknet.locks import claim, lock_path_for

    out = Path(out or Path("runs") / f"evaluate-{datetime.now().strftime('%Y%m%d-%H%M%S')}")
    lock = claim(lock_path_for(out), what=f"output folder {out}", error=RunInUse,
                 hint="wait for that evaluation to finish, or choose another --out")
    try:
        return _evaluate_claimed(model_file, data, dataset_format, out, batch_size, callback, overwrite)
    finally:
        lock.release()


def _evaluate_claimed(model_file, data, dataset_format, out: Path, batch_size, callback, overwrite) -> dict:
    from leuknet import artefacts
    from leuknet.data.pipeline import unreadable_reason
    from leuknet.data.sources import discover
    from leuknet.metrics import metrics_with_intervals

    cb = callback or (lambda e, p: None)
    if out.exists() and (not out.is_dir() or any(out.iterdir())) and not overwrite:
        raise ConfigError(f"output folder {out} already exists and is not empty; choose another --out or "
                          "pass --overwrite")
    model = load_model(model_file)
    meta = model_metadata(model)
    dataset = discover(data, dataset_format)
    unknown = [c for c in dataset.classes if c not in meta["classes"]]
    if unknown:
        raise DataError(f"the data has class {unknown[0]!r}, which the model does not know ({meta['classes']})")
    cb("dataset", dataset.describe())
    paths = [s.path for s in dataset.samples]
    overlap = training_overlap(model_file, paths)
    if overlap["n"]:
        cb("overlap", overlap)
    labels = np.array([meta["classes"].index(s.label) for s in dataset.samples])
    cb("scan", {"total": len(paths)})
    t = time.perf_counter()
    probs, ok = stream_predict(model, paths, meta, batch_size, progress=lambda n: cb("scan_advance", {"n": n}))
    t = time.perf_counter() - t
    good = [p for p, k in zip(paths, ok) if k]
    bad = [p for p, k in zip(paths, ok) if not k]
    if not good:
        raise DataError(f"none of the {len(paths)} images under {data} could be read")
    labels = labels[ok]
    metrics = metrics_with_intervals(labels, probs.argmax(1), meta["classes"], seed=0)
    metrics.update(model_file=str(model_file), data=str(data), synthetic_data=dataset.synthetic,
                   skipped_files=bad, seen_in_training=overlap["n"],
                   inference_images_per_second=len(paths) / t if t else None)
    if overlap["n"]:
        metrics["note"] = (f"{overlap['n']} of {overlap['of']} images were in this model's training or validation "
                           "split: the accuracy overstates what it does on new cells")
    out.mkdir(parents=True, exist_ok=True)
    artefacts.write_predictions(out / "predictions.csv", good, probs, meta["classes"], labels)
    artefacts.write_metrics(out / "metrics.json", metrics)
    skipped = [(p, unreadable_reason(p, meta.get("crop", 0))) for p in bad]
    if skipped:
        artefacts.write_skipped(out / "skipped.csv", skipped)
    else:
        (out / "skipped.csv").unlink(missing_ok=True)  # an earlier evaluation's, with --overwrite
    return {"out": str(out), "metrics": metrics, "synthetic": dataset.synthetic, "overlap": overlap,
            "skipped": skipped}


def collect_images(inputs) -> list[str]:
    from leuknet.data.sources import IMAGE_EXTENSIONS, _walk_images

    files = []
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            files.extend(str(f) for f in _walk_images(p))
        elif p.is_file():
            files.append(str(p))
        else:
            raise DataError(f"{p} does not exist")
    if not files:
        raise DataError(f"no images ({', '.join(IMAGE_EXTENSIONS)}) in {', '.join(map(str, inputs))}")
    return files


def predict_files(model_file, inputs, batch_size=64) -> dict:
    """Class probabilities for image files and folders (streamed). Unreadable files are listed in ``skipped``
    as (file, reason) pairs, not fatal, unless no file can be read (a DataError)."""
    from leuknet.data.images import none_readable, unreadable_reason

    model = load_model(model_file)
    meta = model_metadata(model)
    files = collect_images(inputs)
    probs, ok = stream_predict(model, files, meta, batch_size)
    skipped = [(f, unreadable_reason(f, meta.get("crop", 0))) for f, k in zip(files, ok) if not k]
    if not any(ok):
        raise none_readable(len(files), skipped)
    return {"classes": meta["classes"], "files": [f for f, k in zip(files, ok) if k], "probabilities": probs,
            "skipped": skipped}
