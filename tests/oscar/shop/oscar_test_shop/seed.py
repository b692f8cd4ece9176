"""What the template database holds besides oscar's migrations: the admin erpbridge logs in as
(``erpbridge``/``erpbridge``), the shipping countries checkout needs (oscar ships none), and the
shop's own product class. Run once by .ci/setup.d/30-oscar.sh through ``manage.py shell``."""
from django.contrib.auth import get_user_model
from oscar.core.loading import get_model

Country = get_model("address", "Country")
for code, name in [("DE", "Germany"), ("NL", "Netherlands"), ("FR", "France"), ("US", "United States")]:
    Country.objects.update_or_create(iso_3166_1_a2=code, defaults={"name": name, "printable_name": name,
                                                                    "is_shipping_country": True})
User = get_user_model()
if not User.objects.filter(username="erpbridge").exists():
    User.objects.create_superuser("erpbridge", "erpbridge@example.com", "erpbridge")
