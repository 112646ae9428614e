"""Drawn bunny avatars: valid PNGs, deterministic per seed, varied, and thread-safe."""

import dataclasses
import hashlib
import io
import math
import random
from concurrent.futures import ThreadPoolExecutor

import pytest
from PIL import Image, ImageChops

from accounts.avatars import (
    TRAITS,
    BunnyTraits,
    bunny_traits,
    combination_count,
    describe_bunny,
    draw_bunny_avatar,
    new_avatar_seed,
    pick_traits,
    render_bunny,
)

SEEDS = range(200)


@pytest.fixture(scope="module")
def avatars_by_seed():
    # Drawing is the slow part (~50 ms each), so the sample is drawn once for all tests.
    return {seed: draw_bunny_avatar(seed) for seed in SEEDS}


def open_png(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def test_avatar_is_a_256_pixel_square_png():
    image = open_png(draw_bunny_avatar(42))

    assert image.format == "PNG"
    assert image.size == (256, 256)
    assert image.mode in {"RGB", "RGBA"}


def test_the_same_seed_draws_the_same_bytes():
    assert draw_bunny_avatar(7) == draw_bunny_avatar(7)
    assert bunny_traits(7) == bunny_traits(7)


def test_different_seeds_draw_different_pictures():
    first, second = open_png(draw_bunny_avatar(1)), open_png(draw_bunny_avatar(2))

    assert first.tobytes() != second.tobytes()


def test_a_sample_of_seeds_gives_many_distinct_pictures(avatars_by_seed):
    digests = {hashlib.sha256(data).hexdigest() for data in avatars_by_seed.values()}
    trait_sets = {pick_traits(seed) for seed in SEEDS}

    # The picture depends on the traits alone: different traits, different pictures.
    assert len(digests) == len(trait_sets)
    assert len(digests) >= 195


def test_every_option_of_every_trait_turns_up(avatars_by_seed):
    seen = {name: set() for name in TRAITS}
    for seed in avatars_by_seed:
        for name, option in bunny_traits(seed).items():
            seen[name].add(option)

    assert seen == {name: set(options) for name, options in TRAITS.items()}


def test_there_are_at_least_ten_thousand_combinations():
    product = math.prod(len(options) for options in TRAITS.values())

    assert combination_count() == product
    assert product >= 10_000
    # Every option of a trait is a different option.
    assert all(len(set(options)) == len(options) for options in TRAITS.values())
    assert list(TRAITS) == [field.name for field in dataclasses.fields(BunnyTraits)]


@pytest.mark.parametrize("base_seed", [3, 11])
@pytest.mark.parametrize("trait", list(TRAITS))
def test_each_option_of_a_trait_is_visibly_different(base_seed, trait):
    # Changing a single trait must change a noticeable patch of the picture,
    # not a handful of pixels, or the combinations would not be worth counting.
    base = pick_traits(base_seed)
    pictures = {
        option: render_bunny(dataclasses.replace(base, **{trait: option}))
        for option in TRAITS[trait]
    }

    options = list(pictures)
    for i, first in enumerate(options):
        for second in options[i + 1 :]:
            changed = changed_pixels(pictures[first], pictures[second])
            assert changed >= 40, f"{trait}: {first!r} and {second!r} differ in {changed} px"


def changed_pixels(first: Image.Image, second: Image.Image, threshold: int = 24) -> int:
    """How many pixels differ by more than `threshold` in some colour channel."""
    red, green, blue = ImageChops.difference(first, second).split()
    largest = ImageChops.lighter(ImageChops.lighter(red, green), blue)
    return sum(largest.histogram()[threshold + 1 :])


def test_drawing_in_threads_matches_drawing_one_at_a_time():
    seeds = list(range(1000, 1032))
    one_at_a_time = [draw_bunny_avatar(seed) for seed in seeds]

    with ThreadPoolExecutor(max_workers=8) as pool:
        in_threads = list(pool.map(draw_bunny_avatar, seeds))

    assert in_threads == one_at_a_time


def test_drawing_leaves_the_global_random_state_alone():
    random.seed(2024)
    expected = random.random()

    random.seed(2024)
    draw_bunny_avatar(99)

    assert random.random() == expected


def test_new_seeds_fit_a_positive_integer_column():
    seeds = {new_avatar_seed() for _ in range(100)}

    assert all(0 <= seed < 2**31 for seed in seeds)
    assert len(seeds) > 90  # random, not a constant


def test_traits_come_from_the_listed_options():
    for seed in (0, 1, 2**31 - 1):
        traits = bunny_traits(seed)
        assert traits.keys() == TRAITS.keys()
        assert all(option in TRAITS[name] for name, option in traits.items())


def test_description_names_the_fur_and_reads_as_a_phrase():
    for seed in range(50):
        traits = bunny_traits(seed)
        text = describe_bunny(seed)
        assert text.startswith(("a ", "an "))
        assert f"{traits['fur']} bunny with " in text
        assert "  " not in text
        assert not text.endswith(" and")
