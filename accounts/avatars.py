"""Random bunny avatars drawn with Pillow (interim version; the full drawing is in progress)."""

import io
import random
import secrets

from PIL import Image, ImageDraw

SIZE = 256
FURS = [(245, 245, 245), (170, 170, 175), (150, 105, 70), (60, 55, 55), (240, 225, 190)]
BACKGROUNDS = [(255, 214, 224), (205, 232, 255), (215, 245, 215), (255, 240, 200), (230, 220, 255)]


def new_avatar_seed() -> int:
    return secrets.randbits(31)


def draw_bunny_avatar(seed: int) -> bytes:
    rng = random.Random(seed)
    fur, background = rng.choice(FURS), rng.choice(BACKGROUNDS)
    image = Image.new("RGB", (SIZE, SIZE), background)
    draw = ImageDraw.Draw(image)
    tilt = rng.randint(-12, 12)
    draw.ellipse((78 + tilt, 20, 118 + tilt, 130), fill=fur, outline=(60, 40, 50), width=3)
    draw.ellipse((138 - tilt, 20, 178 - tilt, 130), fill=fur, outline=(60, 40, 50), width=3)
    draw.ellipse((58, 90, 198, 220), fill=fur, outline=(60, 40, 50), width=3)
    draw.ellipse((95, 140, 107, 152), fill=(40, 30, 35))
    draw.ellipse((149, 140, 161, 152), fill=(40, 30, 35))
    draw.polygon([(120, 168), (136, 168), (128, 178)], fill=(226, 109, 150))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()
