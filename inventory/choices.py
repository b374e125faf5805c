"""States and kinds used by the inventory models (TextChoices, stored as their AWS spelling)."""

from django.db import models


class ImageState(models.TextChoices):
    """An image's state as EC2 reports it; ``deregistered`` once it is no longer listed."""

    PENDING = "pending", "Pending"
    AVAILABLE = "available", "Available"
    INVALID = "invalid", "Invalid"
    DEREGISTERED = "deregistered", "Deregistered"
    TRANSIENT = "transient", "Transient"
    FAILED = "failed", "Failed"
    ERROR = "error", "Error"
    DISABLED = "disabled", "Disabled"


class ImageBucket(models.TextChoices):
    """Where the Overview counts an image: every current image in exactly one of the first four,
    gone images apart. The precedence that decides it lives in ``inventory.models.querysets``."""

    AVAILABLE = "available", "Available"
    DEPRECATED = "deprecated", "Deprecated"
    DISABLED = "disabled", "Disabled"
    OTHER = "other", "Other"
    GONE = "gone", "Gone"


class UsageType(models.TextChoices):
    """What kind of resource uses (references) an image."""

    INSTANCE = "instance", "Instance"
    LAUNCH_TEMPLATE = "launch_template", "Launch template"
    AUTOSCALING_GROUP = "autoscaling_group", "Auto Scaling group"
    LAUNCH_CONFIGURATION = "launch_configuration", "Launch configuration"
    SSM_PARAMETER = "ssm_parameter", "SSM parameter"
    IMAGE_RECIPE = "image_recipe", "Image Builder image recipe"
    CONTAINER_RECIPE = "container_recipe", "Image Builder container recipe"
    OTHER = "other", "Other reference"


class FindingsStatus(models.TextChoices):
    """Whether amidash could read an image's Amazon Inspector findings (GetImageFindings).

    ``not_scanned``: the endpoint lacks the call or the role may not make it; the image's counts
    are then unknown, never zero.
    """

    SCANNED = "scanned", "Scanned"
    NOT_SCANNED = "not_scanned", "Not scanned"


class FindingSeverity(models.TextChoices):
    """Amazon Inspector's SeverityLabel, most severe first."""

    CRITICAL = "critical", "Critical"
    HIGH = "high", "High"
    MEDIUM = "medium", "Medium"
    LOW = "low", "Low"
    INFORMATIONAL = "informational", "Informational"


class OptInStatus(models.TextChoices):
    """DescribeRegions' OptInStatus; not-opted-in Regions are skipped, never shown as empty."""

    NOT_REQUIRED = "opt-in-not-required", "Opt-in not required"
    OPTED_IN = "opted-in", "Opted in"
    NOT_OPTED_IN = "not-opted-in", "Not opted in"


class SyncStatus(models.TextChoices):
    """A sync run: queued, running, then succeeded, partial (some Regions failed) or failed."""

    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    PARTIAL = "partial", "Partial"
    FAILED = "failed", "Failed"


class RegionSyncStatus(models.TextChoices):
    """One account+Region within a run."""

    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    SKIPPED = "skipped", "Skipped"


#: A run is over in these states; the worker, the pages and the CLI all ask ``is_finished``.
FINAL_SYNC_STATES = frozenset({SyncStatus.SUCCEEDED, SyncStatus.PARTIAL, SyncStatus.FAILED})

#: An account+Region is done in these states: a run finishes once every one of its Regions is,
#: and the run page counts them as its progress.
FINAL_REGION_STATES = frozenset(
    {RegionSyncStatus.SUCCEEDED, RegionSyncStatus.FAILED, RegionSyncStatus.SKIPPED}
)


class SyncTrigger(models.TextChoices):
    """Where a sync was started from (also the ``source`` of its domain signals)."""

    WEB = "web", "Web"
    CLI = "cli", "Command line"
    BEAT = "beat", "Schedule"
    WORKER = "worker", "Worker"


class ConsumerReportStatus(models.TextChoices):
    """An AMI usage report as amidash asked for it (EC2's pending, available and error)."""

    PENDING = "pending", "Pending"
    AVAILABLE = "available", "Available"
    FAILED = "failed", "Failed"


class AllowedImagesState(models.TextChoices):
    """An account+Region's Allowed AMIs state (GetAllowedImagesSettings)."""

    DISABLED = "disabled", "Disabled"
    AUDIT_MODE = "audit-mode", "Audit mode"
    ENABLED = "enabled", "Enabled"


class AllowedImagesManagedBy(models.TextChoices):
    """Who manages the setting: the account, or a declarative policy it cannot change."""

    ACCOUNT = "account", "Account"
    DECLARATIVE_POLICY = "declarative-policy", "Declarative policy"
