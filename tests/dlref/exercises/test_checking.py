"""Every check of ``dlref.exercises`` fails a missing answer or a stub with a hint, and is exported.

The files beside this one feed each topic's checks typical wrong answers.
"""

import importlib
import pkgutil

import pytest

import dlref.exercises

CHECKS = {
    name: getattr(dlref.exercises, name)
    for name in dlref.exercises.__all__
    if name.startswith("check_")
}


def blank_stub(*args, **kwargs): ...


def not_implemented_stub(*args, **kwargs):
    raise NotImplementedError


@pytest.mark.parametrize("name", sorted(CHECKS))
def test_a_check_fails_nothing_and_blank_stubs_with_a_hint(name):
    check = CHECKS[name]
    assert check.__doc__ and "ExerciseFailed" in check.__doc__, f"{name}: document what it raises"
    for answer in (None, blank_stub, not_implemented_stub):
        with pytest.raises(dlref.exercises.ExerciseFailed) as failure:
            check(answer)
        assert len(str(failure.value)) > 20, f"{name}({answer}): a short hint: {failure.value}"


def test_every_check_is_importable_from_dlref_exercises():
    topics = [info.name for info in pkgutil.iter_modules(dlref.exercises.__path__)]
    for topic in set(topics) - {"checking"}:
        module = importlib.import_module(f"dlref.exercises.{topic}")
        assert module.__all__, f"dlref.exercises.{topic} has no checks"
        for name in module.__all__:
            assert getattr(dlref.exercises, name, None) is getattr(module, name), name
