from oscar.apps.shipping import apps


class ShippingConfig(apps.ShippingConfig):
    name = "oscar_test_shop.shipping"
