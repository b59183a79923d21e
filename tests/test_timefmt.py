"""Times as the exports write them, read as UTC; the uncached ISO path agrees with the cached."""

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mailflow_doctor.evidence.timefmt import _parse_cached, parse_time


@pytest.mark.parametrize("text, expected", [
    ("2023-03-07T18:46:06.378Z", datetime(2023, 3, 7, 18, 46, 6, 378000, tzinfo=UTC)),
    ("2023-03-07T18:46:06.3781234Z", datetime(2023, 3, 7, 18, 46, 6, 378123, tzinfo=UTC)),
    ("2023-03-07T18:46:06", datetime(2023, 3, 7, 18, 46, 6, tzinfo=UTC)),
    ("2023-03-07T20:46:06+02:00", datetime(2023, 3, 7, 18, 46, 6, tzinfo=UTC)),
    ("3/16/2017 4:59:18 PM", datetime(2017, 3, 16, 16, 59, 18, tzinfo=UTC)),
    ("16/03/2017 16:59:18", datetime(2017, 3, 16, 16, 59, 18, tzinfo=UTC)),
    ("16.03.2017 16:59:18", datetime(2017, 3, 16, 16, 59, 18, tzinfo=UTC)),
    ("/Date(1489683558000)/", datetime(2017, 3, 16, 16, 59, 18, tzinfo=UTC)),
    ("2023-13-07T18:46:06Z", None),
    ("2023-03-07T25:46:06Z", None),
    ("not a time", None),
    ("", None),
])
def test_every_form_reads_as_utc(text, expected):
    got = parse_time(text)
    assert got == expected
    assert got is None or got.tzinfo is UTC


ISOISH = st.builds(
    "{}-{}-{}T{}:{}:{}{}Z".format,
    st.sampled_from(["2026", "0001", "9999", "+026", "20x6"]),
    st.sampled_from(["01", "11", "12", "13", "00", "1"]),
    st.sampled_from(["01", "28", "29", "31", "32"]),
    st.sampled_from(["00", "23", "24", "9"]),
    st.sampled_from(["00", "59", "60"]),
    st.sampled_from(["00", "59", "60", "5"]),
    st.sampled_from(["", ".1", ".123", ".123456", ".1234567", ".", "+01:00", " "]),
)


@given(ISOISH | st.text(max_size=70).map(lambda s: s + "Z"))
def test_uncached_iso_path_agrees_with_the_general_path(text):
    assert parse_time(text) == _parse_cached(text)
