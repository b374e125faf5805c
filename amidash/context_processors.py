from django.http import HttpRequest

from amidash.roles import role_names


def user_role(request: HttpRequest) -> dict[str, str]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"user_roles": ", ".join(role_names(user))}
