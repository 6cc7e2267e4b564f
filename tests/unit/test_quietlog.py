from fastport.core.quietlog import QuietLog


def test_one_line_an_interval_and_the_count_of_those_held_back() -> None:
    quiet = QuietLog(interval_ms=1000)
    assert quiet.admit(5000) == 0
    assert quiet.admit(5000) is None
    assert quiet.admit(5999) is None
    assert quiet.admit(6000) == 2
    assert quiet.admit(9000) == 0
