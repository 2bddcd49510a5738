"""The prompt's "image N" mentions follow the references (pure functions, no Qt)."""

from __future__ import annotations

import pytest

from flexstudio.ui.models.mentions import (
    after_removal,
    colours,
    follow_edit,
    mentions,
    move_order,
    renumber,
    reordered,
)


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


def test_removal_keeps_the_users_words_and_flags_the_removed_mention():
    assert after_removal("image 1, image 2, image 3", 0, 3) == ("image 1, image 1, image 2", ((0, 7),))
    assert after_removal("image 1, image 3", 1, 3) == ("image 1, image 2", ())
    # the mention of the removed picture keeps its words, flagged: it must not silently point at the next one
    text, gone = after_removal("the cat from image 2 on the sofa in image 3", 1, 3)
    assert text == "the cat from image 2 on the sofa in image 2"
    assert [text[a:b] for a, b in gone] == ["image 2"] and gone[0][0] == len("the cat from ")
    # a second removal moves the flag with the text and leaves the flagged mention's number alone
    text2, gone2 = after_removal("image 10 " + text, 0, 10, [(a + 9, b + 9) for a, b in gone])
    assert text2 == "image 9 the cat from image 2 on the sofa in image 1"
    assert [text2[a:b] for a, b in gone2] == ["image 2"] and gone2[0][0] == gone[0][0] + 8
    # moving pictures leaves a flagged mention as it is
    moved, kept = reordered(text, [1, 0], gone)
    assert moved == "the cat from image 2 on the sofa in image 1" and kept == gone
    assert "[" not in text + text2 + moved  # nothing but the user's words is ever sent


@pytest.mark.parametrize(
    ("new", "left"),
    [
        ("Xthe cat from image 2 on the sofa", ["image 2"]),  # typed before: the flag moves along
        ("the cat from image 2 on the sofa!", ["image 2"]),  # typed after
        ("the cat from image 1 on the sofa", []),  # the user changed the number: dealt with
        ("the cat from image 23 on the sofa", []),  # it no longer reads the same
        ("the cat from the sofa", []),  # deleted
        ("the cat from image 2 on the sofa image 2", ["image 2"]),  # a new, unflagged mention
    ],
)
def test_a_flag_follows_the_users_edits(new: str, left: list[str]) -> None:
    old = "the cat from image 2 on the sofa"
    gone = follow_edit(old, new, [(13, 20)])
    assert [new[a:b] for a, b in gone] == left
    if left:
        assert gone[0][0] == new.index("image 2")


def test_mentions_and_colours_found():
    text = "Paint image 2 in #FF6600 and #0af, not #12345g"
    assert [(n) for _s, _l, n in mentions(text)] == [2]
    assert [c for _s, _l, c in colours(text)] == ["#ff6600", "#00aaff"]
