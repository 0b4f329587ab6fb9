"""The Celery worker's filesystem broker, as settings.py lays it out under CLINIC_VAR_DIR."""

from pathlib import Path


def filesystem_folders(var_dir: Path) -> dict[str, str]:
    """The transport options settings.py derives from CLINIC_VAR_DIR (kept in step with it)."""
    queue, processed = var_dir / "celery" / "queue", var_dir / "celery" / "processed"
    # Without control_folder kombu writes its exchange table to ./control in the working tree.
    control = var_dir / "celery" / "control"
    for folder in (queue, processed, control):
        folder.mkdir(parents=True, exist_ok=True)
    return {
        "data_folder_in": str(queue),
        "data_folder_out": str(queue),
        "processed_folder": str(processed),
        "control_folder": str(control),
        "store_processed": False,
    }
