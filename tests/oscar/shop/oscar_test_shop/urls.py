from django.apps import apps
from django.urls import include, path

urlpatterns = [
    path("api/erpbridge/", include("erpbridge_oscar.urls")),
    path("api/", include("oscarapi.urls")),
    path("", include(apps.get_app_config("oscar").urls[0])),
]
