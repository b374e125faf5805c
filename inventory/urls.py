from django.urls import path

from inventory import views

app_name = "inventory"

urlpatterns = [
    path("", views.overview, name="overview"),
    path("images/", views.image_list, name="image_list"),
    path("sync/", views.sync_runs, name="sync_runs"),
]
