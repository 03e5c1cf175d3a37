from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class DatasetQuerySet(models.QuerySet):
    def for_user(self, user) -> "DatasetQuerySet":
        """Datasets the user may read: the system ones and their own."""
        return self.filter(Q(owner__isnull=True) | Q(owner=user))

    def owned_by(self, user) -> "DatasetQuerySet":
        return self.filter(owner=user)

    def system(self) -> "DatasetQuerySet":
        return self.filter(owner__isnull=True)

    def enabled(self) -> "DatasetQuerySet":
        return self.filter(enabled=True)


class Dataset(models.Model):
    class Format(models.TextChoices):
        MCQ = "mcq", _("Multiple choice")
        QA = "qa", _("Question and answer")

    name = models.CharField(_("name"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    format = models.CharField(_("format"), max_length=8, choices=Format.choices)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="datasets",
        help_text=_("Empty for a system dataset shared with every user."),
    )
    enabled = models.BooleanField(_("enabled"), default=True)
    tags = models.JSONField(_("tags"), default=list, blank=True)
    # Derived from the items whenever they change: {"subsets": {name: count}, "splits":
    # {name: count}, "fields": [...]} so that list pages never count millions of rows.
    structure = models.JSONField(default=dict, blank=True, editable=False)
    item_count = models.PositiveIntegerField(default=0, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = DatasetQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        verbose_name = _("dataset")
        verbose_name_plural = _("datasets")
        constraints = [
            models.UniqueConstraint(fields=["owner", "name"], name="unique_dataset_name_per_owner"),
            models.UniqueConstraint(
                fields=["name"], condition=Q(owner__isnull=True), name="unique_system_dataset_name"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_system(self) -> bool:
        return self.owner_id is None

    @property
    def subsets(self) -> dict[str, int]:
        return self.structure.get("subsets", {})

    @property
    def splits(self) -> dict[str, int]:
        return self.structure.get("splits", {})


class DatasetItem(models.Model):
    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="items")
    # A stable id within the dataset (from the file, or generated on import).
    item_id = models.CharField(max_length=64)
    subset = models.CharField(max_length=100, default="default")
    split = models.CharField(max_length=32, default="test")
    question = models.TextField()
    # MCQ: the ordered option texts, lettered A, B, C ... in that order.
    choices = models.JSONField(default=list, blank=True)
    # MCQ: the correct letter(s), e.g. "B" or "AC"; QA: the reference answer.
    answer = models.TextField(blank=True)
    tags = models.JSONField(default=list, blank=True)
    extra = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["dataset", "subset", "split", "id"], name="item_slice_idx")]
        constraints = [
            models.UniqueConstraint(fields=["dataset", "item_id"], name="unique_item_id_per_dataset")
        ]

    def __str__(self) -> str:
        return f"{self.dataset_id}:{self.item_id}"

    @property
    def lettered_choices(self) -> list[tuple[str, str]]:
        return [(chr(ord("A") + i), text) for i, text in enumerate(self.choices)]
