"""One training run end to end: data -> split -> pipeline -> model -> solver -> run directory.

The run directory is built as ``<out>.partial`` and renamed to ``<out>`` only when everything is written, so a
reader never sees a half-written run; a failed run leaves nothing behind. Contents:

- ``config.json``: the resolved configuration, trainingOptions, versions, device, seed, dataset description
  and fingerprint (``synthetic: true`` for the demo), split sizes, skipped files;
- ``model.keras``: the trained network (input statistics, colour space and class names inside);
- ``history.csv``: one row per iteration (validation columns where validated);
- ``metrics.json`` and ``predictions.csv``: the test split;
- ``splits.csv``: every file with its split; ``skipped.csv`` where unreadable files were skipped.
"""

from __future__ import annotations

import math
import platform
import shutil
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from leuknet.config import RunConfig
from leuknet.errors import ConfigError, DataError
from leuknet.io import load_model  # noqa: F401  (leuknet.run.load_model, as before)
from leuknet.ops import used as native_kernels


def versions() -> dict:
    import cv2
    import keras
    import tensorflow as tf

    import leuknet

    return {"leuknet": leuknet.__version__, "python": platform.python_version(), "tensorflow": tf.__version__,
            "keras": keras.__version__, "numpy": np.__version__, "opencv": cv2.__version__,
            "platform": platform.platform(), "processor": platform.processor() or platform.machine()}


def default_out(cfg: RunConfig) -> str:
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    return str(Path("runs") / f"{cfg.model}-{stamp}")


def partial_dir(final: Path) -> Path:
    return final.with_name(final.name + ".partial")


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


def train_run(cfg: RunConfig, callback=None) -> dict:
    """Train ``cfg.model`` as configured; returns a summary (paths, metrics, timings)."""
    from leuknet import models
    from leuknet.data.pipeline import load_image_data
    from leuknet.data.split import make_splits, parse_fractions
    from leuknet.colorspace import SPACES
    from leuknet.io import save_model, write_csv, write_json
    from leuknet.metrics import classification_metrics
    from leuknet.profiles import resolve_device
    from leuknet.train import Trainer, seed_everything

    cb = callback or (lambda event, payload: None)
    if cfg.colorspace not in SPACES:
        raise ConfigError(f"unknown colour space {cfg.colorspace!r}; choose one of {', '.join(SPACES)}")
    if cfg.image_size < 32:
        raise ConfigError(f"--image-size must be at least 32, received {cfg.image_size}")
    fractions = parse_fractions(cfg.split)
    cfg.split = fractions
    options = cfg.training_options()
    models._get(cfg.model)  # unknown model: error before any work
    final = Path(cfg.out or default_out(cfg))
    partial = partial_dir(final)
    if final.exists() and not final.is_dir():
        raise ConfigError(f"--out {final} exists and is not a folder")
    resume_state = None
    if cfg.resume:
        if final.exists() and (final / "model.keras").exists() and not partial.exists():
            raise ConfigError(f"run {final} is already complete; nothing to resume")
        ck = partial / "checkpoint.npz"
        if not ck.is_file():
            raise ConfigError(f"no interrupted run to resume at {partial} (no checkpoint.npz)")
        resume_state = read_checkpoint(ck)
    else:
        if final.exists() and any(final.iterdir()) and not cfg.overwrite:
            raise ConfigError(f"run directory {final} already exists and is not empty; choose another --out or "
                              "pass --overwrite")
        if partial.exists() and not cfg.overwrite:
            raise ConfigError(f"an interrupted run is in {partial}: pass --resume to continue it or --overwrite to "
                              "start again")
    from leuknet.profiles import apply_profile, make_strategy, resolve_profile

    gpus = [] if cfg.strategy == "multi-worker" else None
    profile = resolve_profile(cfg.device, cfg.precision, cfg.batch_size, cfg.strategy, cache_mb=cfg.cache_mb,
                              model=cfg.model, gpus=gpus)
    strategy = make_strategy(profile)  # before any op: collective ops are configured at start-up
    if cfg.deterministic:
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()
    device = resolve_device(cfg.device)
    apply_profile(profile)
    cb("profile", profile.to_dict())
    worker_tmp = None
    if not profile.is_chief:  # only the chief writes the run directory; the others write to a scratch folder
        import tempfile

        worker_tmp = Path(tempfile.mkdtemp(prefix=f"leuknet-worker{profile.task_index}-"))
        final = worker_tmp / "run"
        partial = partial_dir(final)
    if profile.global_batch != cfg.batch_size:  # GPU profile: MiniBatchSize = per-replica batch x replicas
        cfg.batch_size = profile.global_batch
        options = cfg.training_options()

    dataset = load_dataset(cfg)
    cb("dataset", dataset.describe())
    size = (cfg.image_size, cfg.image_size)
    paths = [s.path for s in dataset.samples]
    cb("scan", {"total": len(paths)})
    t_scan = time.perf_counter()
    data, bad = load_image_data(paths, dataset.labels, size, cfg.colorspace, cfg.cache_mb,
                                progress=lambda n: cb("scan_advance", {"n": n}), crop=cfg.crop)
    t_scan = time.perf_counter() - t_scan
    if bad:
        cb("skipped", {"files": bad})
        keep = [i for i, p in enumerate(paths) if p not in set(bad)]
        dataset = dataset.subset(keep)
        if len(dataset.counts()) and min(dataset.counts().values()) == 0:
            empty = [c for c, n in dataset.counts().items() if n == 0]
            raise DataError(f"class {empty[0]!r} has no readable images")
    splits = make_splits(dataset, fractions, by=cfg.split_by, seed=cfg.seed, balance=cfg.balance)
    train, val, test = (data.subset(splits[k]) for k in ("train", "validation", "test"))
    if cfg.augment == "rotate-mirror":
        train = train.augmented((1, 2, 3, 4))
    elif cfg.augment not in (None, "", "none"):
        # on the fly, a fresh random transform at every read (leuknet.matlab.augmentation.augmenter_from_spec:
        # 'random', 'oliveira' or imageDataAugmenter options 'RandRotation=-20,20;RandXReflection=true')
        from leuknet.matlab.augmentation import augmenter_from_spec

        train.augmenter = augmenter_from_spec(cfg.augment)
        train.augment_seed = cfg.seed
    if cfg.equalize:
        from leuknet.data.split import undersample

        train = train.subset(undersample(train.labels, np.arange(len(train)), cfg.seed))
    if cfg.balance_to:
        n_tr, n_val = (int(v) for v in str(cfg.balance_to).split(","))
        train = train.balanced_by_augmentation(n_tr, cfg.seed)
        if len(val) and n_val:
            val = val.balanced_by_augmentation(n_val, cfg.seed + 1)
    cb("splits", {k: len(v) for k, v in splits.items()} | (
        {"train after augmentation": len(train)} if cfg.augment == "rotate-mirror" or cfg.equalize else {}))
    if len(train) < cfg.batch_size:
        raise ConfigError(f"the training split has {len(train)} images, fewer than one mini-batch of "
                          f"{cfg.batch_size}; lower --batch-size")

    seed_everything(cfg.seed)
    class_weights = None
    if cfg.class_weighting == "balanced":  # N / (K * n_c) from the training split
        counts = np.bincount(train.labels, minlength=len(dataset.classes)).astype(float)
        class_weights = [len(train) / (len(counts) * c) if c else 0.0 for c in counts]
    elif cfg.class_weighting != "none":
        raise ConfigError(f"unknown class weighting {cfg.class_weighting!r}; choose none or balanced")
    weights = None if cfg.weights in (None, "", "none") else cfg.weights
    # every builder takes the same settings and uses the ones that apply to it (a weights file given to a model
    # that has none is an error there)
    kw = dict(num_classes=len(dataset.classes), image_size=cfg.image_size, classes=dataset.classes,
              colorspace=cfg.colorspace, normalization=cfg.normalization, crop=cfg.crop,
              class_weights=class_weights, weights=weights, fc_units=cfg.fc_units, pool_stride=cfg.pool_stride,
              lr_factor=cfg.lr_factor, freeze_base=cfg.freeze_base, input_order=cfg.input_order, transfer=True,
              l1l2=cfg.l1l2)
    import contextlib

    with strategy.scope() if strategy is not None else contextlib.nullcontext():
        model = models.build(cfg.model, **kw)
        trainer = Trainer(model, options, strategy=strategy, jit_step=profile.xla_train_step)
    pretrained = bool(weights)
    cb("model", {"name": cfg.model, "params": models.learnables(model), "pretrained": pretrained,
                 "weights": weights})
    if not cfg.resume:
        if partial.exists():
            shutil.rmtree(partial)
        partial.mkdir(parents=True)
        write_json(partial / "run_config.json", dict(cfg.to_dict(), resume=False))
    t_train = time.perf_counter()
    try:
        info = trainer.fit(train, val if len(val) else None, seed=cfg.seed, callback=cb,
                           checkpoint=lambda state: write_checkpoint(partial / "checkpoint.npz", state),
                           checkpoint_every=cfg.checkpoint_every, resume=resume_state,
                           checkpoint_last=False)  # the model is saved next; the checkpoint would be deleted
    except Exception:
        if not (partial / "checkpoint.npz").exists():
            shutil.rmtree(partial, ignore_errors=True)  # nothing to resume: leave nothing behind
        raise
    t_train = time.perf_counter() - t_train
    iterations = len(info.rows)

    try:
        result = {"out": str(final), "classes": dataset.classes, "synthetic": dataset.synthetic}
        t_test = time.perf_counter()
        eval_set = test if len(test) else val
        eval_name = "test" if len(test) else "validation"
        probs = trainer.predict(eval_set, cfg.batch_size) if len(eval_set) else np.zeros((0, 2))
        t_test = time.perf_counter() - t_test
        metrics = None
        if len(eval_set):
            pred = probs.argmax(1)
            metrics = classification_metrics(eval_set.labels, pred, dataset.classes)
            metrics["evaluated_split"] = eval_name
            metrics["synthetic_data"] = dataset.synthetic
            test_paths = [dataset.samples[i].path for i in splits[eval_name]]
            write_csv(partial / "predictions.csv", ["file", "true_class", "predicted_class"] +
                      [f"p_{c}" for c in dataset.classes],
                      [[p, dataset.classes[t], dataset.classes[k]] + [f"{v:.6f}" for v in pr]
                       for p, t, k, pr in zip(test_paths, eval_set.labels, pred, probs)])
            write_json(partial / "metrics.json", metrics)
        write_csv(partial / "history.csv", ["epoch", "iteration", "time_elapsed_s", "base_learn_rate",
                                            "training_loss", "training_accuracy", "validation_loss",
                                            "validation_accuracy"],
                  [[r["Epoch"], r["Iteration"], f"{r['TimeElapsed']:.3f}", r["BaseLearnRate"],
                    f"{r['TrainingLoss']:.6f}", f"{r['TrainingAccuracy']:.4f}",
                    math.nan if math.isnan(r["ValidationLoss"]) else f"{r['ValidationLoss']:.6f}",
                    math.nan if math.isnan(r["ValidationAccuracy"]) else f"{r['ValidationAccuracy']:.4f}"]
                   for r in info.rows])
        split_of = {}
        for name, idx in splits.items():
            for i in idx:
                split_of[i] = name
        write_csv(partial / "splits.csv", ["file", "class", "subject", "split"],
                  [[s.path, s.label, s.subject or "", split_of.get(i, "unused")]
                   for i, s in enumerate(dataset.samples)])
        if bad:
            write_csv(partial / "skipped.csv", ["file", "reason"], [[p, "unreadable image"] for p in bad])
        n_img = iterations * cfg.batch_size
        timing = {"scan_seconds": t_scan, "train_seconds": t_train, "iterations": iterations,
                  "statistics_seconds": info.statistics_seconds,
                  "final_checkpoint_seconds": info.final_checkpoint_seconds,
                  "train_images_per_second_incl_validation": n_img / t_train if t_train else None,
                  "test_seconds": t_test,
                  "inference_images_per_second": len(eval_set) / t_test if t_test and len(eval_set) else None}
        config = {
            "config": cfg.to_dict(),
            "training_options": options.to_dict(),
            "dataset": dataset.describe(),
            "splits": {k: len(v) for k, v in splits.items()},
            "skipped_files": bad,
            "class_weights": class_weights,
            "device": device,
            "profile": profile.to_dict(),
            "native_kernels": native_kernels(),
            "strategy": profile.strategy, "num_workers": profile.num_workers, "num_replicas": profile.num_replicas,
            "versions": versions(),
            "seed": cfg.seed,
            "model": {"name": cfg.model, "params": models.learnables(model), "classes": dataset.classes,
                      "pretrained_weights": weights, "from_scratch": not pretrained,
                      "layers": [l.name for l in model.layers]},
            "timing": timing,
            "training": {"iterations_per_epoch": info.iterations_per_epoch, "stopped_early": info.stopped_early,
                         "output_network_iteration": info.output_network_iteration,
                         "final_validation_accuracy": info.final_validation_accuracy},
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }
        if dataset.synthetic:
            config["note"] = "SYNTHETIC demo data: results say nothing about real cells"
        write_json(partial / "config.json", config)
        save_model(model, partial / "model.keras")
        (partial / "checkpoint.npz").unlink(missing_ok=True)
        (partial / "run_config.json").unlink(missing_ok=True)
        if final.exists():
            shutil.rmtree(final)
        partial.rename(final)  # the run is complete only now
    except Exception:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    if worker_tmp is not None:
        shutil.rmtree(worker_tmp, ignore_errors=True)
        result["out"] = None
    result.update(metrics=metrics, timing=timing, info=info, splits={k: len(v) for k, v in splits.items()})
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

    Returns (probabilities of the readable files, boolean mask of readable files)."""
    import tensorflow as tf

    from leuknet.data.pipeline import file_dataset
    from leuknet.train import inference_step

    step = inference_step(model)
    probs, oks = [], []
    for imgs, ok in file_dataset(files, meta["input_size"], meta["colorspace"],
                                 crop=meta.get("crop", 0)).batch(batch_size).prefetch(2):
        p = step(tf.cast(imgs, tf.float32)).numpy()
        ok = ok.numpy()
        probs.append(p[ok])
        oks.append(ok)
        if progress:
            progress(len(ok))
    k = len(meta["classes"])
    return (np.concatenate(probs, 0) if probs else np.zeros((0, k), np.float32),
            np.concatenate(oks, 0) if oks else np.zeros(0, bool))


def evaluate_run(model_file, data, dataset_format=None, out=None, batch_size=64, callback=None,
                 overwrite=False) -> dict:
    """Evaluate a saved model on every image of a data set: metrics.json and predictions.csv in ``out``."""
    from leuknet.data.sources import discover
    from leuknet.io import write_csv, write_json
    from leuknet.metrics import classification_metrics

    cb = callback or (lambda e, p: None)
    model = load_model(model_file)
    meta = model_metadata(model)
    dataset = discover(data, dataset_format)
    unknown = [c for c in dataset.classes if c not in meta["classes"]]
    if unknown:
        raise DataError(f"the data has class {unknown[0]!r}, which the model does not know ({meta['classes']})")
    out = Path(out or Path("runs") / f"evaluate-{datetime.now().strftime('%Y%m%d-%H%M%S')}")
    if out.exists() and any(out.iterdir()) and not overwrite:
        raise ConfigError(f"output folder {out} already exists and is not empty; choose another --out or "
                          "pass --overwrite")
    paths = [s.path for s in dataset.samples]
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
    pred = probs.argmax(1)
    metrics = classification_metrics(labels, pred, meta["classes"])
    metrics.update(model_file=str(model_file), data=str(data), skipped_files=bad,
                   inference_images_per_second=len(paths) / t if t else None)
    out.mkdir(parents=True, exist_ok=True)
    write_csv(out / "predictions.csv", ["file", "true_class", "predicted_class"] + [f"p_{c}" for c in meta["classes"]],
              [[p, meta["classes"][y], meta["classes"][k]] + [f"{v:.6f}" for v in pr]
               for p, y, k, pr in zip(good, labels, pred, probs)])
    write_json(out / "metrics.json", metrics)
    return {"out": str(out), "metrics": metrics}


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
    """Class probabilities for image files and folders (streamed; unreadable files listed, not fatal)."""
    model = load_model(model_file)
    meta = model_metadata(model)
    files = collect_images(inputs)
    probs, ok = stream_predict(model, files, meta, batch_size)
    return {"classes": meta["classes"], "files": [f for f, k in zip(files, ok) if k], "probabilities": probs,
            "skipped": [f for f, k in zip(files, ok) if not k]}
