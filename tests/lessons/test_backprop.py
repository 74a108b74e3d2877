from decimal import Decimal

import pytest

from glassgrad.lessons import backprop


@pytest.fixture(scope="module")
def exact():
    return backprop.exact_chain()


def test_seed_001_exact_chain(exact):
    assert exact["z1"] == pytest.approx(0.21, abs=1e-15) and exact["z2"] == pytest.approx(0.19, abs=1e-15)
    assert round(exact["a1"], 6) == 0.552308 and round(exact["a2"], 6) == 0.547358
    assert round(exact["y_hat"], 6) == 0.494602
    assert round(exact["L"], 7) == 0.0421883
    grads = [round(exact[f"dL/dw{i}"], 6) for i in range(1, 7)]
    assert grads == [-0.020315, -0.025444, -0.012189, -0.015267, -0.226886, -0.224852]
    assert round(exact["y_hat'"], 6) == 0.519809


def test_seed_001_rounded_hand_calculation_reproduces_every_printed_number():
    rounded, steps = backprop.hand_calculation()
    for key, printed in backprop.SEED_PRINTED.items():
        assert rounded[key] == Decimal(printed), key
    assert [str(rounded[f"dL/dw{i}"]) for i in range(1, 7)] == [
        "-0.0204",
        "-0.0255",
        "-0.0122",
        "-0.0153",
        "-0.227",
        "-0.225",
    ]
    assert (str(rounded["y_hat"]), str(rounded["L"]), str(rounded["y_hat'"])) == ("0.4943", "0.04231", "0.5199")
    assert any("written 0.552" in s for s in steps)


def test_lesson_says_where_they_part(exact, tmp_path):
    rounded, _ = backprop.hand_calculation()
    lines = backprop.parting(exact, rounded)
    assert lines[0].startswith("They part at the first rounding: a1 = 0.552308")
    parted = {line.split(":")[0] for line in lines[1:]}
    assert {"y_hat", "L", "dL/dw1", "dL/dw2", "y_hat'"} <= parted
    assert "dL/dw5" not in parted and "dL/dw6" not in parted  # these agree at the seed's three digits
