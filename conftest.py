"""Fixtures shared by every app's tests: users, an admin, the demo LLM server and a model on it."""

import pytest
from django.test import Client

PASSWORD = "correct-horse-battery-staple"


@pytest.fixture
def alice(django_user_model):
    """The owner in most tests."""
    return django_user_model.objects.create_user(username="alice", password=PASSWORD)


@pytest.fixture
def bob(django_user_model):
    """Another user, who must see nothing of alice's."""
    return django_user_model.objects.create_user(username="bob", password=PASSWORD)


@pytest.fixture
def admin_user(django_user_model):
    return django_user_model.objects.create_superuser(username="root", password=PASSWORD)


@pytest.fixture
def alice_client(alice) -> Client:
    client = Client()
    client.force_login(alice)
    return client


@pytest.fixture
def bob_client(bob) -> Client:
    client = Client()
    client.force_login(bob)
    return client


@pytest.fixture
def admin_client(admin_user) -> Client:
    client = Client()
    client.force_login(admin_user)
    return client
