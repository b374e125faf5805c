from django.urls import path

from lifecycle import views
from lifecycle.views import compliance as compliance_views
from lifecycle.views import requests as request_views

app_name = "lifecycle"

urlpatterns = [
    path("requests/", views.request_list, name="request_list"),
    path("requests/new/", request_views.request_create, name="request_create"),
    path("requests/<id:pk>/", request_views.request_detail, name="request_detail"),
    path("requests/<id:pk>/decide/", request_views.request_decide, name="request_decide"),
    path("requests/<id:pk>/cancel/", request_views.request_cancel, name="request_cancel"),
    path("compliance/", compliance_views.compliance, name="compliance"),
    path(
        "compliance/propose/",
        compliance_views.allowed_images_request,
        name="allowed_images_request",
    ),
    path("audit/", views.audit_log, name="audit_log"),
    path("audit/verify/", views.audit_verify, name="audit_verify"),
    path("audit/verify/full/", views.audit_verify_full, name="audit_verify_full"),
    path("audit/verify/full/<id:pk>/", views.audit_verification, name="audit_verification"),
    path("audit/events/<id:sequence>/", views.audit_event, name="audit_event"),
    path("audit/export/<str:fmt>/", views.audit_export, name="audit_export"),
    path("audit/report/", views.audit_report, name="audit_report"),
    path("audit/images/<id:pk>/timeline/", views.image_timeline, name="image_timeline"),
    path("audit/requests/<id:pk>/timeline/", views.request_timeline, name="request_timeline"),
]
