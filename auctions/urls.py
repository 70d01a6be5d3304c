"""The catalogue's pages; config/urls.py serves them with the bidder's pages (bidding/urls.py) as `auctions:`."""

from django.urls import path

from auctions import views

urlpatterns = [
    path("", views.lot_list, name="lot_list"),
    path("results/", views.results, name="results"),
    path("lots/<int:lot_id>/", views.lot_detail, name="lot_detail"),
    path("sell/", views.seller_dashboard, name="seller_dashboard"),
]
