from django.urls import path

from bidding.consumers import LotConsumer, MeConsumer, SellerConsumer

websocket_urlpatterns = [
    path("ws/auctions/<int:lot_id>/", LotConsumer.as_asgi()),
    path("ws/me/", MeConsumer.as_asgi()),
    path("ws/seller/", SellerConsumer.as_asgi()),
]
