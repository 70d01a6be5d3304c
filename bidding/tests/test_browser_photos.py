"""Photos through the real pages in Chromium: a seller lists a lot with two photos on the sell page; the lot page
shows them as a gallery (main photo and thumbnails, by mouse or keyboard) and the catalogue card its first photo's
thumbnail; a file that is not a photo is refused with a sentence, and nothing is listed."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from auctions.models import Lot, LotPhoto

playwright_sync = pytest.importorskip("playwright.sync_api")  # installed by requirements.txt
expect = playwright_sync.expect

pytestmark = pytest.mark.django_db(transaction=True)


def fill_lot_form(page, title: str) -> None:
    page.get_by_label("Title").fill(title)
    page.get_by_label("Starting price").fill("15.00")
    page.get_by_label("Ends").fill((timezone.localtime() + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M"))


def loaded(image) -> bool:
    return image.evaluate("img => img.complete && img.naturalWidth > 0")


def test_two_photos_listed_on_the_sell_page_make_a_gallery_and_a_list_thumbnail(page_for, live, seller, make_photo):
    dashboard = page_for(seller, "/sell/")
    live(dashboard)
    fill_lot_form(dashboard, "Walnut chair")
    dashboard.get_by_label("Photos").set_input_files(
        [
            {"name": "front.png", "mimeType": "image/png", "buffer": make_photo(color=(200, 40, 40))},
            {"name": "back.jpg", "mimeType": "image/jpeg", "buffer": make_photo(size=(600, 800), image_format="JPEG")},
        ]
    )
    dashboard.get_by_role("button", name="List lot").click()
    expect(dashboard.locator("#form-feedback")).to_have_text("Listed “Walnut chair”.", timeout=10_000)
    lot = Lot.objects.get(title="Walnut chair")
    assert LotPhoto.objects.filter(lot=lot).count() == 2

    dashboard.get_by_role("link", name="Walnut chair").click()
    gallery = dashboard.get_by_role("group", name="Photos")
    main = gallery.get_by_role("img", name="Walnut chair, photo 1 of 2")
    expect(main).to_be_visible()
    assert loaded(main)
    second = gallery.get_by_role("button", name="Photo 2 of 2")
    second.click()
    expect(gallery.get_by_role("img", name="Walnut chair, photo 2 of 2")).to_be_visible()
    expect(second).to_have_attribute("aria-pressed", "true")
    # The keyboard: arrows move between thumbnails and show each.
    second.press("ArrowLeft")
    first = gallery.get_by_role("button", name="Photo 1 of 2")
    expect(first).to_be_focused()
    expect(first).to_have_attribute("aria-pressed", "true")
    expect(gallery.get_by_role("img", name="Walnut chair, photo 1 of 2")).to_be_visible()
    assert loaded(main) and main.evaluate("img => img.naturalHeight") == 600

    dashboard.goto(dashboard.url.split("/lots/")[0] + "/")
    card = dashboard.locator("#lots li.lot-card", has_text="Walnut chair")
    thumbnail = card.locator(".cover img")
    expect(thumbnail).to_be_visible()
    assert loaded(thumbnail) and thumbnail.evaluate("img => img.naturalWidth") == 320


def test_a_file_that_is_not_a_photo_is_refused_and_nothing_is_listed(page_for, live, seller, make_photo):
    dashboard = page_for(seller, "/sell/")
    live(dashboard)
    fill_lot_form(dashboard, "Pewter jug")
    dashboard.get_by_label("Photos").set_input_files(
        [
            {"name": "jug.png", "mimeType": "image/png", "buffer": make_photo()},
            {"name": "invoice.png", "mimeType": "image/png", "buffer": b"%PDF-1.4 this is no picture"},
        ]
    )
    dashboard.get_by_role("button", name="List lot").click()
    expect(dashboard.locator("#form-feedback")).to_have_text(
        "invoice.png is not a photo we can read: upload a JPEG, PNG or WebP image.", timeout=10_000
    )
    assert not Lot.objects.filter(title="Pewter jug").exists() and not LotPhoto.objects.exists()
