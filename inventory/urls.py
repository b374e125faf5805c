from django.urls import path

from inventory import views

app_name = "inventory"

urlpatterns = [
    path("", views.overview, name="overview"),
    path("overview/trend/", views.overview_trend, name="overview_trend"),
    path("images/", views.image_list, name="image_list"),
    path(
        "images/export.<str:export_format>",
        views.image_export,
        name="image_export",
    ),
    path("images/<id:pk>/", views.image_detail, name="image_detail"),
    path(
        "images/<id:pk>/consumer-report/",
        views.image_consumer_report,
        name="image_consumer_report",
    ),
    path("sync/", views.sync_runs, name="sync_runs"),
    path("sync/start/", views.sync_now, name="sync_now"),
    path("sync/<id:pk>/", views.sync_run_detail, name="sync_run_detail"),
    path("accounts/", views.account_list, name="account_list"),
]
