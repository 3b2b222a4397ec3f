#!/usr/bin/env python
"""Django's command-line utility for the tip platform."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.settings")
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line

    try:
        execute_from_command_line(sys.argv)
    except ImproperlyConfigured as refused:  # a setting the environment must give: say which
        sys.exit(f"refusing to start: {refused}")


if __name__ == "__main__":
    main()
