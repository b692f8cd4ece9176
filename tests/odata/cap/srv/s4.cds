// The S/4HANA services at SAP's paths (served as OData V2 by the V2 adapter under
// /sap/opu/odata/sap/<service>; the V4 originals under /odata/v4/<service>).
using { s4 } from '../db/s4';

annotate s4.Products with { LastChangeDateTime @cds.on.insert: $now @cds.on.update: $now };
annotate s4.SalesOrders with { LastChangeDateTime @cds.on.insert: $now @cds.on.update: $now };
annotate s4.BillingDocuments with { LastChangeDateTime @cds.on.insert: $now @cds.on.update: $now };
annotate s4.SalesOrderItems with { LastChangeDateTime @cds.on.insert: $now @cds.on.update: $now };
annotate s4.CustomerReturns with { LastChangeDateTime @cds.on.insert: $now @cds.on.update: $now };

@path: '/odata/v4/API_PRODUCT_SRV' @requires: 'authenticated-user'
service API_PRODUCT_SRV {
  @cds.query.limit: {default: 3, max: 1000}   // small pages: the tests walk server-driven paging
  entity A_Product as projection on s4.Products;
  entity A_ProductDescription as projection on s4.ProductDescriptions;
}

@path: '/odata/v4/API_BUSINESS_PARTNER' @requires: 'authenticated-user'
service API_BUSINESS_PARTNER {
  entity A_BusinessPartner as projection on s4.BusinessPartners;
  entity A_BusinessPartnerAddress as projection on s4.BusinessPartnerAddresses;
  entity A_Customer as projection on s4.PartnerCustomers;
  entity A_CustomerSalesArea as projection on s4.CustomerSalesAreas;
}

@path: '/odata/v4/API_SALES_ORDER_SRV' @requires: 'authenticated-user'
service API_SALES_ORDER_SRV {
  entity A_SalesOrder as projection on s4.SalesOrders;
  entity A_SalesOrderItem as projection on s4.SalesOrderItems;
}
// S/4's ETags: an update or delete without the entity's current one is refused (428, 412).
annotate API_SALES_ORDER_SRV.A_SalesOrder with { LastChangeDateTime @odata.etag };
annotate API_SALES_ORDER_SRV.A_SalesOrderItem with { LastChangeDateTime @odata.etag };

@path: '/odata/v4/API_CUSTOMER_RETURN_SRV' @requires: 'authenticated-user'
service API_CUSTOMER_RETURN_SRV {
  entity A_CustomerReturn as projection on s4.CustomerReturns;
  entity A_CustomerReturnItem as projection on s4.CustomerReturnItems;
}
annotate API_CUSTOMER_RETURN_SRV.A_CustomerReturn with { LastChangeDateTime @odata.etag };

@path: '/odata/v4/API_OUTBOUND_DELIVERY_SRV' @requires: 'authenticated-user'
service API_OUTBOUND_DELIVERY_SRV {
  @readonly entity A_OutbDeliveryHeader as projection on s4.Deliveries;
  @readonly entity A_OutbDeliveryItem as projection on s4.DeliveryItems;
}

@path: '/odata/v4/API_BILLING_DOCUMENT_SRV' @requires: 'authenticated-user'
service API_BILLING_DOCUMENT_SRV {
  @readonly entity A_BillingDocument as projection on s4.BillingDocuments;
  @readonly entity A_BillingDocumentItem as projection on s4.BillingDocumentItems;
}
