"""The token page: a signed-in user makes and revokes their own API tokens."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from api.models import ApiToken, TokenScope
from api.services import MAX_EXPIRY_DAYS, create_token, revoke_token
from lifecycle.models import AuditSource


class TokenForm(forms.Form):
    name = forms.CharField(max_length=100)
    scopes = forms.MultipleChoiceField(
        choices=TokenScope.choices, widget=forms.CheckboxSelectMultiple, initial=["read"]
    )
    expires_in_days = forms.IntegerField(
        required=False, min_value=1, max_value=MAX_EXPIRY_DAYS, initial=90, label="Expires in days"
    )


@require_http_methods(["GET", "POST"])
def token_list(request: HttpRequest) -> HttpResponse:
    """GET: the user's tokens; POST: make one and show its secret once."""
    form = TokenForm(request.POST or None)
    issued = None
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            issued = create_token(
                request.user, request.user, data["name"], data["scopes"],
                data["expires_in_days"], AuditSource.WEB,
            )  # fmt: skip
            form = TokenForm()
        except ValidationError as error:
            form.add_error(None, error)
    tokens = ApiToken.objects.filter(user=request.user, revoked_at__isnull=True)
    context = {"form": form, "tokens": tokens, "issued": issued}
    status = 400 if request.method == "POST" and issued is None else 200
    return render(request, "api/tokens.html", context, status=status)


@require_POST
def token_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    token = ApiToken.objects.filter(pk=pk, user=request.user).first()
    if token is not None:
        revoke_token(request.user, token.pk, AuditSource.WEB)
        messages.success(request, f"Token {token.prefix} is revoked.")
    return redirect("api:tokens")
