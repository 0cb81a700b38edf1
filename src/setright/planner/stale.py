"""Has the world moved since a plan was made? (for `show`; `apply` re-evaluates everything)."""

from __future__ import annotations

from setright.config import Config
from setright.planner.model import Plan
from setright.store import Store


def moved_files(plan: Plan, config: Config) -> dict[str, str]:
    """Resolution files whose digest differs from the plan's: path → "gone" | "changed"."""
    from setright.resolutions.files import read_resolution_files

    paths = [config.root / f.path for f in plan.resolution_files]
    current = {f.path: f.digest for f in read_resolution_files(
        [p for p in paths if p.exists()], config.root).files}
    return {ref.path: "gone" if ref.path not in current else "changed"
            for ref in plan.resolution_files if current.get(ref.path) != ref.digest}


def staleness(plan: Plan, store: Store, config: Config) -> list[str]:
    """Cheap checks: store lineage and serial, resolution file digests. [] when nothing moved."""
    lines = []
    if plan.store.get("lineage") != store.lineage:
        lines.append(f"this plan was made for another store (lineage {plan.store.get('lineage')},"
                     f" this store is {store.lineage})")
        return lines
    if plan.store.get("serial") != store.serial:
        lines.append(f"the store has changed since this plan was made (serial "
                     f"{plan.store.get('serial')} → {store.serial}); 'setright apply' will "
                     "refuse whatever moved")
    for path, how in moved_files(plan, config).items():
        lines.append(f"{path} is gone or no longer valid" if how == "gone"
                     else f"{path} changed since this plan was made")
    return lines
