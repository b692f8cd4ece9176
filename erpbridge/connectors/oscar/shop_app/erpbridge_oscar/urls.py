from django.urls import path

from . import views

urlpatterns = [
    path("orders/", views.OrdersChanged.as_view()),
    path("orders/<str:number>/", views.OrderDetail.as_view()),
    path("orders/<str:number>/status/", views.OrderStatus.as_view()),
    path("orders/<str:number>/shipments/", views.OrderShipments.as_view()),
    path("orders/<str:number>/payments/", views.OrderPayments.as_view()),
]
