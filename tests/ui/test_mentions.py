"""The prompt's "image N" mentions follow the references (pure functions, no Qt)."""

from __future__ import annotations

import pytest

from flexstudio.ui.models.mentions import after_removal, colours, mentions, move_order, renumber


def test_swap_two_images_renumbers_both_at_once():
    text = "Put the hat from image 2 on the person in image 1; keep image 1's background."
    assert (
        renumber(text, [1, 0])
        == "Put the hat from image 1 on the person in image 2; keep image 2's background."
    )


def test_move_keeps_case_and_hash_and_leaves_other_words():
    text = "Image #3 holds the logo, image 1 the shirt, images 2 stays, image 12 is not there"
    order = move_order(3, 2, 0)  # image 3 moves to the front
    assert order == [2, 0, 1]
    assert (
        renumber(text, order)
        == "Image #1 holds the logo, image 2 the shirt, images 2 stays, image 12 is not there"
    )


def test_identity_and_bad_order():
    assert renumber("image 1 and image 2", [0, 1]) == "image 1 and image 2"
    with pytest.raises(ValueError):
        renumber("image 1", [0, 0])


def test_removal_moves_later_mentions_down_and_marks_the_removed_one():
    assert after_removal("image 1, image 2, image 3", 0, 3) == "[removed image], image 1, image 2"
    assert after_removal("image 1, image 3", 1, 3) == "image 1, image 2"
    # the mention of the removed picture must not silently point at the next one
    assert (
        after_removal("the cat from image 2 on the sofa in image 3", 1, 3)
        == "the cat from [removed image] on the sofa in image 2"
    )


def test_mentions_and_colours_found():
    text = "Paint image 2 in #FF6600 and #0af, not #12345g"
    assert [(n) for _s, _l, n in mentions(text)] == [2]
    assert [c for _s, _l, c in colours(text)] == ["#ff6600", "#00aaff"]
