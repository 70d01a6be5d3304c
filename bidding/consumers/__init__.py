"""The sockets: parse, authorize, call the service, send. Nothing here decides a bid."""

from bidding.consumers.lot import LotConsumer
from bidding.consumers.me import MeConsumer
from bidding.consumers.sale import SaleConsumer
from bidding.consumers.seller import SellerConsumer

__all__ = ["LotConsumer", "MeConsumer", "SaleConsumer", "SellerConsumer"]
