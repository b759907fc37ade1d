"""The run configuration: one frozen, typed definition (defaults < recipe < flags), checked whole before any file
is read; the CLI's train options, config.json and the resume record come from it."""

import dataclasses
import json
import math

import pytest

from leuknet import config
from leuknet.config import RunConfig, from_dict, parse_matlab_option, resolve
from leuknet.errors import ConfigError


def test_defaults_recipe_flags_in_that_order(tmp_path):
    cfg = resolve({"out": str(tmp_path / "r")})  # no data: the demo recipe
    assert cfg.recipe == "demo" and cfg.epochs == 6 and cfg.batch_size == 32 and cfg.l2 == 1e-4  # l2: default
    cfg = resolve({"epochs": 2, "out": str(tmp_path / "r")})
    assert cfg.epochs == 2 and cfg.batch_size == 32
    cfg = resolve({"recipe": "leuknet-paper", "batch_size": 16, "out": str(tmp_path / "r")})
    assert (cfg.epochs, cfg.batch_size, cfg.schedule, cfg.lr_drop_factor) == (10, 16, "piecewise", 0.5)


def test_configuration_is_frozen_and_typed(tmp_path):
    cfg = resolve({"colorspace": "HSV", "out": str(tmp_path / "r")})
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.batch_size = 256
    assert cfg.colorspace == "hsv" and isinstance(cfg.colorspace, config.ColorSpace)
    assert isinstance(cfg.split, tuple) and cfg.out == str(tmp_path / "r")


def test_config_json_round_trip(tmp_path):
    cfg = resolve({"split": "0.6,0.2", "options": ("GradientThreshold=2",), "out": str(tmp_path / "r")})
    again = from_dict(json.loads(json.dumps(cfg.to_dict())))
    assert again == cfg
    assert json.loads(json.dumps(cfg.to_dict()))["colorspace"] == "rgb"


def test_out_is_resolved_not_null(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = resolve({})
    assert cfg.out and cfg.out.startswith("runs/leuknet-")


def test_split_rest_goes_to_the_test_split():
    # splitEachLabel(imds, p1, ..., pN) returns N + 1 datastores, the last holding the remaining files
    # (https://www.mathworks.com/help/matlab/ref/matlab.io.datastore.imagedatastore.spliteachlabel.html)
    from leuknet.data.split import parse_fractions

    assert parse_fractions("0.7,0.2") == (0.7, 0.2, 0.1)
    assert parse_fractions("0.8") == (0.8, 0.0, 0.2)
    assert parse_fractions("0.7,0.3") == (0.7, 0.3, 0.0)  # nothing left: no test split, said in the metrics


@pytest.mark.parametrize("flags, message", [
    ({"colorspace": "hvs"}, "--colorspace 'hvs' is not one of rgb, hsv, ycbcr, hcbcr (did you mean hsv?)"),
    ({"balance": "under"}, "(did you mean undersample?)"),
    ({"split_by": "subjetc"}, "(did you mean subject?)"),
    ({"solver": "adamm"}, "--solver 'adamm' is not one of sgdm, adam, rmsprop"),
    ({"shuffle": "every_epoch"}, "(did you mean every-epoch?)"),
    ({"schedule": "step"}, "--schedule 'step' is not one of none, piecewise, exponential"),
    ({"recipe": "leuknet-papr"}, "(did you mean leuknet-paper?)"),
    ({"balance_to": "10000"}, None),  # one count: the training split only
    ({"balance_to": "10000;5000"}, "--balance-to must be images per class for train[,validation]"),
    ({"model": "vgg16", "fc_units": 256}, "--fc-units does not apply to model vgg16"),
    ({"model": "leuknet", "freeze_base": True}, "--freeze-base does not apply to model leuknet"),
    ({"model": "leuknet", "l1l2": 1e-4}, "--l1l2 does not apply to model leuknet"),
    ({"recipe": "alexnet-shafique", "model": "vgg16"}, "(from recipe alexnet-shafique) does not apply to model vgg16"),
    ({"momentum": 0.5}, "--momentum applies to the sgdm solver, not adam"),
    ({"final_lr": 1e-6}, "--final-lr applies to --schedule exponential"),
    ({"epochs": 0}, "--epochs must be at least 1, received 0"),
    ({"lr_drop_factor": 2.0}, "--lr-drop-factor must be between 0.0 and 1.0"),
    ({"options": ("MaxEpochs=3",)}, "use --epochs for MaxEpochs"),
    ({"options": ("GradientThresh=1",)}, "not a trainingOptions name (did you mean GradientThreshold?)"),
    ({"options": ("GradientThresholdMethod=l3",)}, "GradientThresholdMethod must be one of"),
    ({"options": ("Plots=training-progress",)}, "leuknet train sets Plots itself"),
    ({"options": ("GradientThreshold",)}, "--option must be Name=Value"),
    ({"demo_per_class": 10, "data": "."}, "--demo-per-class applies to the embedded demo set"),
    ({"labels": "labels.csv"}, "--labels labels.csv does not exist"),
    ({"weights": "nowhere.onnx", "model": "alexnet"}, "--weights nowhere.onnx does not exist"),
    ({"data": "no/such/folder"}, "--data no/such/folder does not exist"),
    ({"fc_unit": 3}, "unknown setting 'fc_unit' (did you mean fc_units?)"),
])
def test_every_mistake_is_one_clear_error(tmp_path, flags, message):
    flags = dict(flags, out=str(tmp_path / "r"))
    if message is None:
        assert resolve(flags).balance_to == "10000"
        return
    with pytest.raises(ConfigError) as e:
        resolve(flags)
    assert message in str(e.value) and "\n" not in str(e.value)


def test_training_options_flags_reach_trainingOptions(tmp_path):
    cfg = resolve({"solver": "sgdm", "momentum": 0.8, "l2": 5e-4, "schedule": "piecewise", "lr_drop_factor": 0.5,
                   "lr_drop_period": 3, "validation_patience": 4, "shuffle": "every-epoch",
                   "output_network": "best-validation-loss", "validation_frequency": 7,
                   "options": ("GradientThreshold=1", "GradientThresholdMethod=absolute-value"),
                   "out": str(tmp_path / "r")})
    o = cfg.training_options()
    assert (o.SolverName, o.Momentum, o.L2Regularization, o.LearnRateSchedule, o.LearnRateDropFactor,
            o.LearnRateDropPeriod, o.ValidationPatience, o.Shuffle, o.OutputNetwork, o.ValidationFrequency) == \
        ("sgdm", 0.8, 5e-4, "piecewise", 0.5, 3, 4, "every-epoch", "best-validation-loss", 7)
    assert o.GradientThreshold == 1 and o.GradientThresholdMethod == "absolute-value"
    # derived values are passed beside the configuration, which keeps the per-replica batch
    assert cfg.training_options(MiniBatchSize=4 * cfg.batch_size).MiniBatchSize == 4 * cfg.batch_size
    assert cfg.batch_size == 32


def test_matlab_option_values():
    assert parse_matlab_option("GradientThreshold=Inf") == ("GradientThreshold", math.inf)
    assert parse_matlab_option("VerboseFrequency=10") == ("VerboseFrequency", 10)
    assert parse_matlab_option("ResetInputNormalization=false") == ("ResetInputNormalization", False)
    assert parse_matlab_option("GradientThresholdMethod='l2norm'") == ("GradientThresholdMethod", "l2norm")


def test_cli_train_options_come_from_the_configuration():
    """Every configuration field with a flag is a train option, with its help; nothing else but the
    command's own options (--option, --resume, --workers, --task-index, --quiet, --cv, --repeats); and the same
    for compare, but for --model (several) and --out (a comparison folder), and for the studies."""
    import typer.main

    from leuknet.cli import app

    cmd = typer.main.get_command(app).commands["train"]
    opts = {p.name: p for p in cmd.params}
    with_flag = {n for n, f in config.FIELDS.items() if f.metadata["flag"]}
    assert set(opts) == with_flag | {"option", "resume_run", "workers", "task_index", "quiet", "cv", "repeats"}
    for name in with_flag:
        assert opts[name].opts[0] == config.flag_name(name)
        assert config.FIELDS[name].metadata["help"] in opts[name].help
    compare = {p.name: p for p in typer.main.get_command(app).commands["compare"].params}
    assert set(compare) == (with_flag - {"overwrite"}) | {"option", "cv", "repeats", "workers"}
    assert compare["model"].multiple and str(compare["out"].default) == "runs/compare"
    commands = typer.main.get_command(app).commands
    studies = {"colorspace": (commands["colorspace"], {"colorspace", "overwrite"},
                              {"task", "spaces", "repeats", "cv", "option", "out", "workers"}),
               "fc-units": (commands["study"].commands["fc-units"], {"fc_units", "overwrite"},
                            {"values", "repeats", "cv", "option", "out", "workers"})}
    for name, (cmd, theirs, own) in studies.items():  # every train option reaches every run of a study
        assert {p.name for p in cmd.params} == (with_flag - theirs) | own, name
    assert "One of: rgb, hsv, ycbcr, hcbcr" in opts["colorspace"].help


def test_set_up_devices_leaves_the_configuration_alone(tmp_path, monkeypatch):
    """A multi-GPU profile's global batch is a derived value: the configuration (and so the resume record) keeps
    the per-replica batch (before, --resume multiplied it again)."""
    import leuknet.profiles as profiles
    from leuknet import run

    cfg = resolve({"batch_size": 8, "device": "cpu", "out": str(tmp_path / "r")})
    real = profiles.resolve_profile

    def four_replicas(*a, **k):
        p = real(*a, **k)
        return dataclasses.replace(p, global_batch=4 * p.global_batch, num_replicas=4)

    monkeypatch.setattr(profiles, "resolve_profile", four_replicas)
    monkeypatch.setattr(profiles, "make_strategy", lambda p: None)
    monkeypatch.setattr(profiles, "apply_profile", lambda p: None)
    dev = run.set_up_devices(cfg, lambda e, p: None)
    assert dev.options.MiniBatchSize == 32 and cfg.batch_size == 8
    assert RunConfig(**{f.name: getattr(cfg, f.name) for f in dataclasses.fields(cfg)}).to_dict()["batch_size"] == 8


def test_no_test_split_metrics_say_they_come_from_validation(tmp_path):
    """--split 0.7,0.3 leaves nothing for the test split: the metrics are the validation split's and say so
    (before: a run reported them as if they were test metrics)."""
    from leuknet.run import train_run

    cfg = resolve({"split": "0.7,0.3", "epochs": 1, "demo_per_class": 10, "image_size": 32, "batch_size": 4,
                   "fc_units": 8, "device": "cpu", "out": str(tmp_path / "r"), "verbose": False})
    assert cfg.split == (0.7, 0.3, 0.0)
    res = train_run(cfg)
    m = json.loads((tmp_path / "r" / "metrics.json").read_text())
    assert res["metrics"]["evaluated_split"] == m["evaluated_split"] == "validation"
    assert "no test split" in m["note"] and res["splits"]["test"] == 0 and m["n_test"] == res["splits"]["validation"]


def test_run_is_a_sequence_of_short_stages():
    import ast
    from pathlib import Path

    import leuknet.run

    tree = ast.parse(Path(leuknet.run.__file__).read_text())
    longest = max((n.end_lineno - n.lineno + 1, n.name) for n in ast.walk(tree) if isinstance(n, ast.FunctionDef))
    assert longest[0] < 60, longest


def test_a_bad_augmentation_spec_is_refused_before_any_deep_learning_library_starts():
    """`leuknet train --augment 'RandRotation=abc'` answers in the configuration check, before TensorFlow, Keras or
    JAX is imported (they take seconds to start)."""
    import subprocess
    import sys
    from pathlib import Path

    code = ("import sys\nfrom leuknet.config import resolve\nfrom leuknet.errors import ConfigError\n"
            "for spec in ('RandRotation=abc', 'Rand=1', 'RandRotation=-10,10;RandXReflection=maybe'):\n"
            "    try:\n        resolve({'augment': spec})\n    except ConfigError as e:\n        print(e)\n"
            "print(sorted(m for m in ('tensorflow', 'keras', 'jax') if m in sys.modules))\n"
            "resolve({'augment': 'RandRotation=-10,10;RandXReflection=true'})\n")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                       cwd=Path(__file__).resolve().parents[1])
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert lines[0] == "--augment: RandRotation='abc' is not true/false or numbers"
    assert lines[1].startswith("--augment: imageDataAugmenter: unknown name-value option 'Rand'")
    assert lines[2] == "--augment: RandXReflection='maybe' is not true/false or numbers"
    assert lines[3] == "[]"
