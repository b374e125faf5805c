import time
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from django_otp.oath import TOTP
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from amidash.twofactor import AUTHENTICATED_AT
from lifecycle.choices import RequestStatus
from lifecycle.models import AuditEvent
from tests.factories import PASSWORD, create_lifecycle_request, signed_in


def code_for(device: TOTPDevice) -> str:
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time()
    return f"{totp.token():06d}"


def wait_out_the_throttle(device: TOTPDevice) -> None:
    """After a wrong code the device refuses every code for a second (doubling per failure)."""
    earlier = timezone.now() - timedelta(seconds=2)
    TOTPDevice.objects.filter(pk=device.pk).update(throttling_failure_timestamp=earlier)


def sign_in(client, username: str) -> None:
    response = client.post(reverse("login"), {"username": username, "password": PASSWORD})
    assert response.status_code == 302


def test_an_approver_must_enrol_before_anything_else_when_required(client, approver, settings):
    settings.REQUIRE_2FA = True
    sign_in(client, "arno")
    response = client.get("/images/")
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('two_factor_enrol')}?next=/images/"


def test_a_viewer_need_not_enrol(client, viewer, settings):
    settings.REQUIRE_2FA = True
    sign_in(client, "viola")
    assert client.get("/images/").status_code == 200


def test_enrolment_shows_the_key_and_confirms_it_with_a_code(client, approver, settings):
    settings.REQUIRE_2FA = True
    sign_in(client, "arno")
    page = client.get(reverse("two_factor_enrol"))
    assert page.status_code == 200
    device = TOTPDevice.objects.get(user=approver, confirmed=False)
    html = page.content.decode()
    assert "otpauth://totp/" in html and "issuer=amidash" in html and "<svg" in html

    wrong = client.post(reverse("two_factor_enrol"), {"code": "000000", "next": "/images/"})
    assert wrong.status_code == 400 and "not right" in wrong.content.decode()
    assert not TOTPDevice.objects.filter(user=approver, confirmed=True).exists()
    wait_out_the_throttle(device)

    done = client.post(reverse("two_factor_enrol"), {"code": code_for(device), "next": "/images/"})
    assert done.status_code == 200
    codes = StaticToken.objects.filter(device__user=approver).values_list("token", flat=True)
    assert len(codes) == 10 and all(code in done.content.decode() for code in codes)
    assert TOTPDevice.objects.get(pk=device.pk).confirmed
    assert client.get("/images/").status_code == 200  # this session gave the code
    again = client.get(reverse("two_factor_enrol"))  # codes are shown once only
    assert again.status_code == 302 and codes[0] not in again.content.decode()


def test_enrolment_and_recovery_codes_are_audited_without_the_secret(client, approver, settings):
    from tests.factories import last_audit_sequence

    settings.REQUIRE_2FA = True
    sign_in(client, "arno")
    client.get(reverse("two_factor_enrol"))
    device = TOTPDevice.objects.get(user=approver, confirmed=False)
    start = last_audit_sequence()
    done = client.post(reverse("two_factor_enrol"), {"code": code_for(device), "next": "/"})
    assert done.status_code == 200
    events = list(AuditEvent.objects.filter(sequence__gt=start).order_by("sequence"))
    assert [event.verb for event in events] == ["twofactor.enrolled", "twofactor.recovery_codes"]
    enrolled, codes = events
    assert enrolled.actor_name == codes.actor_name == "arno"
    assert (enrolled.target_type, enrolled.target_id) == ("user", str(approver.pk))
    assert enrolled.after == {
        "kind": "authenticator",
        "name": "authenticator",
        "device_id": device.pk,
    }
    assert codes.after["kind"] == "recovery codes"
    written = " ".join(str(vars(event)) for event in events)
    tokens = StaticToken.objects.filter(device__user=approver).values_list("token", flat=True)
    assert device.key not in written and not any(token in written for token in tokens)


@pytest.fixture
def device(approver) -> TOTPDevice:
    return TOTPDevice.objects.create(user=approver, name="phone", confirmed=True)


def test_sign_in_asks_for_the_code_when_the_user_has_a_device(client, device):
    sign_in(client, "arno")
    response = client.get("/images/")
    assert response["Location"] == f"{reverse('two_factor_verify')}?next=/images/"
    wrong = client.post(reverse("two_factor_verify"), {"code": "123", "next": "/images/"})
    assert wrong.status_code == 400 and "not right" in wrong.content.decode()
    assert client.get("/images/").status_code == 302
    wait_out_the_throttle(device)

    right = client.post(
        reverse("two_factor_verify"), {"code": code_for(device), "next": "/images/"}
    )
    assert right.status_code == 302 and right["Location"] == "/images/"
    assert client.get("/images/").status_code == 200


def test_a_recovery_code_signs_in_once(client, device, approver):
    recovery = approver.staticdevice_set.create(name="recovery codes")
    recovery.token_set.create(token="abcd1234")
    sign_in(client, "arno")
    assert client.post(reverse("two_factor_verify"), {"code": "abcd1234"}).status_code == 302
    assert client.get("/images/").status_code == 200
    other = signed_in(approver)
    assert other.post(reverse("two_factor_verify"), {"code": "abcd1234"}).status_code == 400


def test_it_never_sends_the_code_page_elsewhere(client, device):
    sign_in(client, "arno")
    response = client.post(
        reverse("two_factor_verify"), {"code": code_for(device), "next": "https://evil.example/"}
    )
    assert response["Location"] == "/"


@pytest.fixture
def pending(requester):
    return create_lifecycle_request(requester)


def decide(client, request, decision: str = "reject"):
    return client.post(
        reverse("lifecycle:request_decide", args=[request.pk]),
        {"decision": decision, "fingerprint": request.fingerprint, "comment": "no"},
    )


def age_sign_in(client, minutes: int) -> None:
    session = client.session
    session[AUTHENTICATED_AT] = int(time.time()) - minutes * 60
    session.save()


def test_a_decision_long_after_sign_in_asks_for_the_password_and_comes_back(
    client, approver, pending
):
    sign_in(client, "arno")
    age_sign_in(client, 16)
    detail = reverse("lifecycle:request_detail", args=[pending.pk])
    response = decide(client, pending)
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('reauthenticate')}?next={detail}"
    pending.refresh_from_db()
    assert pending.status == RequestStatus.PENDING

    page = client.get(response["Location"]).content.decode()
    assert "Your password" in page
    wrong = client.post(reverse("reauthenticate"), {"secret": "not it", "next": detail})
    assert wrong.status_code == 400
    back = client.post(reverse("reauthenticate"), {"secret": PASSWORD, "next": detail})
    assert back["Location"] == detail

    assert decide(client, pending).status_code == 302
    pending.refresh_from_db()
    assert pending.status == RequestStatus.REJECTED
    assert AuditEvent.objects.filter(verb="request.rejected").exists()


def test_with_two_factor_re_authentication_takes_a_code(client, approver, device, pending):
    sign_in(client, "arno")
    client.post(reverse("two_factor_verify"), {"code": code_for(device)})
    age_sign_in(client, 16)
    detail = reverse("lifecycle:request_detail", args=[pending.pk])
    assert decide(client, pending)["Location"].startswith(reverse("reauthenticate"))
    page = client.get(f"{reverse('reauthenticate')}?next={detail}").content.decode()
    assert "Code from your authenticator" in page
    wrong = client.post(reverse("reauthenticate"), {"secret": PASSWORD, "next": detail})
    assert wrong.status_code == 400  # the password alone is not enough with 2FA


def test_a_decision_soon_after_sign_in_goes_straight_through(client, approver, pending):
    sign_in(client, "arno")
    age_sign_in(client, 14)
    assert decide(client, pending)["Location"] == reverse(
        "lifecycle:request_detail", args=[pending.pk]
    )
    pending.refresh_from_db()
    assert pending.status == RequestStatus.REJECTED
