// The people working in the ERP (tests only, no auth, loopback): write what the APIs only read
// (deliveries, billing documents, shipments, invoices), change master data.
using { s4 } from '../db/s4';
using { bc } from '../db/bc';

@path: '/erp' @requires: 'any'
service ErpPeople {
  entity S4Products as projection on s4.Products;
  entity S4BusinessPartners as projection on s4.BusinessPartners;
  entity S4SalesOrders as projection on s4.SalesOrders;
  entity S4SalesOrderItems as projection on s4.SalesOrderItems;
  entity S4CustomerReturns as projection on s4.CustomerReturns;
  entity S4Deliveries as projection on s4.Deliveries;
  entity S4BillingDocuments as projection on s4.BillingDocuments;
  entity companies as projection on bc.companies;
  entity items as projection on bc.items;
  entity customers as projection on bc.customers;
  entity salesOrders as projection on bc.salesOrders;
  entity salesShipments as projection on bc.salesShipments;
  entity salesInvoices as projection on bc.salesInvoices;
  entity salesCreditMemos as projection on bc.salesCreditMemos;
}
