"""The shop's shipping methods: ``standard``, a flat 4.90 (tax included, as the shop's prices are)."""
from decimal import Decimal

from oscar.apps.shipping import methods, repository


class Standard(methods.FixedPrice):
    code = "standard"
    name = "Standard delivery"
    charge_excl_tax = charge_incl_tax = Decimal("4.90")


class Repository(repository.Repository):
    methods = (Standard(),)
