"""Rows that are either shared (no owner: system rows, curated by operators) or a user's own."""

from django.db import models
from django.db.models import Q


class SystemOrOwnedQuerySet(models.QuerySet):
    def for_user(self, user):
        """What the user may use: the system rows and their own."""
        return self.filter(Q(owner__isnull=True) | Q(owner=user))

    def owned_by(self, user):
        return self.filter(owner=user)

    def system(self):
        return self.filter(owner__isnull=True)

    def enabled(self):
        return self.filter(enabled=True)
