from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from amidash import oidc, twofactor, views
from amidash.middleware import role_not_required
from amidash.signin import AdminSignInForm

admin.site.login_form = AdminSignInForm

urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path("accounts/login/", oidc.login_view, name="login"),
    path(
        "accounts/logout/",
        role_not_required(twofactor.two_factor_exempt(auth_views.LogoutView.as_view())),
        name="logout",
    ),
    path("accounts/two-factor/", twofactor.enrol, name="two_factor_enrol"),
    path("accounts/two-factor/code/", twofactor.verify, name="two_factor_verify"),
    path("accounts/reauthenticate/", twofactor.reauthenticate, name="reauthenticate"),
    path("oidc/authenticate/", oidc.sign_in_view, name="oidc_authentication_init"),
    path("oidc/callback/", oidc.callback_view, name="oidc_authentication_callback"),
    path("admin/", admin.site.urls),
    path("", include("inventory.urls")),
    path("", include("lifecycle.urls")),
    path("policies/", include("policies.urls")),
    path("api/", include("api.urls")),
]
