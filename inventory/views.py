from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def overview(request: HttpRequest) -> HttpResponse:
    return render(request, "inventory/overview.html")


def image_list(request: HttpRequest) -> HttpResponse:
    return render(request, "inventory/image_list.html")


def sync_runs(request: HttpRequest) -> HttpResponse:
    return render(request, "inventory/sync_runs.html")
