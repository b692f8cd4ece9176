"""RabbitMQ as the company's event bus (``connector: amqp``); see :mod:`.connector`."""
