from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from amidash import views
from amidash.middleware import role_not_required

urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", role_not_required(auth_views.LogoutView.as_view()), name="logout"),
    path("admin/", admin.site.urls),
    path("", include("inventory.urls")),
    path("", include("lifecycle.urls")),
    path("policies/", include("policies.urls")),
    path("api/", include("api.urls")),
]
