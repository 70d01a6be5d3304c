"""Lot photos: check a seller's upload, re-encode it, and store it through Django's storage API.

Check, then do: `prepare` reads every upload and refuses the first that is not a photo (a `photos` refusal naming
which one and why) before anything is written; `attach` then stores the prepared copies (`default_storage`: files
under MEDIA_ROOT, or whatever STORAGES["default"] names) and their `LotPhoto` rows, in the caller's transaction.

An upload is trusted for nothing: its format is read from its content, only PHOTO_FORMATS are decoded, its pixel
count is checked from the header before the bitmap is (a decompression bomb is a few KB that decode to gigabytes),
and what is stored is a fresh JPEG drawn from the pixels alone: no metadata, no trailing bytes, no script.
"""

from __future__ import annotations

import io
import uuid
import warnings
from dataclasses import dataclass

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from PIL import Image, ImageOps, UnidentifiedImageError

from auctions.exceptions import InvalidPhoto
from auctions.models import Lot, LotPhoto


@dataclass(frozen=True)
class PreparedPhoto:
    display: bytes
    thumbnail: bytes
    width: int
    height: int


def prepare(uploads: list, *, already: int = 0) -> list[PreparedPhoto]:
    """Each upload checked and re-encoded, in order; refused whole (`InvalidPhoto`) if any one is not a photo or
    there would be more than PHOTOS_PER_LOT_MAX on the lot (`already` counts the lot's stored photos)."""
    if already + len(uploads) > settings.PHOTOS_PER_LOT_MAX:
        raise InvalidPhoto(f"A lot has at most {settings.PHOTOS_PER_LOT_MAX} photos.", field="photos")
    return [_prepare_one(upload) for upload in uploads]


def _prepare_one(upload) -> PreparedPhoto:
    name = getattr(upload, "name", None) or "A photo"
    limit_mb = settings.PHOTO_MAX_BYTES / (1024 * 1024)
    if upload.size > settings.PHOTO_MAX_BYTES:
        raise InvalidPhoto(f"{name} is larger than {limit_mb:g} MB.", field="photos")
    not_a_photo = InvalidPhoto(f"{name} is not a photo we can read: upload a JPEG, PNG or WebP image.", field="photos")
    too_large = InvalidPhoto(
        f"{name} has too many pixels (at most {settings.PHOTO_MAX_PIXELS // 1_000_000} megapixels).", field="photos"
    )
    try:
        upload.seek(0)
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(upload, formats=settings.PHOTO_FORMATS) as image:
                width, height = image.size
                if width < 1 or height < 1 or width * height > settings.PHOTO_MAX_PIXELS:
                    raise too_large
                image.load()
                picture = _rgb(ImageOps.exif_transpose(image))  # a phone's portrait shot stands up
                display = _jpeg(picture, settings.PHOTO_DISPLAY_PX, quality=85)
                thumbnail = _jpeg(picture, settings.PHOTO_THUMBNAIL_PX, quality=80)
    except InvalidPhoto:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise too_large from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError):
        raise not_a_photo from None
    return PreparedPhoto(display=display[0], thumbnail=thumbnail[0], width=display[1], height=display[2])


def _rgb(image: Image.Image) -> Image.Image:
    """The pixels as RGB, anything transparent flattened onto white (JPEG has no transparency)."""
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        flat = Image.new("RGB", rgba.size, (255, 255, 255))
        flat.paste(rgba, mask=rgba.getchannel("A"))
        return flat
    return image if image.mode == "RGB" else image.convert("RGB")


def _jpeg(image: Image.Image, longest: int, *, quality: int) -> tuple[bytes, int, int]:
    """The image at most `longest` pixels on its longer side (never enlarged), as a fresh JPEG."""
    copy = image.copy()
    copy.thumbnail((longest, longest), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    copy.save(out, format="JPEG", quality=quality, optimize=True)
    return out.getvalue(), copy.width, copy.height


def attach(lot: Lot, prepared: list[PreparedPhoto]) -> list[LotPhoto]:
    """Store the prepared photos after the lot's existing ones; in the caller's transaction (a file written for a
    transaction that then rolls back stays behind, unreferenced)."""
    last = lot.photos.order_by("-order").values_list("order", flat=True).first()
    start = 0 if last is None else last + 1
    stored = []
    for offset, photo in enumerate(prepared):
        stem = f"lots/{lot.pk}/{uuid.uuid4().hex}"
        row = LotPhoto(lot=lot, order=start + offset, width=photo.width, height=photo.height)
        row.image.name = default_storage.save(f"{stem}.jpg", ContentFile(photo.display))
        row.thumbnail.name = default_storage.save(f"{stem}-thumb.jpg", ContentFile(photo.thumbnail))
        row.save()
        stored.append(row)
    return stored


def urls(lot: Lot) -> list[dict[str, str]]:
    """The lot's photos as addresses, in order, for the HTTP answers: `display` and `thumbnail`."""
    return [{"display": photo.image.url, "thumbnail": photo.thumbnail.url} for photo in lot.photos.all()]
