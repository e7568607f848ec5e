"""The daily backup of the embedded stack (`crisis dev`): what its schedule starts and gets back."""

from pydantic import BaseModel, Field

BACKUP_WORKFLOW = "BackupWorkflow"
BACKUP_ACTIVITY = "take_stack_backup"
SCHEDULE_BACKUP = "crisis-backup-daily"


class BackupRequest(BaseModel):
    directory: str = Field(description="where backup files go (CRISIS_BACKUP_DIR)")
    keep: int = Field(7, ge=1, description="how many backup files to keep there, newest first (CRISIS_BACKUP_KEEP)")


class BackupReceipt(BaseModel):
    file: str
    bytes: int
    members: int
    seconds: float
    removed: list[str] = Field(default_factory=list, description="older backup files deleted to keep `keep`")
