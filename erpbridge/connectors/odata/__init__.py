"""The OData connector (``connector: odata``): SAP S/4HANA and Business Central, by ``flavour``."""
