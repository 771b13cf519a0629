from quanttui.core.gpu_fit import check_fractions


def test_fractions_that_fit_and_that_do_not():
    assert check_fractions({"bf16": 0.45, "awq": 0.42}, 16380, 500) is None
    message = check_fractions({"bf16": 0.5, "awq": 0.5}, 16380, 500)
    assert message and "bf16 0.5 + awq 0.5 = 1.00" in message and "0.97 is free" in message
    assert check_fractions({}, 16380, 0) is None
