"""A custom ERP configured per message, REST or SOAP (``connector: webservice``): see :mod:`.connector`."""
