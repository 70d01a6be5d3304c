from django.urls import path

from auctions import views

app_name = "auctions"

urlpatterns = [
    path("", views.lot_list, name="lot_list"),
    path("lots/<int:lot_id>/", views.lot_detail, name="lot_detail"),
    path("me/", views.my_bids, name="my_bids"),
    path("sell/", views.seller_dashboard, name="seller_dashboard"),
]
