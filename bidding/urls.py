"""The bidder's pages, served by config/urls.py with the catalogue's under the `auctions:` namespace."""

from django.urls import path

from bidding import views

urlpatterns = [
    path("me/", views.my_bids, name="my_bids"),
]
