"""The demo's catalogue (`make demo`, `manage.py seed_demo`): a dozen varied lots a visitor can try every part of the
site on: ends staggered from minutes to days, one scheduled, reserves, buy now, bids already placed through the one
bid path, and a picture for each (drawn here: a two-colour gradient with the lot's initials, its own colours), stored
the way a seller's upload is (auctions/photos.py: checked, re-encoded, a display copy and a thumbnail). Idempotent:
an open or scheduled demo lot with the same title is reused, a lot that has a photo gets no other, and the demo bids
carry fixed bid ids, so a second run answers them as the retries they are."""

from __future__ import annotations

import colorsys
import io
from dataclasses import dataclass, field
from datetime import timedelta

from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone
from PIL import Image, ImageDraw, ImageFont

from auctions import photos
from auctions.models import Lot
from auctions.services import create_lot
from bidding.services import place_bid


@dataclass(frozen=True)
class DemoLot:
    title: str
    description: str
    starting_price: int  # cents
    ends_in: timedelta
    starts_in: timedelta = timedelta(0)
    reserve_price: int | None = None
    buy_now_price: int | None = None
    bids: tuple[tuple[str, int], ...] = field(default=())  # (bidder username, cents), in order


M, H, D = timedelta(minutes=1), timedelta(hours=1), timedelta(days=1)
CATALOGUE = (
    DemoLot("Bauhaus poster, 1923 reprint", "Offset lithograph after Joost Schmidt, 60 x 90 cm, folded once.",
            2_000, 3 * M, bids=(("alice", 2_000), ("bob", 2_500), ("alice", 3_000))),
    DemoLot("Vintage Leica M3 camera", "Double-stroke body, 1955, with a Summicron 50 mm f/2. Shutter tested.",
            15_000, 8 * M, bids=(("bob", 15_000), ("carol", 17_500))),
    DemoLot("Omega Seamaster, 1968", "Automatic, calibre 565, steel case 35 mm, serviced last year.",
            30_000, 20 * M, reserve_price=45_000, bids=(("carol", 30_000),)),
    DemoLot("Bicycle, 1970s racing frame", "Reynolds 531 tubing, Campagnolo Nuovo Record groupset, 56 cm.",
            8_000, 35 * M),
    DemoLot("Hand-thrown stoneware set", "Six plates and six bowls, tenmoku glaze, made in a Devon workshop.",
            4_000, 50 * M, bids=(("alice", 4_000),)),
    DemoLot("Victorian pocket watch", "Silver hunter case, Chester 1887, key wound, running.",
            8_000, 90 * M, reserve_price=10_000, bids=(("bob", 8_000), ("carol", 12_000))),
    DemoLot("Mid-century teak sideboard", "Danish, 1960s, four doors and three drawers, 200 cm wide.",
            40_000, 3 * H, buy_now_price=90_000),
    DemoLot("Art deco brass table lamp", "Original glass shade, rewired, 48 cm high.",
            6_000, 2 * H + 10 * M, starts_in=10 * M),
    DemoLot("Set of six crystal tumblers", "Hand-cut lead crystal, 1930s, no chips.",
            3_000, 6 * H, buy_now_price=7_500),
    DemoLot("Signed first edition, 1954", "First printing in the original dust jacket, signed on the title page.",
            25_000, 1 * D, reserve_price=40_000),
    DemoLot("Persian wool rug, 2 x 3 m", "Hand-knotted, vegetable dyes, some wear at one edge.",
            20_000, 2 * D, bids=(("carol", 20_000), ("alice", 22_000))),
    DemoLot("Oil painting, harbour at dusk", "Oil on board, signed lower right, 40 x 50 cm, framed.",
            50_000, 3 * D, reserve_price=80_000),
)  # fmt: skip


def seed_catalogue(seller, bidders: dict[str, object]) -> list[Lot]:
    """Create (or find) every demo lot for `seller`, with its picture, and place its demo bids as
    `bidders[username]`."""
    now = timezone.now()
    lots = []
    for index, demo in enumerate(CATALOGUE):
        lot = Lot.objects.of_seller(seller.pk).active().filter(title=demo.title, ends_at__gt=now).first()
        if lot is None:
            lot = create_lot(
                seller=seller,
                title=demo.title,
                description=demo.description,
                starting_price=demo.starting_price,
                starts_at=now + demo.starts_in if demo.starts_in else None,
                ends_at=now + demo.ends_in,
                reserve_price=demo.reserve_price,
                buy_now_price=demo.buy_now_price,
                photos=demo_photos(demo, index),
            )
        elif not lot.photos.exists():  # a lot seeded before the demo had pictures: bids or not, it gets one
            with transaction.atomic():
                Lot.objects.select_for_update().filter(pk=lot.pk).first()
                if not lot.photos.exists():
                    photos.attach(lot, demo_photos(demo, index))
        for n, (username, amount) in enumerate(demo.bids):
            place_bid(user=bidders[username], lot_id=lot.pk, amount=amount, bid_id=f"demo-{lot.pk}-{n}")
        lots.append(lot)
    return lots


PICTURE_SIZE = (1200, 900)
_SMALL_WORDS = {"a", "and", "at", "of", "the", "x"}


def demo_photos(demo: DemoLot, index: int) -> list[photos.PreparedPhoto]:
    """The lot's picture, checked and re-encoded as an upload is."""
    return photos.prepare([ContentFile(picture(demo.title, index), name=f"demo-{index + 1}.png")])


def picture(title: str, index: int) -> bytes:
    """A PNG for a demo lot: a soft diagonal gradient between two colours of the lot's own hue (twelve lots, twelve
    hues), a pale disc, and the title's initials in the middle."""
    hue = (index * 5 % len(CATALOGUE)) / len(CATALOGUE)  # neighbours in the grid get far-apart hues

    def colour(lightness: float, saturation: float, shift: float = 0.0) -> tuple[int, int, int]:
        r, g, b = colorsys.hls_to_rgb((hue + shift) % 1.0, lightness, saturation)
        return round(r * 255), round(g * 255), round(b * 255)

    width, height = PICTURE_SIZE
    # A diagonal gradient: a small 2x2 image stretched smoothly (bilinear) to full size.
    corners = Image.new("RGB", (2, 2))
    start, end = colour(0.78, 0.55), colour(0.45, 0.5, shift=0.08)
    middle = tuple((a + b) // 2 for a, b in zip(start, end, strict=True))
    corners.putdata([start, middle, middle, end])
    image = corners.resize(PICTURE_SIZE, Image.Resampling.BILINEAR)
    draw = ImageDraw.Draw(image)
    radius = height * 0.3
    centre = (width / 2, height / 2)
    draw.ellipse(
        (centre[0] - radius, centre[1] - radius, centre[0] + radius, centre[1] + radius), fill=colour(0.9, 0.35)
    )
    words = [word for word in title.replace(",", " ").split() if word.lower() not in _SMALL_WORDS and word[0].isalpha()]
    initials = "".join(word[0] for word in words)[:2].upper()
    draw.text(centre, initials, fill=colour(0.3, 0.45), font=_font(int(height * 0.25)), anchor="mm")
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=size)
    except (ImportError, OSError, TypeError):  # Pillow without FreeType: the small bitmap font
        return ImageFont.load_default()
