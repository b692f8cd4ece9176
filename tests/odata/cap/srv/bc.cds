// Business Central's API v2.0: the service Microsoft.NAV at /api/v2.0, company-scoped.
using { bc } from '../db/bc';

annotate bc.items with { lastModifiedDateTime @cds.on.insert: $now @cds.on.update: $now };
annotate bc.customers with { lastModifiedDateTime @cds.on.insert: $now @cds.on.update: $now };
annotate bc.salesOrders with { lastModifiedDateTime @cds.on.insert: $now @cds.on.update: $now };
annotate bc.salesShipments with { lastModifiedDateTime @cds.on.insert: $now @cds.on.update: $now };
annotate bc.salesInvoices with { lastModifiedDateTime @cds.on.insert: $now @cds.on.update: $now };
annotate bc.salesCreditMemos with { lastModifiedDateTime @cds.on.insert: $now @cds.on.update: $now };

@path: '/api/v2.0' @requires: 'authenticated-user'
service Microsoft.NAV {
  @readonly entity companies as projection on bc.companies;
  @cds.query.limit: {default: 3, max: 20000}
  entity items as projection on bc.items;
  entity customers as projection on bc.customers;
  entity salesOrders as projection on bc.salesOrders actions { action shipAndInvoice(); };
  entity salesOrderLines as projection on bc.salesOrderLines;
  @readonly entity salesShipments as projection on bc.salesShipments;
  @readonly entity salesShipmentLines as projection on bc.salesShipmentLines;
  @readonly entity salesInvoices as projection on bc.salesInvoices;
  @readonly entity salesInvoiceLines as projection on bc.salesInvoiceLines;
  entity salesCreditMemos as projection on bc.salesCreditMemos;
  entity salesCreditMemoLines as projection on bc.salesCreditMemoLines;
}
// Business Central's ETags (@odata.etag on every entity): updates and deletes send If-Match.
annotate Microsoft.NAV.salesOrders with { lastModifiedDateTime @odata.etag };
annotate Microsoft.NAV.salesCreditMemos with { lastModifiedDateTime @odata.etag };
