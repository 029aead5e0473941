"""From any drop reason to its rule in one step: reasons.RULES names a real module and function
for every reason, and the reason's own string appears there (or in what it calls)."""
from __future__ import annotations

import importlib

import pytest

from corpusforge.reasons import REASONS, RULES


def test_every_reason_has_a_rule_and_every_rule_has_a_reason():
    assert sorted(RULES) == sorted(REASONS)


@pytest.mark.parametrize("reason", sorted(REASONS))
def test_the_rule_of_a_reason_imports(reason):
    module_name, _, name = RULES[reason].partition(":")
    module = importlib.import_module(module_name)
    assert callable(getattr(module, name)), RULES[reason]
