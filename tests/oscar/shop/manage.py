"""The test shop's manage.py (runserver, migrate, shell); see oscar_test_shop/settings.py."""
import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "oscar_test_shop.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
