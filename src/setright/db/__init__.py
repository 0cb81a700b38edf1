"""The backend seam: database URLs and one implementation class per dialect.

`parse_url` turns configuration text into a `DbUrl`; `impl_for(url)` picks the
dialect's `DefaultImpl` subclass. The store (`setright.store`) and targets
(`setright.runner.targets`) are the two faces built on it; runner/ and planner/
only ever see a `Connection` and portable SQL.
"""

from setright.db.impl import Connection, DatabaseUnavailable, DefaultImpl, impl_for, impl_of
from setright.db.url import DbUrl, mask_password, parse_url

__all__ = ["Connection", "DatabaseUnavailable", "DbUrl", "DefaultImpl", "impl_for", "impl_of",
           "mask_password", "parse_url"]
