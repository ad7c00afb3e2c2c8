from gan_lib.exercises import check


def test_right_wrong_and_unanswered_each_say_so(capsys):
    assert check("1", 8, 8) and check("2", 0.7499, 0.75, tolerance=1e-3) and check("3", [8, 4], (8, 4))
    assert check("4", " Three ", "three")
    assert not check("5", 7, 8, hint="count the overlap")
    assert not check("6", None, 8)
    assert not check("7", "eight", 8) and not check("8", [8], (8, 4))
    lines = capsys.readouterr().out.splitlines()
    assert lines[:4] == ["1: right", "2: right", "3: right", "4: right"]
    assert lines[4] == "5: not yet, 7 is not it. Hint: count the overlap"
    assert lines[5].startswith("6: not answered yet")
