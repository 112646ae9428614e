"""Random bunny avatars, drawn with Pillow.

A seed picks one option for each trait in `TRAITS` (fur, background, ears, ...) and the
bunny is drawn from those traits alone, so the same seed always gives the same PNG bytes.
Nothing here touches module state: every call builds its own `random.Random`, image and
drawing context, so avatars can be drawn from many threads at once.

All coordinates below are in the 256 px avatar space; `_Pen` scales them up to the
oversampled canvas, which is downsampled with LANCZOS at the end for smooth edges.
"""

from __future__ import annotations

import io
import math
import random
import secrets
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from types import MappingProxyType

from PIL import Image, ImageChops, ImageDraw

SIZE = 256
SCALE = 4  # draw at 4x, then downsample: Pillow's shapes are not antialiased
OUTLINE = 3.0  # stroke width of the cartoon outline, in avatar pixels

Point = tuple[float, float]
Colour = str | tuple[int, int, int, int]


# --- Palettes -------------------------------------------------------------------------


@dataclass(frozen=True)
class Fur:
    name: str
    fur: str
    outline: str  # a darker shade of the fur, so the outline reads as part of the bunny
    light: str  # muzzle and belly
    marking: str  # patches and spots; contrasts with the fur
    blaze: str  # the stripe down the forehead and the muzzle, like a Dutch rabbit's
    whisker: str


@dataclass(frozen=True)
class Backdrop:
    name: str
    colour: str
    halo: str  # lighter disc behind the bunny, so it stands out in a round crop
    accent: str  # colour for bows, scarves, hats: chosen to go with this backdrop


FURS = (
    #    name          fur        outline    light      marking    blaze      whisker
    Fur("white",      "#fbf8f3", "#a89b90", "#ffffff", "#9c7b63", "#e6c9ab", "#b3a79d"),
    Fur("cream",      "#f3dfb8", "#a8855a", "#fff6e4", "#c99a62", "#fffaf0", "#a8855a"),
    Fur("ginger",     "#e8a15a", "#94561f", "#fce3c4", "#b76524", "#fff3e3", "#94561f"),
    Fur("fawn",       "#cfae86", "#7c5f40", "#f1e2cd", "#8f6c48", "#fbf3e8", "#7c5f40"),
    Fur("brown",      "#8a5d44", "#45291b", "#d3b29a", "#f3e9df", "#f3e9df", "#45291b"),
    Fur("grey",       "#a6aab3", "#5c606a", "#e4e6eb", "#6a6e78", "#f4f5f7", "#5c606a"),
    Fur("blue",       "#7f8fab", "#414c62", "#c9d2e2", "#eef1f6", "#eef1f6", "#414c62"),
    Fur("black",      "#3c3b42", "#141318", "#6c6a73", "#f2f0ee", "#f2f0ee", "#c9c6cf"),
    Fur("lilac",      "#c6b7d6", "#76648c", "#eee7f5", "#9884b0", "#faf7fd", "#76648c"),
    Fur("strawberry", "#f3bcc6", "#b0606f", "#fde6ea", "#d98494", "#fff7f8", "#b0606f"),
)  # fmt: skip

BACKDROPS = (
    Backdrop("mint", "#a8e0c6", "#d3f2e3", "#e5527a"),
    Backdrop("sky", "#a9d3f2", "#d6eafa", "#f08a24"),
    Backdrop("peach", "#ffc9ab", "#ffe5d6", "#3d7fd0"),
    Backdrop("lavender", "#cfc0f0", "#e8e0fa", "#e0467c"),
    Backdrop("butter", "#fbe39a", "#fff3cc", "#7657c9"),
    Backdrop("rose", "#f7bccd", "#fde0e8", "#2f9a72"),
    Backdrop("sage", "#c4dba8", "#e3eed5", "#d8433f"),
    Backdrop("teal", "#8fd0d0", "#c9ebeb", "#f2664a"),
)

_FUR_BY_NAME = MappingProxyType({f.name: f for f in FURS})
_BACKDROP_BY_NAME = MappingProxyType({b.name: b for b in BACKDROPS})

INNER_EARS = MappingProxyType({"pink": "#f7a8bd", "apricot": "#ffc98a", "lavender": "#cdb6f2"})

EYE = "#2b1e22"
EYE_ON_DARK = "#e4dfe9"
NOSE = "#e9708c"
BLUSH = (255, 110, 140, 80)
WHITE = "#ffffff"
CARROT = "#f28a2e"
CARROT_DARK = "#b85a12"
LEAF = "#5fb047"
LEAF_DARK = "#357a2a"


# --- Traits ---------------------------------------------------------------------------

# Every option of every trait; a seed picks one of each, uniformly and independently.
TRAITS = MappingProxyType(
    {
        "fur": tuple(f.name for f in FURS),
        "background": tuple(b.name for b in BACKDROPS),
        "ears": ("upright", "floppy", "lop", "short", "pointy"),
        "inner_ear": tuple(INNER_EARS),
        "markings": ("plain", "patch", "spots", "blaze"),
        "eyes": ("open", "happy", "wink", "sleepy", "sparkly"),
        "mouth": ("smile", "open", "teeth"),
        "accessory": ("none", "bow", "flower crown", "glasses", "scarf", "carrot", "party hat"),
    }
)


@dataclass(frozen=True)
class BunnyTraits:
    fur: str
    background: str
    ears: str
    inner_ear: str
    markings: str
    eyes: str
    mouth: str
    accessory: str


def combination_count() -> int:
    """How many different bunnies the traits can describe."""
    return math.prod(len(options) for options in TRAITS.values())


def pick_traits(seed: int) -> BunnyTraits:
    # A private generator, never the shared global one. Not for secrets: it only picks looks.
    rng = random.Random(seed)  # noqa: S311
    return BunnyTraits(**{name: rng.choice(options) for name, options in TRAITS.items()})


def bunny_traits(seed: int) -> dict[str, str]:
    """The traits picked for `seed`, e.g. {"fur": "grey", "ears": "lop", ...}."""
    return asdict(pick_traits(seed))


_EAR_PHRASES = {
    "upright": "tall ears",
    "floppy": "one floppy ear",
    "lop": "lop ears",
    "short": "short ears",
    "pointy": "pointy ears",
}
_EYE_WORDS = {
    "open": "",
    "happy": "happy",
    "wink": "winking",
    "sleepy": "sleepy",
    "sparkly": "starry-eyed",
}
_ACCESSORY_PHRASES = {
    "none": "",
    "bow": "a bow",
    "flower crown": "a flower crown",
    "glasses": "glasses",
    "scarf": "a scarf",
    "carrot": "a carrot",
    "party hat": "a party hat",
}


def describe_bunny(seed: int) -> str:
    """A short phrase for alt text, e.g. "a sleepy grey bunny with lop ears and glasses"."""
    t = pick_traits(seed)
    words = " ".join(w for w in (_EYE_WORDS[t.eyes], t.fur, "bunny") if w)
    article = "an" if words[0] in "aeiou" else "a"
    extras = " and ".join(p for p in (_EAR_PHRASES[t.ears], _ACCESSORY_PHRASES[t.accessory]) if p)
    return f"{article} {words} with {extras}"


def new_avatar_seed() -> int:
    """A fresh random seed; 31 bits so it fits a positive integer database column."""
    return secrets.randbits(31)


# --- Public drawing entry points --------------------------------------------------------


def draw_bunny_avatar(seed: int) -> bytes:
    """The avatar for `seed` as 256x256 PNG bytes; the same seed gives the same bytes."""
    buffer = io.BytesIO()
    render_bunny(pick_traits(seed)).save(buffer, format="PNG")
    return buffer.getvalue()


def render_bunny(traits: BunnyTraits) -> Image.Image:
    """Draw the bunny described by `traits` as a 256x256 RGB image."""
    fur = _FUR_BY_NAME[traits.fur]
    backdrop = _BACKDROP_BY_NAME[traits.background]
    image = Image.new("RGB", (SIZE * SCALE, SIZE * SCALE), backdrop.colour)
    pen = _Pen(image)

    # Back to front: whatever is drawn later covers what was drawn earlier.
    pen.ellipse(HEAD.cx, HEAD.cy - 6, 112, 112, fill=backdrop.halo)
    _draw_body(pen, fur)
    if traits.accessory == "scarf":
        _draw_scarf(pen, backdrop.accent)  # before the head, so the chin tucks into it
    _draw_ears(pen, fur, INNER_EARS[traits.inner_ear], traits.ears, in_front=False)
    _draw_head(pen, fur)
    _draw_markings(image, fur, traits.markings)
    _draw_ears(pen, fur, INNER_EARS[traits.inner_ear], traits.ears, in_front=True)
    _draw_cheeks(pen)
    _draw_eyes(pen, fur, traits.eyes, traits.markings)
    _draw_muzzle(pen, fur, traits.mouth, traits.markings)
    if draw_accessory := _ACCESSORIES_IN_FRONT.get(traits.accessory):
        draw_accessory(pen, fur, backdrop.accent)

    # reducing_gap halves the size with a cheap box filter first, then LANCZOS does the rest:
    # indistinguishable from LANCZOS all the way, at under half the cost.
    return image.resize((SIZE, SIZE), Image.Resampling.LANCZOS, reducing_gap=2.0)


# --- Geometry helpers -----------------------------------------------------------------


@dataclass(frozen=True)
class _Oval:
    cx: float
    cy: float
    rx: float
    ry: float

    def at(self, degrees: float, shrink: float = 1.0) -> Point:
        """The point on this oval (scaled by `shrink`) at an angle; 0 is right, -90 is up."""
        a = math.radians(degrees)
        return (self.cx + self.rx * shrink * math.cos(a), self.cy + self.ry * shrink * math.sin(a))


HEAD = _Oval(128, 140, 72, 62)
BODY = _Oval(128, 266, 68, 62)
EYE_Y = 139
EYE_X = (98, 158)
NOSE_Y = 160


def _oval_points(cx: float, cy: float, rx: float, ry: float, tilt: float = 0, n: int = 72):
    t = math.radians(tilt)
    points = []
    for i in range(n):
        a = 2 * math.pi * i / n
        x, y = rx * math.cos(a), ry * math.sin(a)
        points.append(
            (cx + x * math.cos(t) - y * math.sin(t), cy + x * math.sin(t) + y * math.cos(t))
        )
    return points


def _bezier(p0: Point, p1: Point, p2: Point, t: float) -> tuple[Point, Point]:
    """Point and tangent of a quadratic Bezier curve."""
    u = 1 - t
    point = (
        u * u * p0[0] + 2 * u * t * p1[0] + t * t * p2[0],
        u * u * p0[1] + 2 * u * t * p1[1] + t * t * p2[1],
    )
    tangent = (
        2 * u * (p1[0] - p0[0]) + 2 * t * (p2[0] - p1[0]),
        2 * u * (p1[1] - p0[1]) + 2 * t * (p2[1] - p1[1]),
    )
    return point, tangent


def _along_spine(
    spine: tuple[Point, Point, Point],
    width: float,
    profile: Callable[[float], float],
    t0: float = 0.0,
    t1: float = 1.0,
    n: int = 40,
) -> list[Point]:
    """A leaf-like outline around a curved spine; `profile(u)` gives the half-width 0..1."""
    left, right = [], []
    for i in range(n + 1):
        u = i / n
        (x, y), (dx, dy) = _bezier(*spine, t0 + (t1 - t0) * u)
        length = math.hypot(dx, dy) or 1.0
        half = width / 2 * profile(u)
        nx, ny = -dy / length * half, dx / length * half
        left.append((x + nx, y + ny))
        right.append((x - nx, y - ny))
    return left + right[::-1]


def _arc_points(cx: float, cy: float, rx: float, ry: float, start: float, end: float, n=24):
    return [
        (cx + rx * math.cos(math.radians(a)), cy + ry * math.sin(math.radians(a)))
        for a in (start + (end - start) * i / n for i in range(n + 1))
    ]


class _Pen:
    """Draws in avatar coordinates onto the oversampled canvas, with alpha blending."""

    def __init__(self, image: Image.Image):
        self.draw = ImageDraw.Draw(image, "RGBA")

    @staticmethod
    def _scaled(points: Iterable[Point]) -> list[Point]:
        return [(x * SCALE, y * SCALE) for x, y in points]

    def polygon(
        self,
        points: Sequence[Point],
        fill: Colour,
        outline: Colour | None = None,
        width: float = OUTLINE,
    ) -> None:
        self.draw.polygon(self._scaled(points), fill=fill)
        if outline is not None:
            self.outline(points, outline, width)

    def outline(self, points: Sequence[Point], colour: Colour, width: float = OUTLINE) -> None:
        # Overlap the first segment so the closing joint is rounded like the others.
        self.stroke([*points, points[0], points[1]], colour, width)

    def ellipse(
        self,
        cx: float,
        cy: float,
        rx: float,
        ry: float,
        fill: Colour,
        outline: Colour | None = None,
        width: float = OUTLINE,
        tilt: float = 0,
    ) -> None:
        self.polygon(_oval_points(cx, cy, rx, ry, tilt), fill, outline, width)

    def stroke(self, points: Sequence[Point], colour: Colour, width: float = OUTLINE) -> None:
        """A polyline with round joints and round caps."""
        w = round(width * SCALE)
        self.draw.line(self._scaled(points), fill=colour, width=w, joint="curve")
        for x, y in (points[0], points[-1]):
            self.dot(x, y, width / 2, colour)

    def dot(self, cx: float, cy: float, r: float, colour: Colour) -> None:
        s = SCALE
        self.draw.ellipse((s * (cx - r), s * (cy - r), s * (cx + r), s * (cy + r)), fill=colour)


def _mirror(points: Iterable[Point]) -> list[Point]:
    return [(SIZE - x, y) for x, y in points]


# --- Bunny parts ----------------------------------------------------------------------


def _draw_body(pen: _Pen, fur: Fur) -> None:
    pen.ellipse(BODY.cx, BODY.cy, BODY.rx, BODY.ry, fur.fur, fur.outline)
    pen.ellipse(BODY.cx, BODY.cy + 6, 36, 42, fur.light)


def _draw_head(pen: _Pen, fur: Fur) -> None:
    pen.ellipse(HEAD.cx, HEAD.cy, HEAD.rx, HEAD.ry, fur.fur, fur.outline)


def _rounded(u: float) -> float:
    # Widest a little below the middle, round at the tip: a classic bunny ear.
    return math.sqrt(max(0.0, 1 - ((u - 0.42) / 0.58) ** 2))


def _pointed(u: float) -> float:
    return _rounded(u) if u < 0.42 else (1 - u) / 0.58


def _pod(u: float) -> float:
    # Round at both ends: lop ears show their attached end on top of the head.
    return math.sqrt(max(0.0, 1 - (2 * u - 1) ** 2)) ** 0.8


@dataclass(frozen=True)
class _Ear:
    # Base (hidden in the head), bend and tip, as a left ear; right ears are mirrored.
    spine: tuple[Point, Point, Point]
    width: float
    profile: Callable[[float], float] = _rounded
    # How much of the inside shows: a share of the width, along a stretch of the spine.
    inner_width: float = 0.5
    inner_span: tuple[float, float] = (0.16, 0.9)


_UPRIGHT = _Ear(((104, 104), (96, 52), (92, 12)), 38)
_EARS = {
    "upright": (_UPRIGHT, _UPRIGHT),
    "short": (_Ear(((102, 104), (96, 72), (88, 44)), 40),) * 2,
    "pointy": (_Ear(((106, 104), (94, 56), (80, 14)), 36, _pointed),) * 2,
    # The right ear rises and folds over sideways, so we see its back, not its inside.
    "floppy": (_UPRIGHT, _Ear(((106, 104), (80, 14), (42, 72)), 38, inner_width=0)),
    # Lop ears hang with their outside to us; only a sliver of the inside peeks out.
    "lop": (_Ear(((108, 84), (56, 64), (56, 196)), 34, _pod, 0.3, (0.28, 0.86)),) * 2,
}


def _draw_ears(pen: _Pen, fur: Fur, inner_colour: str, shape: str, *, in_front: bool) -> None:
    # Lop ears hang over the sides of the head; all other ears rise from behind it.
    if (shape == "lop") != in_front:
        return
    left, right = _EARS[shape]
    for ear, spine in ((left, left.spine), (right, tuple(_mirror(right.spine)))):
        outer = _along_spine(spine, ear.width, ear.profile)
        pen.polygon(outer, fur.fur, fur.outline)
        if ear.inner_width:
            inside = _along_spine(spine, ear.width * ear.inner_width, ear.profile, *ear.inner_span)
            pen.polygon(inside, inner_colour)


def _draw_markings(image: Image.Image, fur: Fur, markings: str) -> None:
    """Patches, spots or a blaze, clipped to the inside of the head outline."""
    if markings == "plain":
        return
    big = SIZE * SCALE
    shapes = Image.new("L", (big, big), 0)
    draw = ImageDraw.Draw(shapes)

    def blob(cx, cy, rx, ry, tilt=0):
        draw.polygon(_Pen._scaled(_oval_points(cx, cy, rx, ry, tilt)), fill=255)

    if markings == "patch":
        blob(162, 128, 31, 27, -20)
    elif markings == "spots":
        # On the crown and temples, clear of the eyes and the blushing cheeks.
        blob(94, 104, 13, 11)
        blob(148, 93, 9, 8)
        blob(182, 118, 8, 7)
        blob(66, 136, 6, 6)
    elif markings == "blaze":
        blob(128, 104, 11, 32)  # a stripe down the forehead...
        blob(128, 172, 30, 22)  # ...widening into the muzzle

    head = Image.new("L", (big, big), 0)
    inset = OUTLINE / 2
    ImageDraw.Draw(head).polygon(
        _Pen._scaled(_oval_points(HEAD.cx, HEAD.cy, HEAD.rx - inset, HEAD.ry - inset)), fill=255
    )
    colour = fur.blaze if markings == "blaze" else fur.marking
    image.paste(colour, mask=ImageChops.multiply(shapes, head))


def _draw_cheeks(pen: _Pen) -> None:
    for x in (82, SIZE - 82):
        pen.ellipse(x, 166, 13, 8, BLUSH)


def _draw_eyes(pen: _Pen, fur: Fur, style: str, markings: str) -> None:
    # The right eye sits on the patch, if there is one: that is the skin it must show on.
    skins = (fur.fur, fur.marking if markings == "patch" else fur.fur)
    styles = ("open", "happy") if style == "wink" else (style, style)
    for x, skin, eye_style in zip(EYE_X, skins, styles, strict=True):
        _EYE_STYLES[eye_style](pen, x, EYE_Y, skin)


def _open_eye(pen: _Pen, x: float, y: float, skin: str) -> None:
    r = 10
    _rim_if_dark(pen, x, y, r, skin)
    pen.ellipse(x, y, r, r * 1.12, EYE)
    pen.dot(x + r * 0.32, y - r * 0.4, r * 0.38, WHITE)
    pen.dot(x - r * 0.35, y + r * 0.4, r * 0.16, WHITE)


def _sparkly_eye(pen: _Pen, x: float, y: float, skin: str) -> None:
    r = 13
    _rim_if_dark(pen, x, y, r, skin)
    pen.ellipse(x, y, r, r * 1.1, EYE)
    pen.ellipse(x, y + r * 0.45, r * 0.7, r * 0.4, (120, 90, 160, 140))  # glossy lower iris
    _sparkle(pen, x + r * 0.3, y - r * 0.35, r * 0.55, WHITE)
    pen.dot(x - r * 0.4, y + r * 0.35, r * 0.2, WHITE)


def _rim_if_dark(pen: _Pen, x: float, y: float, r: float, skin: str) -> None:
    # Dark eyes vanish into dark fur; a pale rim keeps them readable.
    if _luminance(skin) < 0.15:
        pen.dot(x, y, r + 2.5, (255, 255, 255, 120))


def _sparkle(pen: _Pen, x: float, y: float, r: float, colour: Colour) -> None:
    """A four-pointed star."""
    points = []
    for i in range(8):
        a = math.radians(-90 + 45 * i)
        reach = r if i % 2 == 0 else r * 0.32
        points.append((x + reach * math.cos(a), y + reach * math.sin(a)))
    pen.polygon(points, colour)


def _happy_eye(pen: _Pen, x: float, y: float, skin: str) -> None:
    # A closed eye arching up: ^
    pen.stroke(_arc_points(x, y + 4, 10, 9, 200, 340), _ink(skin), 3.6)


def _sleepy_eye(pen: _Pen, x: float, y: float, skin: str) -> None:
    # A relaxed closed eye curving down, with a lash at the outer corner.
    ink = _ink(skin)
    pen.stroke(_arc_points(x, y - 2, 10, 8, 20, 160), ink, 3.4)
    outer = -1 if x < HEAD.cx else 1
    corner = (x + outer * 9.4, y - 2 + 8 * math.sin(math.radians(20)))
    pen.stroke([corner, (corner[0] + outer * 5, corner[1] - 4)], ink, 2.4)


_EYE_STYLES = {
    "open": _open_eye,
    "sparkly": _sparkly_eye,
    "happy": _happy_eye,
    "sleepy": _sleepy_eye,
}


def _ink(skin: str) -> str:
    # Lines drawn on the fur (closed eyes, the mouth): dark, unless the fur is nearly black.
    return EYE_ON_DARK if _luminance(skin) < 0.08 else EYE


def _draw_muzzle(pen: _Pen, fur: Fur, mouth: str, markings: str) -> None:
    line = _ink(fur.blaze if markings == "blaze" else fur.fur)
    # Whiskers first, so the nose and mouth sit on top of them.
    for dy, reach, droop in ((-4, 42, -6), (2, 46, 0), (8, 42, 7)):
        start = (108, NOSE_Y + 8 + dy)
        whisker = [start, (start[0] - reach, start[1] + droop)]
        pen.stroke(whisker, fur.whisker, 1.4)
        pen.stroke(_mirror(whisker), fur.whisker, 1.4)

    mouth_top = NOSE_Y + 7
    if mouth == "open":
        # A small open smile with a tongue.
        shape = [(119, mouth_top + 3), (137, mouth_top + 3)]
        shape += _arc_points(128, mouth_top + 3, 9, 10, 0, 180)[1:-1]
        pen.polygon(shape, "#7a2e3a", line, 2.2)
        pen.ellipse(128, mouth_top + 9.5, 5, 3.2, "#f5879c")
    else:
        # The classic bunny "w" mouth hanging from the nose.
        if mouth == "teeth":
            top, bottom = mouth_top + 4, mouth_top + 15
            pen.polygon([(121, top), (135, top), (135, bottom), (121, bottom)], WHITE, line, 1.8)
            pen.stroke([(128, top + 1), (128, bottom - 1)], line, 1.4)
        pen.stroke([(128, mouth_top - 2), (128, mouth_top + 3)], line, 2.4)
        pen.stroke(_arc_points(121.5, mouth_top + 2, 6.5, 5, 0, 160), line, 2.4)
        pen.stroke(_arc_points(134.5, mouth_top + 2, 6.5, 5, 180, 20), line, 2.4)

    # A soft rounded triangle for the nose.
    nose = [(120, NOSE_Y - 3), (136, NOSE_Y - 3), (128, NOSE_Y + 6)]
    pen.polygon(nose, NOSE, NOSE, 4.5)
    pen.dot(125, NOSE_Y - 2.5, 1.8, (255, 255, 255, 170))


# --- Accessories ----------------------------------------------------------------------


def _draw_bow(pen: _Pen, fur: Fur, accent: str) -> None:
    # Tied at the base of the left ear.
    cx, cy, tilt = 80, 92, -28
    fold = (0, 0, 0, 64)
    for side in (-1, 1):
        loop = [(0, 0), (side * 22, -12), (side * 25, 0), (side * 22, 12)]
        pen.polygon([_rotate(cx, cy, x, y, tilt) for x, y in loop], accent, _darker(accent), 2.6)
        crease = [(side * 8, -3), (side * 16, -5)]
        pen.stroke([_rotate(cx, cy, x, y, tilt) for x, y in crease], fold, 1.6)
    pen.ellipse(cx, cy, 6, 7, accent, _darker(accent), 2.6, tilt)


def _draw_flower_crown(pen: _Pen, fur: Fur, accent: str) -> None:
    # Flowers along the top of the head, in front of the ears.
    angles = (-158, -132, -106, -74, -48, -22)
    for a in (-145, -119, -90, -61, -35):
        x, y = HEAD.at(a, 0.97)
        pen.ellipse(x, y, 9, 4.5, LEAF, LEAF_DARK, 1.6, tilt=a + 90)
    for i, a in enumerate(angles):
        x, y = HEAD.at(a, 0.96)
        petal = accent if i % 2 == 0 else "#fff6fb"
        for k in range(5):
            px, py = _rotate(x, y, 0, -6.5, k * 72 + a)
            pen.ellipse(px, py, 5.5, 5.5, petal, _darker(petal), 1.6)
        pen.dot(x, y, 4, "#ffd23f")


def _draw_glasses(pen: _Pen, fur: Fur, accent: str) -> None:
    frame = "#2e2430" if fur.name != "black" else "#f2e6c9"
    for x in EYE_X:
        pen.ellipse(x, EYE_Y, 18, 17, (255, 255, 255, 55), frame, 3.2)
    pen.stroke(_arc_points(128, EYE_Y + 2, 12, 6, 200, 340), frame, 3.2)
    pen.stroke([(EYE_X[0] - 18, EYE_Y - 3), (HEAD.cx - HEAD.rx + 3, EYE_Y - 8)], frame, 3.2)
    pen.stroke([(EYE_X[1] + 18, EYE_Y - 3), (HEAD.cx + HEAD.rx - 3, EYE_Y - 8)], frame, 3.2)


def _draw_scarf(pen: _Pen, accent: str) -> None:
    edge = _darker(accent)
    # The tail hangs down the chest, then the band wraps the neck under the chin.
    tail = [(140, 200), (162, 200), (170, 252), (148, 254)]
    pen.polygon(tail, accent, edge)
    for y in (216, 232):
        pen.stroke([(143 + (y - 200) * 0.15, y), (164 + (y - 200) * 0.15, y)], WHITE, 4)
    band = _oval_points(128, 204, 66, 15)
    pen.polygon(band, accent, edge)
    for x in (84, 112, 140, 168):
        pen.stroke([(x, 192), (x + 6, 216)], WHITE, 4)
    pen.outline(band, edge)  # again, over the stripes


def _draw_carrot(pen: _Pen, fur: Fur, accent: str) -> None:
    # Held in both paws in front of the chest, leaves sticking up beside the chin.
    spine = ((168, 204), (142, 232), (110, 258))
    for tilt in (-20, 10, 40):
        x, y = _rotate(172, 200, 0, -14, tilt)
        pen.ellipse(x, y, 5, 14, LEAF, LEAF_DARK, 2.2, tilt)
    pen.polygon(_along_spine(spine, 30, lambda u: (1 - u) ** 0.9 + 0.04), CARROT, CARROT_DARK)
    for t in (0.3, 0.5, 0.7):
        (x, y), _ = _bezier(*spine, t)
        pen.stroke([(x - 2, y - 4), (x + 4, y + 2)], CARROT_DARK, 1.8)
    for x, y in ((126, 243), (156, 219)):
        pen.ellipse(x, y, 11, 9, fur.fur, fur.outline)


def _draw_party_hat(pen: _Pen, fur: Fur, accent: str) -> None:
    # A cone sitting on the crown of the head, between the ears.
    base_left, base_right, tip = (106, 86), (152, 86), (134, 28)
    pen.polygon([base_left, tip, base_right], accent, _darker(accent))
    for x, y, r in ((122, 72, 3.6), (138, 62, 3.2), (130, 48, 2.8), (141, 78, 3.2)):
        pen.dot(x, y, r, "#fff3b0")
    pen.ellipse(129, 86, 25, 5.5, "#fff3b0", _darker(accent), 2.4)
    pen.ellipse(tip[0], tip[1], 7.5, 7.5, "#fff3b0", _darker(accent), 2.4)


# Drawn last, over the face; the scarf is drawn behind the head instead.
_ACCESSORIES_IN_FRONT = {
    "bow": _draw_bow,
    "flower crown": _draw_flower_crown,
    "glasses": _draw_glasses,
    "carrot": _draw_carrot,
    "party hat": _draw_party_hat,
}


def _rotate(cx: float, cy: float, x: float, y: float, degrees: float) -> Point:
    a = math.radians(degrees)
    return (cx + x * math.cos(a) - y * math.sin(a), cy + x * math.sin(a) + y * math.cos(a))


def _darker(hex_colour: str, factor: float = 0.68) -> str:
    r, g, b = (int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
    return "#{:02x}{:02x}{:02x}".format(*(round(c * factor) for c in (r, g, b)))


def _luminance(hex_colour: str) -> float:
    """Relative luminance, 0 for black to 1 for white (WCAG's formula)."""

    def linear(c: int) -> float:
        c /= 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (linear(int(hex_colour[i : i + 2], 16)) for i in (1, 3, 5))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b
