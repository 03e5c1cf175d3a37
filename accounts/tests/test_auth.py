import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from conftest import PASSWORD

pytestmark = pytest.mark.django_db

PAGES = ["dashboard", "llm_models:list", "chat:index", "datasets:list", "evaluations:list",
         "perfbench:list", "account_change_password"]


@pytest.mark.parametrize("name", PAGES)
def test_every_page_requires_sign_in(client: Client, name: str):
    url = reverse(name)
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('account_login')}?next={url}"


@pytest.mark.parametrize("name", PAGES)
def test_signed_in_user_sees_every_page(alice_client: Client, name: str):
    assert alice_client.get(reverse(name)).status_code == 200


def test_expired_session_on_htmx_request_sends_browser_to_login_and_back(client: Client):
    response = client.get(
        reverse("llm_models:list"),
        headers={"HX-Request": "true", "HX-Current-URL": "http://testserver/datasets/?page=3"},
    )
    assert response.status_code == 204
    assert response["HX-Redirect"] == f"{reverse('account_login')}?next=/datasets/%3Fpage%3D3"


def test_login_with_username_and_password_then_back_to_requested_page(alice):
    client = Client(enforce_csrf_checks=True)
    login_url = reverse("account_login")
    page = client.get(f"{login_url}?next=/datasets/")
    token = page.cookies["csrftoken"].value
    response = client.post(
        login_url,
        {"login": "alice", "password": PASSWORD, "next": "/datasets/", "csrfmiddlewaretoken": token},
    )
    assert response.status_code == 302
    assert response["Location"] == "/datasets/"
    assert client.get(reverse("dashboard")).status_code == 200


def test_login_with_wrong_password_says_so(alice, client: Client):
    response = client.post(reverse("account_login"), {"login": "alice", "password": "nope"})
    assert response.status_code == 200
    assert response.context["form"].errors
    assert client.get(reverse("dashboard")).status_code == 302


def test_post_without_csrf_token_is_refused_with_a_friendly_page(alice):
    client = Client(enforce_csrf_checks=True)
    response = client.post(reverse("account_login"), {"login": "alice", "password": PASSWORD})
    assert response.status_code == 403
    assert "表单已过期" in response.content.decode()
    assert client.get(reverse("dashboard")).status_code == 302


def test_logout(alice_client: Client):
    response = alice_client.post(reverse("account_logout"))
    assert response.status_code == 302
    assert alice_client.get(reverse("dashboard")).status_code == 302


def test_password_change(alice, alice_client: Client):
    response = alice_client.post(
        reverse("account_change_password"),
        {"oldpassword": PASSWORD, "password1": "a-new-long-passphrase-42",
         "password2": "a-new-long-passphrase-42"},
    )
    assert response.status_code == 302
    alice.refresh_from_db()
    assert alice.check_password("a-new-long-passphrase-42")


def test_password_change_with_wrong_old_password_keeps_the_old_one(alice, alice_client: Client):
    response = alice_client.post(
        reverse("account_change_password"),
        {"oldpassword": "wrong", "password1": "a-new-long-passphrase-42",
         "password2": "a-new-long-passphrase-42"},
    )
    assert response.status_code == 200
    alice.refresh_from_db()
    assert alice.check_password(PASSWORD)


def test_signup_is_off_by_default(client: Client, django_user_model):
    response = client.post(
        reverse("account_signup"),
        {"username": "mallory", "password1": "a-long-passphrase-42", "password2": "a-long-passphrase-42"},
    )
    assert not django_user_model.objects.filter(username="mallory").exists()
    assert "signup_closed" in [t.name.split("/")[-1].removesuffix(".html") for t in response.templates]


def test_signup_when_enabled(client: Client, django_user_model, settings):
    settings.SIGNUP_ENABLED = True
    client.post(
        reverse("account_signup"),
        {"username": "mallory", "password1": "a-long-passphrase-42", "password2": "a-long-passphrase-42"},
    )
    assert django_user_model.objects.filter(username="mallory").exists()


def test_language_switch_to_english_and_chinese_default(alice_client: Client):
    assert "仪表盘" in alice_client.get(reverse("dashboard")).content.decode()
    alice_client.post(reverse("set_language"), {"language": "en", "next": "/"})
    assert "Dashboard" in alice_client.get(reverse("dashboard")).content.decode()


def test_navigation_and_user_menu(alice_client: Client, alice):
    html = alice_client.get(reverse("dashboard")).content.decode()
    for name in PAGES:
        assert f'href="{reverse(name)}"' in html
    assert reverse("admin:index") not in html
    alice.is_staff = True
    alice.save()
    assert reverse("admin:index") in alice_client.get(reverse("dashboard")).content.decode()


def test_no_asset_is_loaded_from_another_host(alice_client: Client):
    html = alice_client.get(reverse("dashboard")).content.decode()
    assert "http://" not in html and "https://" not in html


def test_create_first_admin_prints_a_generated_password_once(django_user_model, capsys):
    call_command("create_first_admin")
    out = capsys.readouterr().out
    password = out.split("password: ")[1].split()[0]
    admin = django_user_model.objects.get(username="admin")
    assert admin.is_superuser and admin.check_password(password)
    call_command("create_first_admin")
    assert "password" not in capsys.readouterr().out.split("already")[0]
    assert django_user_model.objects.filter(is_superuser=True).count() == 1


def test_manage_py_check_is_clean():
    call_command("check", fail_level="WARNING")
