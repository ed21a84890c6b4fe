"""``python -m driver``: see ``driver.cli``."""

from driver.cli import main

raise SystemExit(main())
