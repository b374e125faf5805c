from django.urls import path

from policies import views

app_name = "policies"

urlpatterns = [
    path("", views.policy_list, name="policy_list"),
    path("new/", views.policy_edit, name="policy_create"),
    path("<int:pk>/", views.policy_detail, name="policy_detail"),
    path("<int:pk>/edit/", views.policy_edit, name="policy_edit"),
    path("<int:pk>/toggle/", views.policy_toggle, name="policy_toggle"),
    path("<int:pk>/evaluate/", views.policy_evaluate, name="policy_evaluate"),
    path("<int:pk>/plans/<int:plan_pk>/", views.plan_detail, name="plan_detail"),
    path("<int:pk>/plans/<int:plan_pk>/propose/", views.plan_propose, name="plan_propose"),
    path(
        "<int:pk>/plans/<int:plan_pk>/export/<str:export_format>/",
        views.plan_export,
        name="plan_export",
    ),
]
