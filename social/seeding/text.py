"""Names and chatter for seeded bunnies: small word lists combined by a seeded RNG, so the
same seed always writes the same words."""

from random import Random

# Word lists read best as text; the splits run once, at import.
FIRST_NAMES = (  # noqa: SIM905
    "Ann Bob Cid Dot Eve Fern Gus Hazel Ivy Jack Kit Luna Moss Nell Olive Pip Quinn Rosie Sage "
    "Tansy Umber Violet Wren Yarrow Zinnia Basil Clover Daisy Ember Flopsy Ginger Holly Juniper "
    "Kale Lily Maple Nutmeg Oats Poppy Reed Sorrel Thyme Willow Acorn Bramble Cinder Dill Elder "
    "Fig Hops Iris Juno Lark Mint Nettle Pebble Rye Sky Thistle Velvet Whisk"
).split()
SURNAMES = (  # noqa: SIM905
    "Thumper Cottontail Flopsy Hazel Bramble Burrow Meadow Clover Hopkins Warren Fernside "
    "Dandelion Briar Softpaw Longear Quickfoot Mossbank Riverrun Oakroot Thistledown Sunpatch "
    "Greenhill Willowby Carrotson Nibbles Tumble Harefield Lettuce Puddle Rootley"
).split()
ADJECTIVES = (  # noqa: SIM905
    "sunny shady secret enormous tiny crunchy fresh dewy golden quiet windy muddy cosy "
    "lovely suspicious magnificent peculiar fragrant"
).split()
FOODS = (
    "clover",
    "dandelions",
    "carrots",
    "lettuce",
    "kale",
    "parsley",
    "radishes",
    "timothy hay",
    "apple slices",
    "basil leaves",
    "strawberries",
    "chicory",
    "mint",
)
PLACES = (
    "by the old oak",
    "behind the greenhouse",
    "near the river",
    "under the hedge",
    "at the bottom of the garden",
    "on the north meadow",
    "next to the compost heap",
    "past the fox-free fence",
)
ACTIVITIES = (
    "a zoomies session",
    "digging practice",
    "a nap in the sun",
    "a binky contest",
    "a picnic",
    "tunnel inspection",
    "a moonlight hop",
    "grooming hour",
)
TIMES = ("tonight", "at dusk", "tomorrow morning", "this weekend", "after the rain", "at noon")

POST_TEMPLATES = (
    "Found a {adj} patch of {food} {place}.",
    "Anyone up for {activity} {time}?",
    "Hot take: {food} are better than {food2}.",
    "Just finished {activity}. Feeling {adj}.",
    "Spotted a {adj} hawk {place}. Stay safe, everyone!",
    "New tunnel is done {place}. Housewarming {time}!",
    "Does anyone else dream about {food}?",
    "Reminder: {activity} {time}, {place}.",
    "The {food} {place} are {adj} this year.",
    "Today I learned that {food} taste {adj} after {activity}.",
)
COMMENT_TEMPLATES = (
    "Count me in!",
    "So {adj}!",
    "Save some {food} for me.",
    "I was there {time}, it's true.",
    "Haha, classic.",
    "Where exactly {place}?",
    "Best news all week.",
    "Not the {food} again 😄",
    "I'll bring {food}.",
    "Agreed. {food} forever.",
)
MESSAGE_TEMPLATES = (
    "Hey! Are you coming {time}?",
    "Yes! I'll bring {food}.",
    "Did you see the {adj} {food} {place}?",
    "On my way.",
    "Running late, a hawk was circling.",
    "Let's meet {place}.",
    "Thanks for the {food}!",
    "Sounds {adj}.",
)
BIO_TEMPLATES = (
    "Professional napper. Amateur digger.",
    "Ask me about {food}.",
    "Lives {place}. Loves {food}.",
    "Champion of {activity}.",
    "Mostly {adj}, sometimes grumpy.",
    "Collector of {adj} pebbles.",
)


POOL_SIZE = 4096


def _fill(template: str, rng: Random) -> str:
    return template.format(
        adj=rng.choice(ADJECTIVES),
        food=rng.choice(FOODS),
        food2=rng.choice(FOODS),
        place=rng.choice(PLACES),
        activity=rng.choice(ACTIVITIES),
        time=rng.choice(TIMES),
    )


class Phrasebook:
    """Pools of sentences, drawn once from the seed: picking one for a row is then a single
    random number, which matters at millions of rows."""

    def __init__(self, rng: Random, size: int = POOL_SIZE):
        def pool(templates) -> list[str]:
            return [_fill(rng.choice(templates), rng) for _ in range(size)]

        self.posts = pool(POST_TEMPLATES)
        self.comments = pool(COMMENT_TEMPLATES)
        self.messages = pool(MESSAGE_TEMPLATES)
        self.bios = pool(BIO_TEMPLATES)


def pick(items, rand) -> str:
    """One of `items`, for a `rand` that returns floats in [0, 1)."""
    return items[int(rand() * len(items))]


def names(rand, user_id: int) -> tuple[str, str]:
    """(username, display name); the id in the username keeps it unique."""
    first, last = pick(FIRST_NAMES, rand), pick(SURNAMES, rand)
    suffix = f"_{user_id}"
    return f"{first}_{last}".lower()[: 30 - len(suffix)] + suffix, f"{first} {last}"
