"""The colour-space study and reports, end to end at a tiny size; --colorspace through train and predict."""

import csv
import json
from html.parser import HTMLParser

import base64
import numpy as np
import pytest

from leuknet.colorspace import convert


class _Images(HTMLParser):
    def __init__(self):
        super().__init__()
        self.srcs = []

    def handle_starttag(self, tag, attrs):
        if tag == "img":
            self.srcs.append(dict(attrs)["src"])


TINY = dict(image_size=32, demo_per_class=12, epochs=1, batch_size=8, fc_units=8, device="cpu")


@pytest.mark.slow
def test_colorspace_study_end_to_end_with_resume_and_report(tmp_path):
    from leuknet.report import build_report
    from leuknet.study import run_study

    events = []
    run_study(dict(TINY), "rgb,hsv", 2, tmp_path / "study", callback=lambda e, p: events.append(e))
    assert events.count("run_start") == 4
    # every space sees the same split per seed
    for seed in (0, 1):
        a = list(csv.DictReader(open(tmp_path / "study" / "runs" / f"rgb-seed{seed}" / "splits.csv")))
        b = list(csv.DictReader(open(tmp_path / "study" / "runs" / f"hsv-seed{seed}" / "splits.csv")))
        assert [(r["file"], r["split"]) for r in a] == [(r["file"], r["split"]) for r in b]
    cfg = json.loads((tmp_path / "study" / "runs" / "hsv-seed1" / "config.json").read_text())
    assert cfg["config"]["colorspace"] == "hsv" and cfg["seed"] == 1
    data = json.loads((tmp_path / "study" / "colorspace.json").read_text())
    rgb = data["spaces"]["rgb"]
    assert rgb["training_samples"] == 16 and len(rgb["accuracy"]["values"]) == 2 and rgb["accuracy"]["std"] >= 0
    md = (tmp_path / "study" / "colorspace.md").read_text()
    assert "| A | RGB | 16 |" in md and "| B | HSV | 16 |" in md
    for f in ("colorspace.png", "confusion_rgb.png", "confusion_hsv.png"):
        assert (tmp_path / "study" / f).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # an interrupted study resumes: finished runs are not redone
    events.clear()
    run_study(dict(TINY), "rgb,hsv", 2, tmp_path / "study", callback=lambda e, p: events.append(e))
    assert events.count("run_start") == 0 and events.count("run_skipped") == 4
    # the report opens and embeds valid PNGs
    out = build_report([tmp_path / "study"], tmp_path / "report.html")
    parser = _Images()
    parser.feed(out.read_text())
    assert len(parser.srcs) >= 5
    for src in parser.srcs:
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
    md = build_report([tmp_path / "study" / "runs" / "rgb-seed0"], tmp_path / "r" / "report.md")
    text = md.read_text()
    assert "report_files/figure1.png" in text and (tmp_path / "r" / "report_files" / "figure1.png").is_file()
    assert "None" not in text and "cpu, fp32" in text  # the precision the run used, never 'None'


@pytest.mark.slow
def test_model_trained_on_hsv_converts_inputs_when_predicting(tmp_path):
    from leuknet.config import resolve
    from leuknet.data.pipeline import read_image, resize_uint8
    from leuknet.run import load_model, predict_files, train_run

    res = train_run(resolve(dict(TINY, colorspace="hcbcr", out=str(tmp_path / "run"))))
    model = load_model(tmp_path / "run" / "model.keras")
    assert model.get_layer("imageinput").colorspace == "hcbcr"
    files = [r["file"] for r in csv.DictReader(open(tmp_path / "run" / "predictions.csv"))][:3]
    got = predict_files(tmp_path / "run" / "model.keras", files)
    manual = np.stack([resize_uint8(convert(read_image(f), "hcbcr"), (32, 32)).numpy() for f in files])
    expected = model(manual.astype(np.float32)).numpy()
    np.testing.assert_allclose(got["probabilities"], expected, rtol=1e-5, atol=1e-6)
    assert res["metrics"]["n_test"] > 0


def test_study_argument_errors(tmp_path):
    from leuknet.errors import ConfigError
    from leuknet.study import parse_spaces, run_study

    assert parse_spaces("RGB, hsv,rgb") == ["rgb", "hsv"]
    with pytest.raises(ConfigError, match="unknown colour space"):
        parse_spaces("rgb,lab")
    with pytest.raises(ConfigError, match="needs at least three classes"):
        run_study(dict(TINY), "rgb", 1, tmp_path / "s", task="subtype")
    with pytest.raises(ConfigError, match="--repeats"):
        run_study(dict(TINY), "rgb", 0, tmp_path / "s")
