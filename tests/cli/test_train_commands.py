"""train, eval, predict, models, summary and lineage, called in-process through glassgrad.cli.main."""

import json
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from glassgrad.cli import main


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(code, err, *needles):
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    """One quick training run on 128 digits, shared by the eval/predict/report tests."""
    out = tmp_path_factory.mktemp("run") / "lenet"
    code = main(["train", "--model", "lenet5", "--epochs", "2", "--limit", "128", "--batch-size", "32", "--quiet",
                 "--out", str(out)])  # fmt: skip
    assert code == 0
    return out


def test_train_writes_the_run_folder(digits_run, capsys):
    for name in ("config.json", "metrics.csv", "steps.csv", "metrics.json", "checkpoint.pt", "loss.png",
                 "accuracy.png", "confusion_matrix.png", "report.html"):  # fmt: skip
        assert (digits_run / name).stat().st_size > 0, name
    for png in ("loss.png", "accuracy.png", "confusion_matrix.png"):
        assert (digits_run / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    config = json.loads((digits_run / "config.json").read_text())
    assert config["model"] == "lenet5" and config["input_shape"] == [1, 8, 8] and config["parameters"] == 61_706
    metrics = json.loads((digits_run / "metrics.json").read_text())
    assert [e["epoch"] for e in metrics["epochs"]] == [1, 2] and len(metrics["steps"]) == 2 * 4
    assert (digits_run / "metrics.csv").read_text().splitlines()[0].startswith("epoch,train_loss,train_top1")
    page = (digits_run / "report.html").read_text()
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    # loss, accuracy, learning rate, confusion matrix, test images, mistakes, gradient norms per layer
    assert page.count("data:image/png;base64,") == 7
    for anchor in ("test-images", "mistakes", "per-class", "layers", "doctor", "files"):
        assert f'id="{anchor}"' in page, anchor
    assert '<a href="metrics.csv">metrics.csv</a>' in page
    last = metrics["epochs"][-1]
    assert "test_top1 (%)" in page and f"<td>{100 * last['test_top1']:.2f}</td>" in page  # percent, as elsewhere
    assert "http://" not in page and "https://" not in page  # readable offline
    assert "Total params: 61,706" in page


def test_train_prints_the_report_path(tmp_path, capsys):
    code, out, err = run(
        capsys, "train", "--model", "lenet5", "--epochs", "1", "--limit", "64", "--out", tmp_path / "r"
    )
    assert code == 0, err
    assert "epoch   1/1" in out
    assert f"report: {tmp_path / 'r' / 'report.html'}" in out.strip().splitlines()[-1]


def test_resume_continues_the_run(digits_run, tmp_path, capsys):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(digits_run, copy)
    code, out, err = run(capsys, "train", "--resume", copy / "checkpoint.pt", "--epochs", "3", "--quiet")
    assert code == 0, err
    epochs = json.loads((copy / "metrics.json").read_text())["epochs"]
    assert [e["epoch"] for e in epochs] == [1, 2, 3]
    code, out, err = run(capsys, "train", "--resume", copy / "checkpoint.pt", "--epochs", "3", "--quiet")
    one_line_error(code, err, "already trained 3 epochs", "--epochs")


def test_eval_reports_accuracy(digits_run, capsys):
    code, out, err = run(capsys, "eval", digits_run / "checkpoint.pt", "--limit", "64")
    assert code == 0, err
    assert "top-1" in out and "per-class accuracy" in out and "64 images" in out


def test_predict_top_k(digits_run, tmp_path, capsys):
    from glassgrad.vision.datasets import Digits

    test = Digits(train=False)
    paths = []
    for i in range(2):
        path = tmp_path / f"digit{i}.png"
        Image.fromarray(test.data.numpy()[i]).save(path)
        paths.append(path)
    code, out, err = run(capsys, "predict", digits_run / "checkpoint.pt", *paths, "--top", "2")
    assert code == 0, err
    lines = out.strip().splitlines()
    assert len(lines) == 2 and lines[0].startswith("digit0.png: ")
    probabilities = [float(p.split()[-1].rstrip("%")) for p in lines[0].split(": ")[1].split(", ")]
    assert len(probabilities) == 2 and probabilities[0] >= probabilities[1] and sum(probabilities) <= 100.01


def test_models_and_summary(capsys):
    code, out, _ = run(capsys, "models")
    assert code == 0
    names = [line.split()[0] for line in out.strip().splitlines()]
    assert names[:3] == ["simple_cnn", "lenet5", "alexnet"] and "resnet20" in names and "googlenet" in names
    code, out, _ = run(capsys, "summary", "lenet5", "--input-size", "1", "28", "28")
    assert code == 0 and "Total params: 61,706" in out and "[1, 6, 28, 28]" in out
    code, out, _ = run(capsys, "summary", "resnet20", "--depth", "1")
    assert code == 0 and "Total params: 269,722" in out and "Total MACs: 40,551,040" in out


def test_lineage_table_and_plot(tmp_path, capsys):
    code, out, err = run(capsys, "lineage", "--dataset", "digits", "--models", "lenet5,alexnet,simple_cnn", "--limit", "64",
                         "--quiet", "--out", tmp_path)  # fmt: skip
    assert code == 0, err
    assert "lenet5" in out and "simple_cnn" in out and "test top-1" in out
    assert "skipping alexnet" in err and "too small" in err  # 8x8 digits are below AlexNet's 16x16
    rows = json.loads((tmp_path / "lineage.json").read_text())["rows"]
    assert [r["model"] for r in rows] == ["lenet5", "simple_cnn"] and rows[0]["params"] == 61_706
    assert (tmp_path / "lineage.png").read_bytes()[:4] == b"\x89PNG"
    assert (tmp_path / "lineage.csv").read_text().startswith("model,year,params,macs")


@pytest.mark.parametrize(
    "argv, needles",
    [
        (["train", "--model", "resnet99"], ["unknown model 'resnet99'", "glassgrad models"]),
        (["train", "--dataset", "svhn"], ["unknown dataset 'svhn'", "fashion-mnist"]),
        (["train", "--epochs", "0"], ["--epochs must be > 0"]),
        (["train", "--lr", "-1"], ["--lr must be > 0"]),
        (["train", "--momentum", "1.5"], ["--momentum must be in [0, 1)"]),
        (["train", "--optimizer", "lbfgs", "--limit", "32"], ["unknown optimizer 'lbfgs'"]),
        (["train", "--schedule", "warp", "--limit", "32"], ["unknown schedule 'warp'"]),
        (
            ["train", "--model", "resnet20", "--activation", "sigmoid", "--limit", "32"],
            ["--activation applies to simple_cnn"],
        ),
        (["train", "--model", "alexnet", "--limit", "32"], ["too small", "input_size"]),
        (["train", "--dataset", "imagefolder:/nonexistent/x"], ["/nonexistent/x is not a folder"]),
        (["summary", "vgg11", "--input-size", "3", "32", "32", "32"], ["--input-size takes C H W"]),
        (["summary", "lenet"], ["unknown model 'lenet'"]),
        (["eval", "/nonexistent/checkpoint.pt"], ["no checkpoint at /nonexistent/checkpoint.pt"]),
        (["lineage", "--models", "lenet5,foo"], ["unknown model(s) foo"]),
    ],
)
def test_errors_are_one_line_with_the_fix(argv, needles, capsys):
    code, _, err = run(capsys, *argv)
    one_line_error(code, err, *needles)


def test_missing_dataset_says_where_to_put_it(tmp_path, capsys, monkeypatch):
    # GLASSGRAD_DATA (set in CI) is one of the places searched; without this the data would be found.
    monkeypatch.delenv("GLASSGRAD_DATA", raising=False)
    code, _, err = run(capsys, "train", "--dataset", "fashion-mnist", "--data-dir", tmp_path)
    one_line_error(code, err, "fashion-mnist not found", "--data-dir")


def test_model_for_one_channel_fed_colour_images(digits_run, tmp_path, capsys):
    for cls in ("a", "b"):
        for split in ("train", "test"):
            folder = tmp_path / "imgs" / split / cls
            folder.mkdir(parents=True)
            for i in range(2):
                Image.fromarray(np.full((8, 8, 3), 40 * i, np.uint8)).save(folder / f"{i}.png")
    code, _, err = run(capsys, "eval", digits_run / "checkpoint.pt", "--dataset", f"imagefolder:{tmp_path / 'imgs'}")
    one_line_error(code, err, "cannot take", "(3, 8, 8)")


def test_predict_errors(digits_run, tmp_path, capsys):
    code, _, err = run(capsys, "predict", digits_run / "checkpoint.pt", tmp_path / "missing.png")
    one_line_error(code, err, "no image file")
    junk = tmp_path / "junk.png"
    junk.write_text("not an image")
    code, _, err = run(capsys, "predict", digits_run / "checkpoint.pt", junk)
    one_line_error(code, err, "cannot read", "PNG or JPEG")
    code, _, err = run(capsys, "eval", junk)
    one_line_error(code, err, "cannot read checkpoint")


@pytest.mark.skipif(
    not os.environ.get("GLASSGRAD_DATA"), reason="GLASSGRAD_DATA not set: real Fashion-MNIST run skipped"
)
def test_fashion_mnist_quick_run(tmp_path, capsys, monkeypatch):
    data_dir = os.environ["GLASSGRAD_DATA"]
    if not (Path(data_dir) / "fashion-mnist").is_dir():
        pytest.skip("no fashion-mnist folder in GLASSGRAD_DATA")
    monkeypatch.delenv("GLASSGRAD_DATA")  # --data-dir alone must find data_dir/fashion-mnist
    code, out, err = run(capsys, "train", "--dataset", "fashion-mnist", "--model", "lenet5", "--epochs", "1",
                         "--limit", "256", "--quiet", "--out", tmp_path, "--data-dir", data_dir)  # fmt: skip
    assert code == 0, err
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["input_shape"] == [1, 28, 28] and config["train_images"] == 256
