"""Line-level exact dedup: the pure line hashing and removal the `dedup.lines` stage runs."""
from __future__ import annotations

import pytest

from corpusforge.dedup.lines import LineDedupParams, line_hashes, remove_lines
from corpusforge.errors import ConfigError


def test_lines_hash_by_dedup_key_and_blank_lines_are_skipped() -> None:
    hashed = line_hashes("Accept cookies!\n   \nThe river rose overnight.\nACCEPT   cookies")
    assert [number for number, _ in hashed] == [0, 2, 3]
    assert hashed[0][1] == hashed[2][1] != hashed[1][1]


def test_min_line_chars_ignores_short_lines() -> None:
    assert [n for n, _ in line_hashes("ok\nlonger line here", min_line_chars=5)] == [1]


def test_remove_lines_counts_what_it_removed() -> None:
    text, n_lines, n_chars = remove_lines("keep\nnav bar\nkeep too\nfooter", {1, 3})
    assert (text, n_lines, n_chars) == ("keep\nkeep too", 2, len("nav bar") + len("footer"))
    assert remove_lines("same", set()) == ("same", 0, 0)


def test_params_are_checked() -> None:
    with pytest.raises(ConfigError, match="max_occurrences"):
        LineDedupParams(max_occurrences=0)


def test_one_line_identity_for_both_line_stages() -> None:
    # boilerplate and dedup_lines share it: case, spacing, punctuation and the script do not make a line new.
    variants = ["Accept all cookies", "  ACCEPT   all cookies!  ", "accept all cookies."]
    assert len({line_hashes(v)[0][1] for v in variants}) == 1
    assert line_hashes("接受所有 Cookie")[0][1] == line_hashes("接受所有 cookie")[0][1]


def test_removal_squeezes_the_blank_lines_it_leaves() -> None:
    text = "Accept all cookies\n\nParagraph one.\n\n\nParagraph two.\nAccept ALL cookies"
    banner = {n for n, h in line_hashes(text) if h == line_hashes("accept all cookies")[0][1]}
    assert banner == {0, 6}
    assert remove_lines(text, banner) == ("Paragraph one.\n\nParagraph two.", 2, 36)
    assert remove_lines(text, {99}) == (text, 0, 0)
