"""The ``exchange_log:`` section of the config: how long the exchange log keeps entries and what
it hides. Kept here, beside the code that uses it, and added to :class:`erpbridge.config.Config`
by one line."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

#: Keys whose values are secrets: replaced by ``***``. Matched case-insensitively anywhere in a key,
#: ignoring ``-``/``_`` (``X-Api-Key``, ``access_token``, ``client_secret``, ``Set-Cookie``).
SECRET_KEYS = ["password", "passwd", "secret", "token", "api_key", "apikey", "authorization", "session",
               "cookie", "credential", "private_key", "signature"]

#: Keys whose values are personal data: masked (first character and a short hash), matched
#: case-insensitively as whole keys, ignoring ``-``/``_`` (``first_name`` = ``firstName``).
PERSONAL_KEYS = ["email", "e_mail", "mail", "phone", "telephone", "mobile", "fax", "name", "first_name",
                 "last_name", "full_name", "firstname", "lastname", "contact", "street", "street2", "street_2",
                 "address", "address1", "address2", "address_line", "address_line1", "address_line2",
                 "address_line3", "postcode", "post_code", "postal_code", "zip", "zip_code", "zipcode", "city",
                 "birthday", "date_of_birth", "iban", "vat_id", "tax_id", "ip", "ip_address",
                 # UBL's names, as Ibexa's Web.Connector messages carry parties (connectors/ibexa)
                 "street_name", "additional_street_name", "building_number", "city_name", "postal_zone",
                 "family_name", "electronic_mail", "telefax", "person"]


class ExchangeLogConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    retention_days: float = Field(default=30, gt=0, description="entries older than this are pruned (daily by the scheduler)")
    redact_keys: list[str] = Field(default_factory=lambda: list(SECRET_KEYS),
                                   description="keys whose values are secrets, replaced by ***")
    personal_keys: list[str] = Field(default_factory=lambda: list(PERSONAL_KEYS),
                                     description="keys whose values are personal data, masked")
    max_payload_bytes: int = Field(default=65536, ge=256, description="a longer payload is kept truncated, with a note")
