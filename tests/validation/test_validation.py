"""Every validation case (cases/*.json) through every validator: the
collector and the checks generated into each langpack. One test per case
and validator; each case file is run once per validator (README.md)."""

import importlib
import re
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from validation_cases import (REASONS, VALIDATORS, load_all,  # noqa: E402
                              write_registry)

FILES = load_all()
RUNNERS_DIR = HERE / "runners"
RUNNERS = [v for v in VALIDATORS if (RUNNERS_DIR / f"{v}.py").exists()]


def test_every_validator_has_a_runner():
    assert RUNNERS == VALIDATORS, \
        f"no runner yet for {sorted(set(VALIDATORS) - set(RUNNERS))}"


def test_cases_are_well_formed():
    names = set()
    for cf in FILES:
        assert cf.cases, f"{cf.name}: no cases"
        for c in cf.cases:
            assert c.id not in names, f"{c.id} twice"
            names.add(c.id)
    for code, per in REASONS.items():
        assert set(per) == set(VALIDATORS), f"reasons.json: {code}"
        for v, rx in per.items():
            re.compile(rx)


@pytest.fixture(scope="session")
def results(tmp_path_factory):
    """(validator, file) -> [Result], computed on first use."""
    done = {}

    def get(validator, cf):
        key = (validator, cf.name)
        if key not in done:
            work = tmp_path_factory.mktemp(f"{validator}-{cf.name}")
            registry = write_registry(cf, work / "registry")
            runner = importlib.import_module(f"runners.{validator}")
            cases = [c for c in cf.cases if validator not in c.not_for]
            got = runner.run(registry, cases, work)
            assert len(got) == len(cases), \
                f"{validator} runner gave {len(got)} results " \
                f"for {len(cases)} cases"
            done[key] = {c.index: r for c, r in zip(cases, got)}
        return done[key]
    return get


def _params():
    for v in RUNNERS:
        for cf in FILES:
            for c in cf.cases:
                if v in c.not_for:
                    continue
                yield pytest.param(v, cf, c, id=f"{v}-{c.id}")


@pytest.mark.parametrize("validator, cf, case", list(_params()))
def test_case(results, validator, cf, case):
    got = results(validator, cf)[case.index]
    want = case.expected(validator)
    shown = case.raw if case.raw is not None else case.value
    what = f"{case.id} {shown!r}: {validator} said {got.verdict} " \
           f"{got.message!r}"
    assert got.verdict == want["verdict"], what
    if want["verdict"] == "accept":
        return
    assert got.request == want["request"], what
    if not want["request"]:
        assert got.path == want["path"], what
    rx = REASONS[want["reason"]][validator]
    assert re.search(rx, got.message), f"{what} does not match {rx!r}"
