"""A django-oscar 4.2 shop with django-oscar-api 3.3 and erpbridge's shop app, for the oscar
connector's tests: SQLite at ``OSCAR_TEST_SHOP_DB``, loopback only, cheap password hashing (every
Basic-auth call hashes the password). Oscar ships no order pipeline: this one is a usual one; its
shipping app is forked for a paid method (``standard``, 4.90)."""
import os
from pathlib import Path

from oscar.defaults import *  # noqa: F401,F403  (oscar's OSCAR_* settings)

BASE_DIR = Path(__file__).resolve().parent
SECRET_KEY = "erpbridge-test-shop-only"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
SITE_ID = 1
USE_TZ = True
TIME_ZONE = "UTC"
ROOT_URLCONF = "oscar_test_shop.urls"
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
MIGRATION_MODULES = {"shipping": "oscar.apps.shipping.migrations"}  # the fork keeps oscar's models
STATIC_URL = "/static/"
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": os.environ["OSCAR_TEST_SHOP_DB"],
                         "ATOMIC_REQUESTS": True, "OPTIONS": {"timeout": 30}}}

INSTALLED_APPS = [
    "django.contrib.admin", "django.contrib.auth", "django.contrib.contenttypes", "django.contrib.sessions",
    "django.contrib.messages", "django.contrib.staticfiles", "django.contrib.sites", "django.contrib.flatpages",
    "oscar.config.Shop",
    *(f"oscar.apps.{app}" for app in (
        "analytics.apps.AnalyticsConfig", "checkout.apps.CheckoutConfig", "address.apps.AddressConfig",
        "catalogue.apps.CatalogueConfig",
        "catalogue.reviews.apps.CatalogueReviewsConfig", "communication.apps.CommunicationConfig",
        "partner.apps.PartnerConfig", "basket.apps.BasketConfig", "payment.apps.PaymentConfig",
        "offer.apps.OfferConfig", "order.apps.OrderConfig", "customer.apps.CustomerConfig",
        "search.apps.SearchConfig", "voucher.apps.VoucherConfig", "wishlists.apps.WishlistsConfig",
        "dashboard.apps.DashboardConfig", "dashboard.reports.apps.ReportsDashboardConfig",
        "dashboard.users.apps.UsersDashboardConfig", "dashboard.orders.apps.OrdersDashboardConfig",
        "dashboard.catalogue.apps.CatalogueDashboardConfig", "dashboard.offers.apps.OffersDashboardConfig",
        "dashboard.partners.apps.PartnersDashboardConfig", "dashboard.pages.apps.PagesDashboardConfig",
        "dashboard.ranges.apps.RangesDashboardConfig", "dashboard.reviews.apps.ReviewsDashboardConfig",
        "dashboard.vouchers.apps.VouchersDashboardConfig",
        "dashboard.communications.apps.CommunicationsDashboardConfig",
        "dashboard.shipping.apps.ShippingDashboardConfig")),
    "oscar_test_shop.shipping.apps.ShippingConfig",  # a paid shipping method (shipping/repository.py)
    "widget_tweaks", "haystack", "treebeard", "django_tables2", "rest_framework", "oscarapi",
    "erpbridge_oscar",
]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "oscarapi.middleware.HeaderSessionMiddleware",  # a guest's basket by the Session-Id header
    "oscarapi.middleware.ApiBasketMiddleWare",
    "oscar.apps.basket.middleware.BasketMiddleware",
]
AUTHENTICATION_BACKENDS = ("oscar.apps.customer.auth_backends.EmailBackend",
                           "django.contrib.auth.backends.ModelBackend")
TEMPLATES = [{"BACKEND": "django.template.backends.django.DjangoTemplates", "APP_DIRS": True, "OPTIONS": {
    "context_processors": ["django.template.context_processors.request",
                           "django.contrib.auth.context_processors.auth",
                           "django.contrib.messages.context_processors.messages"]}}]
HAYSTACK_CONNECTIONS = {"default": {"ENGINE": "haystack.backends.simple_backend.SimpleEngine"}}
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

OSCAR_DEFAULT_CURRENCY = "EUR"
OSCAR_ALLOW_ANON_CHECKOUT = True
OSCAR_INITIAL_ORDER_STATUS = OSCARAPI_INITIAL_ORDER_STATUS = "new"
OSCAR_INITIAL_LINE_STATUS = OSCARAPI_INITIAL_LINE_STATUS = "new"
OSCAR_ORDER_STATUS_PIPELINE = {"new": ("processing", "cancelled"), "processing": ("shipped", "cancelled"),
                               "shipped": ("completed",), "completed": (), "cancelled": ()}
OSCAR_LINE_STATUS_PIPELINE = OSCAR_ORDER_STATUS_PIPELINE
OSCAR_ORDER_STATUS_CASCADE = {s: s for s in ("processing", "shipped", "completed", "cancelled")}

OSCARAPI_BLOCK_ADMIN_API_ACCESS = False  # /api/admin/: products, stock records, partners
REST_FRAMEWORK = {"DEFAULT_AUTHENTICATION_CLASSES": ("rest_framework.authentication.BasicAuthentication",
                                                     "rest_framework.authentication.SessionAuthentication")}
