"""The NetSuite connector (issue 15): Oracle NetSuite's SuiteTalk REST web services.

Configure it as a system::

    systems:
      erp:
        connector: netsuite
        account: "1234567_SB1"
        auth: {type: tba, consumer_key: ..., consumer_secret: "${NS_CONSUMER_SECRET}",
               token: ..., token_secret: "${NS_TOKEN_SECRET}"}
        concurrency: 15                       # the account's concurrency limit

``examples/netsuite/`` holds a complete config. :mod:`.adapter` speaks the REST record API and
SuiteQL, :mod:`.mapper` translates records, :mod:`.connector` holds the flows; :mod:`.spec`
registers it.
"""
