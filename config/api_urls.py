from django.urls import path
from drf_spectacular.views import SpectacularAPIView

from auctions.api import (
    CatalogueView,
    SellerLotsView,
    WatchlistView,
    WatchLotView,
)
from auctions.sales_api import AbsenteeBidView, SaleRegistrationView, SalesView
from bidding.api import BuyNowView, LotBidsView, MyBidsView
from bidding.lot_api import LotCancelView, LotDetailView, LotListView

urlpatterns = [
    path("lots/", LotListView.as_view(), name="api-lots"),
    path("lots/catalogue/", CatalogueView.as_view(), name="api-catalogue"),
    path("lots/<int:lot_id>/", LotDetailView.as_view(), name="api-lot"),
    path("lots/<int:lot_id>/cancel/", LotCancelView.as_view(), name="api-lot-cancel"),
    path("me/bids/", MyBidsView.as_view(), name="api-my-bids"),
    path("me/lots/", SellerLotsView.as_view(), name="api-seller-lots"),
    path("lots/<int:lot_id>/bids/", LotBidsView.as_view(), name="api-lot-bids"),
    path("lots/<int:lot_id>/buy-now/", BuyNowView.as_view(), name="api-lot-buy-now"),
    path("me/watchlist/", WatchlistView.as_view(), name="api-watchlist"),
    path("me/watchlist/<int:lot_id>/", WatchLotView.as_view(), name="api-watchlist-lot"),
    path("sales/", SalesView.as_view(), name="api-sales"),
    path("sales/<int:sale_id>/registration/", SaleRegistrationView.as_view(), name="api-sale-registration"),
    path("lots/<int:lot_id>/absentee-bid/", AbsenteeBidView.as_view(), name="api-lot-absentee-bid"),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
]
