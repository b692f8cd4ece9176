"""The shop side of the oscar connector: the Django app ``erpbridge_oscar`` that a django-oscar shop
installs (it is not imported by erpbridge; see the package's docstring)."""
