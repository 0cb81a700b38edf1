"""Has the world moved since a plan was made? (for `show`; `apply` re-evaluates everything)."""

from __future__ import annotations

from setright.config import Config
from setright.planner.model import Plan
from setright.store import Store


def staleness(plan: Plan, store: Store, config: Config) -> list[str]:
    """Cheap checks: store lineage and serial, resolution file digests. [] when nothing moved."""
    from setright.resolutions.files import read_resolution_files

    lines = []
    if plan.store.get("lineage") != store.lineage:
        lines.append(f"this plan was made for another store (lineage {plan.store.get('lineage')},"
                     f" this store is {store.lineage})")
        return lines
    if plan.store.get("serial") != store.serial:
        lines.append(f"the store has changed since this plan was made (serial "
                     f"{plan.store.get('serial')} → {store.serial}); 'setright apply' will "
                     "refuse whatever moved")
    paths = [config.root / f.path for f in plan.resolution_files]
    current = {f.path: f.digest for f in read_resolution_files(
        [p for p in paths if p.exists()], config.root).files}
    for ref in plan.resolution_files:
        if ref.path not in current:
            lines.append(f"{ref.path} is gone or no longer valid")
        elif current[ref.path] != ref.digest:
            lines.append(f"{ref.path} changed since this plan was made")
    return lines
