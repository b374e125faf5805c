from django.urls import path

from lifecycle import views

app_name = "lifecycle"

urlpatterns = [
    path("requests/", views.request_list, name="request_list"),
    path("audit/", views.audit_log, name="audit_log"),
    path("audit/events/<int:sequence>/", views.audit_event, name="audit_event"),
    path("audit/export/<str:fmt>/", views.audit_export, name="audit_export"),
    path("audit/images/<int:pk>/timeline/", views.image_timeline, name="image_timeline"),
    path("audit/requests/<int:pk>/timeline/", views.request_timeline, name="request_timeline"),
]
