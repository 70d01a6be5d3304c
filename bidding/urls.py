"""The bidder's pages, served by config/urls.py with the catalogue's under the `auctions:` namespace."""

from django.urls import path

from bidding import views

urlpatterns = [
    path("me/", views.my_bids, name="my_bids"),
    path("sales/<int:sale_id>/clerk/", views.clerk_console, name="clerk_console"),
    path("sales/<int:sale_id>/clerk/lots/<int:lot_id>/bids/", views.clerk_bids, name="clerk_bids"),
    path("sales/<int:sale_id>/live/", views.sale_live, name="sale_live"),
    path("sales/<int:sale_id>/live/mine/", views.sale_live_mine, name="sale_live_mine"),
    path("sales/<int:sale_id>/auctioneer/", views.auctioneer_view, name="auctioneer_view"),
    path("sales/<int:sale_id>/room/", views.room_display, name="room_display"),
    path("sales/<int:sale_id>/report/", views.sale_report_page, name="sale_report"),
    path("sales/<int:sale_id>/report.csv", views.sale_report_csv, name="sale_report_csv"),
]
