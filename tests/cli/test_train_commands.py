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
    names = [line.split()[0] for line in out.strip().splitlines() if line.startswith("  ") and "year" not in line]
    assert names[:3] == ["simple_cnn", "lenet5", "cifar_alexnet"] and "resnet20" in names and "cifar_googlenet" in names
    code, out, _ = run(capsys, "summary", "lenet5", "--input-size", "1", "28", "28")
    assert code == 0 and "Total params: 61,706" in out and "[1, 6, 28, 28]" in out
    code, out, _ = run(capsys, "summary", "resnet20", "--depth", "1")
    assert code == 0 and "Total params: 269,722" in out and "Total MACs: 40,551,040" in out


def test_lineage_table_and_plot(tmp_path, capsys):
    code, out, err = run(capsys, "lineage", "--dataset", "digits", "--models", "lenet5,cifar_alexnet,simple_cnn", "--limit", "64",
                         "--quiet", "--out", tmp_path)  # fmt: skip
    assert code == 0, err
    assert "lenet5" in out and "simple_cnn" in out and "test top-1" in out
    assert "skipping cifar_alexnet" in err and "too small" in err  # 8x8 digits are below AlexNet's 16x16
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
        (["train", "--model", "cifar_alexnet", "--limit", "32"], ["too small", "input_size"]),
        (["train", "--model", "resnet18", "--limit", "32"], ["ImageNet", "cifar_resnet18"]),
        (["train", "--dataset", "imagefolder:/nonexistent/x"], ["/nonexistent/x is not a folder"]),
        (["summary", "cifar_vgg11", "--input-size", "3", "32", "32", "32"], ["--input-size takes C H W"]),
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


@pytest.mark.parametrize("argv", [["models", "--count"], ["models"], ["--help"], ["summary", "resnet20"]])
def test_a_closed_pipe_ends_quietly(argv):
    # The reader is gone before the command writes a byte (as `| head -0`): no BrokenPipeError traceback.
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2]
    env = dict(os.environ, PYTHONPATH=str(root) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.Popen([sys.executable, "-m", "glassgrad", *argv], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env)  # fmt: skip
    proc.stdout.close()
    err = proc.stderr.read().decode()
    code = proc.wait(timeout=120)
    assert "Traceback" not in err and "BrokenPipeError" not in err and "Exception ignored" not in err, err
    assert code in (0, 141), (code, err)


def test_out_folder_of_an_earlier_run_is_refused(digits_run, tmp_path, capsys):
    code, _, err = run(capsys, "train", "--model", "lenet5", "--epochs", "1", "--limit", "32", "--out", digits_run)
    one_line_error(code, err, f"--out {digits_run} already holds a run", "--overwrite")
    code, _, err = run(capsys, "lineage", "--dataset", "digits", "--models", "lenet5", "--limit", "32", "--quiet",
                       "--out", digits_run)  # fmt: skip
    one_line_error(code, err, "already holds a run", "--overwrite")
    copy = tmp_path / "copy"
    code, _, err = run(capsys, "train", "--model", "lenet5", "--epochs", "1", "--limit", "32", "--quiet", "--out", copy)
    assert code == 0, err
    before = json.loads((copy / "config.json").read_text())
    code, _, err = run(capsys, "train", "--model", "lenet5", "--epochs", "1", "--limit", "48", "--quiet", "--out", copy,
                       "--overwrite")  # fmt: skip
    assert code == 0, err
    after = json.loads((copy / "config.json").read_text())
    assert (before["train_images"], after["train_images"]) == (32, 48)
    # Resuming into another run's folder is refused too; into its own folder it is the point.
    code, _, err = run(capsys, "train", "--resume", copy / "checkpoint.pt", "--epochs", "2", "--out", digits_run)
    one_line_error(code, err, "already holds a run")


def test_default_run_folders_never_collide(tmp_path):
    from glassgrad.cli.train import fresh_dir

    (tmp_path / "run").mkdir()
    (tmp_path / "run-2").mkdir()
    assert fresh_dir(tmp_path / "run") == tmp_path / "run-3"
    assert fresh_dir(tmp_path / "new") == tmp_path / "new"


def test_resume_to_more_epochs_replans_the_cosine_schedule(tmp_path, capsys):
    out = tmp_path / "run"
    code, _, err = run(capsys, "train", "--model", "lenet5", "--epochs", "2", "--limit", "64", "--quiet", "--out", out)
    assert code == 0, err
    code, text, err = run(capsys, "train", "--resume", out / "checkpoint.pt", "--epochs", "4")
    assert code == 0, err
    notice = [line for line in text.splitlines() if "re-planned" in line]
    assert notice == ["the cosine schedule was planned for 2 epochs; re-planned for 4: epoch 3 runs at lr 0.001"]
    lrs = [e["lr"] for e in json.loads((out / "metrics.json").read_text())["epochs"]]
    base = lrs[0]
    # Epochs 3 and 4 follow the cosine of a 4-epoch run (epoch 3 at half the lr), not lr 0 and back up.
    assert lrs[2:] == pytest.approx([base * (1 + np.cos(np.pi * k / 4)) / 2 for k in (2, 3)], rel=1e-6)
    assert json.loads((out / "config.json").read_text())["epochs"] == 4


def test_simple_cnn_is_the_same_network_in_train_and_lineage(tmp_path, capsys):
    code, out, err = run(capsys, "lineage", "--dataset", "digits", "--models", "simple_cnn", "--limit", "64",
                         "--quiet", "--out", tmp_path / "lineage")  # fmt: skip
    assert code == 0, err
    row = json.loads((tmp_path / "lineage" / "lineage.json").read_text())["rows"][0]
    assert row["variant"] == "relu + batch norm" and "relu + batch norm" in out  # the table says which ran
    code, out, err = run(capsys, "train", "--model", "simple_cnn", "--epochs", "1", "--limit", "64",
                         "--out", tmp_path / "train")  # fmt: skip
    assert code == 0, err
    assert "simple_cnn (relu + batch norm, 128,714 parameters)" in out
    config = json.loads((tmp_path / "train" / "config.json").read_text())
    assert config["parameters"] == row["params"] == 128_714
    lineage_config = json.loads((tmp_path / "lineage" / "simple_cnn" / "config.json").read_text())
    assert (lineage_config["activation"], lineage_config["batch_norm"]) == ("relu", "on")
    code, out, _ = run(capsys, "models", "--count")
    line = next(row for row in out.splitlines() if row.lstrip().startswith("simple_cnn "))
    assert "620,810" in line and "relu + batch norm" in line


def test_missing_dataset_offers_download_flag(tmp_path, capsys, monkeypatch):
    import glassgrad.vision.datasets.utils as dutils

    monkeypatch.delenv("GLASSGRAD_DATA", raising=False)
    code, _, err = run(capsys, "train", "--dataset", "mnist", "--data-dir", tmp_path)
    line = one_line_error(code, err, "mnist not found", "pass --download")
    assert "download=True" not in line
    code, _, err = run(capsys, "train", "--dataset", "cifar10", "--data-dir", tmp_path)
    one_line_error(code, err, "cifar10-jpeg.tar.gz", "train/<class>/*.jpg", "pass --download")
    fetched = []

    def no_network(url, root, filename=None, md5=None, what="dataset"):
        fetched.append(url)
        raise dutils.DatasetNotFoundError(f"{what}: could not download {url} (no network in this test)")

    monkeypatch.setattr(dutils, "download_url", no_network)
    code, _, err = run(capsys, "train", "--dataset", "fashion-mnist", "--data-dir", tmp_path, "--download")
    one_line_error(code, err, "fashion-mnist not found", "could not download train-images-idx3-ubyte.gz")
    assert fetched and fetched[0].endswith("/train-images-idx3-ubyte.gz")
    from glassgrad.cli import build_parser

    assert build_parser().parse_args(["eval", "x.pt", "--download"]).download is True
    code, _, err = run(capsys, "train", "--dataset", "digits", "--download")
    one_line_error(code, err, "digits cannot be downloaded", "--download works for mnist")


def test_jpeg_copy_notice_is_one_plain_line(tmp_path, capsys, monkeypatch):
    import io
    import tarfile

    archive = tmp_path / "data" / "cifar10-jpeg.tar.gz"
    archive.parent.mkdir()
    rng = np.random.default_rng(0)
    with tarfile.open(archive, "w:gz") as tar:
        for split in ("train", "test"):
            for cls in ("airplane", "cat"):
                for k in range(4):
                    buffer = io.BytesIO()
                    Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(buffer, "JPEG")
                    member = tarfile.TarInfo(f"{split}/{cls}/{k}.jpg")
                    member.size = buffer.tell()
                    buffer.seek(0)
                    tar.addfile(member, buffer)
    monkeypatch.delenv("GLASSGRAD_DATA", raising=False)
    monkeypatch.setenv("GLASSGRAD_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("GLASSGRAD_PROGRESS", "lines")  # as in a log: the first decode says how far it is
    monkeypatch.setenv("GLASSGRAD_PROGRESS_INTERVAL", "0")
    code, _, err = run(capsys, "train", "--dataset", "cifar10", "--data-dir", archive.parent, "--model", "lenet5",
                       "--epochs", "1", "--quiet", "--out", tmp_path / "run")  # fmt: skip
    assert code == 0, err
    notes = [line for line in err.splitlines() if "JPEG copy" in line]
    assert len(notes) == 1 and notes[0].startswith("glassgrad train: note: CIFAR10: "), err
    assert "UserWarning" not in err and "warnings.warn" not in err
    assert "decoding CIFAR-10 train JPEGs (first use only; cached after): 8/8 img (100%)" in err
