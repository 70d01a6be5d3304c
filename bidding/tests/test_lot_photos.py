"""Sellers upload photos with a lot (multipart on the lot API): only real JPEG, PNG or WebP images within the size and
pixel limits are stored, re-encoded as a display copy and a thumbnail through Django's storage; a refused upload
stores nothing. The lot's HTTP answers list the photos' addresses; the photo-address field is gone."""

from __future__ import annotations

import io
import json
import os
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings
from django.utils import timezone
from PIL import Image
from rest_framework.test import APIClient

from auctions.models import Lot, LotPhoto

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def api(seller):
    client = APIClient()
    client.force_authenticate(seller)
    return client


def stored_files(root) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()) if root.exists() else []


def lot_json(**overrides) -> str:
    return json.dumps(
        {
            "title": "Brass telescope",
            "starting_price": 5_000,
            "ends_at": (timezone.now() + timedelta(hours=2)).isoformat(),
            **overrides,
        }
    )


def upload(name: str, content: bytes, content_type: str = "image/png") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type=content_type)


def list_with(api, *files, **lot):
    return api.post("/api/lots/", {"lot": lot_json(**lot), "photos": list(files)}, format="multipart")


def decoded(client, url: str) -> Image.Image:
    response = client.get(url)
    assert response.status_code == 200, url
    image = Image.open(io.BytesIO(b"".join(response.streaming_content)))
    image.load()
    return image


def test_a_lot_listed_with_photos_shows_them_re_encoded_in_order(api, client, make_photo, media_root):
    big = make_photo(size=(2400, 1200), image_format="PNG")
    small = make_photo(size=(300, 400), image_format="WEBP")
    response = list_with(api, upload("front.png", big), upload("back.webp", small, "image/webp"))
    assert response.status_code == 201, response.json()
    lot = response.json()["lot"]
    assert "photo_url" not in lot
    assert [list(p) for p in lot["photos"]] == [["display", "thumbnail"]] * 2

    first, second = (decoded(client, p["display"]) for p in lot["photos"])
    assert (first.format, first.size) == ("JPEG", (1600, 800)), "resized to the display size, as JPEG"
    assert (second.format, second.size) == ("JPEG", (300, 400)), "a small photo is not enlarged"
    thumbnail = decoded(client, lot["photos"][0]["thumbnail"])
    assert (thumbnail.format, thumbnail.size) == ("JPEG", (320, 160))
    assert len(stored_files(media_root)) == 4

    # The HTTP answer lists them again; the lot page shows a gallery, the list a cover thumbnail.
    again = client.get(f"/api/lots/{lot['id']}/").json()["lot"]["photos"]
    assert again == lot["photos"]
    page = client.get(f"/lots/{lot['id']}/").content.decode()
    assert 'alt="Brass telescope, photo 1 of 2"' in page and 'aria-label="Photo 2 of 2"' in page
    assert f'src="{lot["photos"][0]["thumbnail"]}"' in client.get("/").content.decode()
    assert Lot.objects.get(pk=lot["id"]).cover_photo.thumbnail.url == lot["photos"][0]["thumbnail"]


def test_editing_adds_photos_after_the_lots_own(api, make_photo):
    lot_id = list_with(api, upload("a.png", make_photo())).json()["lot"]["id"]
    response = api.patch(
        f"/api/lots/{lot_id}/",
        {"lot": json.dumps({"title": "Telescope"}), "photos": [upload("b.jpg", make_photo(image_format="JPEG"))]},
        format="multipart",
    )
    assert response.status_code == 200, response.json()
    assert len(response.json()["lot"]["photos"]) == 2 and response.json()["lot"]["title"] == "Telescope"
    assert list(LotPhoto.objects.filter(lot_id=lot_id).values_list("order", flat=True)) == [0, 1]


def bomb() -> bytes:
    """A PNG of a few KB that decodes to 48 megapixels."""
    out = io.BytesIO()
    Image.new("1", (8000, 6000)).save(out, format="PNG")
    return out.getvalue()


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("notes.png", b"%PDF-1.4 not an image at all", "notes.png is not a photo we can read"),
        ("anim.gif", None, "anim.gif is not a photo we can read: upload a JPEG, PNG or WebP image."),
        ("truncated.png", "truncated", "truncated.png is not a photo we can read"),
        ("bomb.png", bomb(), "bomb.png has too many pixels (at most 40 megapixels)."),
    ],
)
def test_an_upload_that_is_not_an_allowed_photo_is_refused_and_nothing_is_stored(
    api, make_photo, media_root, name, content, message
):
    if content is None:
        content = make_photo(image_format="GIF")
    elif content == "truncated":
        content = make_photo(image_format="PNG")[:2_000]
    elif name == "bomb.png":
        assert len(content) < 100_000
    response = list_with(api, upload("good.png", make_photo()), upload(name, content))
    assert response.status_code == 400
    assert response.json()["field"] == "photos" and response.json()["message"].startswith(message)
    assert not Lot.objects.exists() and not LotPhoto.objects.exists()
    assert stored_files(media_root) == []


@override_settings(PHOTO_MAX_BYTES=512 * 1024, PHOTOS_PER_LOT_MAX=2)
def test_an_oversized_photo_or_one_too_many_is_refused(api, make_photo, media_root):
    noise = io.BytesIO()  # random pixels do not compress
    Image.frombytes("RGB", (600, 600), os.urandom(600 * 600 * 3)).save(noise, format="PNG")
    assert len(noise.getvalue()) > 512 * 1024
    response = list_with(api, upload("large.png", noise.getvalue()))
    assert (response.status_code, response.json()["message"]) == (400, "large.png is larger than 0.5 MB.")

    small = make_photo(size=(100, 100))
    response = list_with(api, *(upload(f"{i}.png", small) for i in range(3)))
    assert (response.status_code, response.json()["message"]) == (400, "A lot has at most 2 photos.")
    lot_id = list_with(api, upload("1.png", small), upload("2.png", small)).json()["lot"]["id"]
    response = api.patch(f"/api/lots/{lot_id}/", {"lot": "{}", "photos": [upload("3.png", small)]}, format="multipart")
    assert (response.status_code, response.json()["message"]) == (400, "A lot has at most 2 photos.")
    assert LotPhoto.objects.filter(lot_id=lot_id).count() == 2 and len(stored_files(media_root)) == 4


def test_nobody_uploads_without_logging_in(make_photo, media_root):
    response = list_with(APIClient(), upload("a.png", make_photo()))
    assert response.status_code == 401
    assert stored_files(media_root) == []


def test_the_photo_address_field_is_gone(api):
    response = api.post("/api/lots/", {**json.loads(lot_json()), "photo_url": "https://t.example/p.gif"}, format="json")
    assert (response.status_code, response.json()["field"]) == (400, "photo_url")
    lot_id = api.post("/api/lots/", json.loads(lot_json()), format="json").json()["lot"]["id"]
    answer = api.get(f"/api/lots/{lot_id}/").json()["lot"]
    assert "photo_url" not in answer and answer["photos"] == []
    assert not hasattr(Lot.objects.get(pk=lot_id), "photo_url")


def test_a_catalogue_card_covers_with_its_first_photos_thumbnail_in_one_query_for_all_the_photos(
    api, client, make_photo
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with_photos = [list_with(api, upload("a.png", make_photo()), upload("b.png", make_photo())) for _ in range(2)]
    firsts = {r.json()["lot"]["id"]: r.json()["lot"]["photos"][0]["thumbnail"] for r in with_photos}
    bare = api.post("/api/lots/", json.loads(lot_json(title="Pewter jug")), format="json").json()["lot"]["id"]

    covers = {card["id"]: card["cover"] for card in client.get("/api/lots/").json()["lots"]}
    assert covers == {**firsts, bare: None}
    page = client.get("/").content.decode()
    assert all(f'src="{thumbnail}"' in page for thumbnail in firsts.values())
    assert page.count('class="placeholder"') == 1

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get("/api/lots/").status_code == 200
        return len(captured)

    before = queries()
    for _ in range(3):
        list_with(api, upload("c.png", make_photo(size=(80, 60))))
    assert queries() == before, "the photos of every card come in one query, never one a card"
