import json

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.ownership import SystemOrOwnedQuerySet


class DatasetQuerySet(SystemOrOwnedQuerySet):
    def ready(self) -> "DatasetQuerySet":
        return self.filter(status=Dataset.Status.READY)


class Dataset(models.Model):
    class Format(models.TextChoices):
        MCQ = "mcq", _("Multiple choice")
        QA = "qa", _("Question and answer")

    class Status(models.TextChoices):
        IMPORTING = "importing", _("Importing")
        READY = "ready", _("Ready")

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
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.READY, editable=False)
    tags = models.JSONField(_("tags"), default=list, blank=True)
    # Derived from the items whenever they change, so that list pages never count millions of
    # rows: {"subsets": {name: n}, "splits": {name: n}, "slices": {"subset/split": n},
    # "fields": [...], "item_tags": {tag: n}}.
    structure = models.JSONField(default=dict, blank=True, editable=False)
    item_count = models.PositiveIntegerField(_("items"), default=0, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = DatasetQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        verbose_name = _("dataset")
        verbose_name_plural = _("datasets")
        constraints = [
            models.UniqueConstraint(
                fields=["owner", "name"],
                name="unique_dataset_name_per_owner",
                violation_error_message=_("You already have a dataset with this name."),
            ),
            models.UniqueConstraint(
                fields=["name"],
                condition=Q(owner__isnull=True),
                name="unique_system_dataset_name",
                violation_error_message=_("A system dataset with this name already exists."),
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_system(self) -> bool:
        return self.owner_id is None

    @property
    def is_ready(self) -> bool:
        return self.status == self.Status.READY

    @property
    def subsets(self) -> dict[str, int]:
        return self.structure.get("subsets", {})

    @property
    def splits(self) -> dict[str, int]:
        return self.structure.get("splits", {})

    @property
    def fields(self) -> list[str]:
        return self.structure.get("fields", [])

    @property
    def item_tags(self) -> dict[str, int]:
        return self.structure.get("item_tags", {})


class DatasetItemQuerySet(models.QuerySet):
    def for_user(self, user) -> "DatasetItemQuerySet":
        return self.filter(Q(dataset__owner__isnull=True) | Q(dataset__owner=user))

    def matching(
        self, *, subset: str = "", split: str = "", tag: str = "", text: str = ""
    ) -> "DatasetItemQuerySet":
        items = self
        if subset:
            items = items.filter(subset=subset)
        if split:
            items = items.filter(split=split)
        if tag:
            # A match on the JSON text works on SQLite and MySQL alike (no JSON containment).
            items = items.filter(tags__icontains=json.dumps(tag))
        if text:
            items = items.filter(Q(question__icontains=text) | Q(answer__icontains=text))
        return items

    def keyset_page(
        self, *, after: int | None = None, before: int | None = None, size: int = 20
    ) -> tuple[list["DatasetItem"], bool, bool]:
        """One page in id order, found through the index however deep it is (no OFFSET).
        Returns the items and whether pages exist before and after them."""
        if before:
            items = list(self.filter(id__lt=before).order_by("-id")[: size + 1])[::-1]
            has_previous = len(items) > size
            items = items[-size:]
            return items, has_previous, True
        items = list(self.filter(id__gt=after or 0).order_by("id")[: size + 1])
        return items[:size], bool(after), len(items) > size


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

    objects = DatasetItemQuerySet.as_manager()

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["dataset", "subset", "split", "id"], name="item_slice_idx")]
        constraints = [
            # Public test sets number their items per file, i.e. per subset and split.
            models.UniqueConstraint(
                fields=["dataset", "subset", "split", "item_id"], name="unique_item_id_per_slice"
            )
        ]

    def __str__(self) -> str:
        return f"{self.dataset_id}:{self.item_id}"

    @property
    def lettered_choices(self) -> list[tuple[str, str]]:
        return [(chr(ord("A") + i), text) for i, text in enumerate(self.choices)]


class DatasetImportQuerySet(models.QuerySet):
    def for_user(self, user) -> "DatasetImportQuerySet":
        return self.filter(owner=user)


class DatasetImport(models.Model):
    """One upload (or command-line import) of a file into a new dataset, run in the background."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Importing")
        DONE = "done", _("Done")
        INVALID = "invalid", _("Rejected: the file has errors")
        FAILED = "failed", _("Failed")

    # Kept on the row so the page lists at most this many; the count says how many there were.
    MAX_STORED_ERRORS = 500

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE,
        related_name="dataset_imports",
    )
    dataset = models.ForeignKey(
        Dataset, null=True, blank=True, on_delete=models.SET_NULL, related_name="imports"
    )
    name = models.CharField(_("name"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    format = models.CharField(_("format"), max_length=8, choices=Dataset.Format.choices)
    source_name = models.CharField(_("file"), max_length=255)
    file_path = models.CharField(max_length=500)
    subset = models.CharField(_("default subset"), max_length=100, blank=True)
    split = models.CharField(_("default split"), max_length=32, blank=True)
    skip_invalid = models.BooleanField(_("import the valid rows and skip the others"), default=False)
    replace = models.BooleanField(default=False)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    total_lines = models.PositiveIntegerField(default=0)
    last_line = models.PositiveIntegerField(default=0)
    rows_read = models.PositiveIntegerField(_("valid rows read"), default=0)
    rows_imported = models.PositiveIntegerField(default=0)
    error_count = models.PositiveIntegerField(default=0)
    errors = models.JSONField(default=list, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects = DatasetImportQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.source_name} → {self.name}"

    @property
    def is_finished(self) -> bool:
        return self.status in (self.Status.DONE, self.Status.INVALID, self.Status.FAILED)

    @property
    def progress_percent(self) -> int:
        if self.status == self.Status.DONE:
            return 100
        if not self.total_lines:
            return 0
        return min(99, self.last_line * 100 // self.total_lines)

    @property
    def elapsed(self):
        if not self.started_at:
            return None
        return (self.finished_at or timezone.now()) - self.started_at
