from django.contrib.auth.models import AbstractUser


class User(AbstractUser):
    """A platform user. Everything a user creates is owned by one of these."""

    class Meta(AbstractUser.Meta):
        swappable = "AUTH_USER_MODEL"
