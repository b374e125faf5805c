from django.urls import path

from lifecycle import views

app_name = "lifecycle"

urlpatterns = [
    path("requests/", views.request_list, name="request_list"),
    path("audit/", views.audit_log, name="audit_log"),
]
