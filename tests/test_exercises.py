from gan_lib.exercises import check, verdict


def test_right_wrong_and_unanswered_each_say_so():
    assert verdict("1", 8, 8) == "1: right"
    assert verdict("2", 0.7499, 0.75, tolerance=1e-3) == "2: right"
    assert verdict("3", [8, 4], (8, 4)) == "3: right" and verdict("4", " Three ", "three") == "4: right"
    assert verdict("5", 7, 8, hint="count the overlap") == "5: not yet, 7 is not it. Hint: count the overlap"
    assert verdict("6", None, 8).startswith("6: not answered yet")
    assert verdict("7", "eight", 8).startswith("7: not yet") and verdict("8", [8], (8, 4)).startswith("8: not yet")
    assert verdict("9", True, True) == "9: right" and verdict("10", False, True).startswith("10: not yet")


def test_check_prints_the_verdict_and_returns_nothing_to_display(capsys):
    assert check("1", 7, 8) is None
    assert capsys.readouterr().out == "1: not yet, 7 is not it.\n"
