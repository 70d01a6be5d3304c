"""`make demo` looks like a real sale: a dozen varied lots with bids already placed, each with a picture stored as an
upload is, a favicon, and our own pages for an address that does not exist or a server error, never Django's debug
page."""

from __future__ import annotations

import urllib.error
import urllib.request
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from auctions.models import Lot, LotPhoto
from bidding.models import Bid
from bidding.replay import verify_lot

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def test_the_demo_has_a_dozen_varied_lots_and_seeding_again_changes_nothing(media_root):
    out = StringIO()
    call_command("seed_demo", stdout=out)
    assert "alice" in out.getvalue() and "12 lots" in out.getvalue()
    lots = list(Lot.objects.all())
    now = timezone.now()
    assert len(lots) == 12
    assert [lot.status for lot in lots].count(Lot.Status.SCHEDULED) == 1, "one lot opens later"
    assert sum(lot.reserve_price is not None for lot in lots) >= 3
    assert sum(lot.buy_now_price is not None for lot in lots) >= 2
    assert sum(lot.bid_count > 0 for lot in lots) >= 6, "bids already placed, through the bid path"
    ends = sorted(lot.ends_at - now for lot in lots)
    assert ends[0] < timedelta(minutes=5) and ends[-1] > timedelta(days=2), "ends staggered from minutes to days"
    assert all(verify_lot(lot) == [] for lot in lots)
    bids = Bid.objects.count()
    photos = list(LotPhoto.objects.order_by("lot_id"))
    assert sorted(photo.lot_id for photo in photos) == sorted(lot.pk for lot in lots), "every demo lot has a photo"
    for photo in photos:  # stored as an upload is: a display copy and a thumbnail, both JPEG
        assert (media_root / photo.image.name).is_file() and (media_root / photo.thumbnail.name).is_file()
        assert photo.image.name.endswith(".jpg") and photo.thumbnail.name.endswith("-thumb.jpg")
    assert len({(media_root / photo.image.name).read_bytes() for photo in photos}) == 12, "a picture of its own each"

    call_command("seed_demo", stdout=StringIO())
    assert Lot.objects.count() == 12 and Bid.objects.count() == bids
    assert list(LotPhoto.objects.order_by("lot_id")) == photos, "seeding again adds no photo"

    # A lot seeded before the demo had pictures gets one on the next run, bids or not.
    LotPhoto.objects.filter(lot=lots[0]).delete()
    call_command("seed_demo", stdout=StringIO())
    assert LotPhoto.objects.filter(lot=lots[0]).count() == 1 and LotPhoto.objects.count() == 12


def _get(url: str) -> tuple[int, str, str]:
    request = urllib.request.Request(url, headers={"Accept": "text/html"})
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        with opener.open(request, timeout=10) as response:
            return response.status, response.headers.get("Location", ""), response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("Location", ""), error.read().decode()


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def test_a_missing_page_is_ours_and_the_favicon_is_served(start_daphne):
    worker = start_daphne()  # production settings: DEBUG off
    for path in ("/no-such-page/", "/lots/999999/"):
        status, _, body = _get(worker.http + path)
        assert status == 404
        assert "We could not find that page" in body and "Browse the lots" in body
        assert "Traceback" not in body and "DEBUG = True" not in body
    status, location, _ = _get(worker.http + "/favicon.ico")
    assert status == 301 and location.endswith("favicon.svg")
    status, _, icon = _get(worker.http + location)
    assert status == 200 and icon.startswith("<svg")
    _, _, home = _get(worker.http + "/")
    assert 'rel="icon"' in home


def test_the_demo_serves_the_sites_own_error_pages():
    from conftest import ROOT

    recipe = (ROOT / "Makefile").read_text().split("\ndemo:", 1)[1].split("\n\n", 1)[0]
    assert "daphne" in recipe and "DEBUG=true" not in recipe, "make demo must not force Django's debug pages"
