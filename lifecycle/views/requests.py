from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def request_list(request: HttpRequest) -> HttpResponse:
    return render(request, "lifecycle/request_list.html")
