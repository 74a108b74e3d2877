from glassgrad.cli import main


def test_lesson_lists_runs_and_rejects_unknown_options(tmp_path, capsys):
    assert main(["lesson"]) == 0
    listing = capsys.readouterr().out
    for name in ("gradient-descent", "numerical-gradient", "backprop", "xor", "convolution", "sigmoid-cnn"):
        assert name in listing
    assert main(["lesson", "numerical-gradient", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "dL/dc: numerical -12.0000000000  analytic -12" in out and "wrote " in out
    assert main(["lesson", "xor", "--limit", "3"]) == 2
    assert "lesson xor has no --limit; its options: epochs" in capsys.readouterr().err
