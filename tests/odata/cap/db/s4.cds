// SAP S/4HANA's entities as its published APIs name them (API_PRODUCT_SRV, API_BUSINESS_PARTNER,
// API_SALES_ORDER_SRV, API_OUTBOUND_DELIVERY_SRV;v=0002, API_BILLING_DOCUMENT_SRV): the fields
// erpbridge reads and writes, with the real names, lengths and types. Written by hand from the
// field lists of SAP's API specifications (api.sap.com); no SAP text is copied.
namespace s4;

entity Products {
  key Product             : String(40);
      ProductType         : String(4) default 'HAWA';
      ProductGroup        : String(9);
      BaseUnit            : String(3) default 'PC';
      GrossWeight         : Decimal(13, 3);
      ProductStandardID   : String(18);       // the GTIN
      LastChangeDateTime  : Timestamp;
      to_Description      : Composition of many ProductDescriptions on to_Description.Product = Product;
}

entity ProductDescriptions {
  key Product             : String(40);
  key Language            : String(2);
      ProductDescription  : String(40);
}

entity BusinessPartners {
  key BusinessPartner          : String(10);
      BusinessPartnerFullName  : String(81);
      BusinessPartnerCategory  : String(1) default '1';
      SearchTerm1              : String(20);  // erpbridge: the shop's customer number
      BusinessPartnerIsBlocked : Boolean default false;
      LastChangeDate           : Date;
      BusinessPartnerIDByExtSystem : String(20);  // the shop's customer reference
      BusinessPartnerGrouping  : String(4);
      FirstName                : String(40);
      LastName                 : String(40);
      OrganizationBPName1      : String(40);
      to_BusinessPartnerAddress : Composition of many BusinessPartnerAddresses
                                    on to_BusinessPartnerAddress.BusinessPartner = BusinessPartner;
      to_Customer              : Composition of one PartnerCustomers on to_Customer.Customer = BusinessPartner;
}

entity BusinessPartnerAddresses {
  key BusinessPartner : String(10);
  key AddressID       : String(10);
      StreetName      : String(60);
      PostalCode      : String(10);
      CityName        : String(40);
      Country         : String(3);
}

entity PartnerCustomers {   // A_Customer: the partner's customer role, with its sales areas
  key Customer             : String(10);
      CustomerName         : String(80);
      to_CustomerSalesArea : Composition of many CustomerSalesAreas on to_CustomerSalesArea.Customer = Customer;
}

entity CustomerSalesAreas {
  key Customer            : String(10);
  key SalesOrganization   : String(4);
  key DistributionChannel : String(2);
  key Division            : String(2);
      Currency            : String(5);
}

entity SalesOrders {
  key SalesOrder               : String(10);
      SalesOrderType           : String(4);
      SalesOrganization        : String(4);
      DistributionChannel      : String(2);
      OrganizationDivision     : String(2);
      SoldToParty              : String(10);
      PurchaseOrderByCustomer  : String(35);
      CustomerPurchaseOrderDate: Date;
      TransactionCurrency      : String(5);
      TotalNetAmount           : Decimal(16, 3);
      OverallSDProcessStatus   : String(1) default 'A';
      OverallDeliveryStatus    : String(1) default 'A';   // A none, B partly, C completely delivered
      OverallSDDocumentRejectionSts : String(1) default 'A';   // A no, B some, C all items rejected
      LastChangeDateTime       : Timestamp;
      to_Item                  : Composition of many SalesOrderItems on to_Item.SalesOrder = SalesOrder;
}

entity SalesOrderItems {
  key SalesOrder               : String(10);
  key SalesOrderItem           : String(6);
      Material                 : String(40);
      SalesOrderItemText       : String(40);
      RequestedQuantity        : Decimal(15, 3);
      RequestedQuantityUnit    : String(3);
      NetAmount                : Decimal(16, 3);
      SalesDocumentRjcnReason  : String(2);      // set: the item is rejected (a cancellation)
      LastChangeDateTime       : Timestamp;      // the item's ETag (S/4 computes one per item)
}

// API_CUSTOMER_RETURN_SRV: a customer return order with its items, each referring to the sales
// order item it takes back.
entity CustomerReturns {
  key CustomerReturn           : String(10);
      CustomerReturnType       : String(4);
      SalesOrganization        : String(4);
      DistributionChannel      : String(2);
      OrganizationDivision     : String(2);
      SoldToParty              : String(10);
      PurchaseOrderByCustomer  : String(35);
      SDDocumentReason         : String(3);
      TransactionCurrency      : String(5);
      LastChangeDateTime       : Timestamp;
      to_Item                  : Composition of many CustomerReturnItems on to_Item.CustomerReturn = CustomerReturn;
}

entity CustomerReturnItems {
  key CustomerReturn           : String(10);
  key CustomerReturnItem       : String(6);
      Material                 : String(40);
      CustomerReturnItemText   : String(40);
      RequestedQuantity        : Decimal(15, 3);
      ReferenceSDDocument      : String(10);     // the sales order
      ReferenceSDDocumentItem  : String(6);
}

entity Deliveries {
  key DeliveryDocument           : String(10);
      ActualGoodsMovementDate    : Date;
      OverallGoodsMovementStatus : String(1) default 'C';
      BillOfLading               : String(35);   // the carrier's tracking number
      LastChangeDate             : Date;
      to_DeliveryDocumentItem    : Composition of many DeliveryItems
                                     on to_DeliveryDocumentItem.DeliveryDocument = DeliveryDocument;
}

entity DeliveryItems {
  key DeliveryDocument        : String(10);
  key DeliveryDocumentItem    : String(6);
      Material                : String(40);
      ActualDeliveryQuantity  : Decimal(13, 3);
      ReferenceSDDocument     : String(10);     // the sales order
      ReferenceSDDocumentItem : String(6);
}

entity BillingDocuments {
  key BillingDocument      : String(10);
      BillingDocumentType  : String(4);          // F2 invoice, G2 credit memo
      BillingDocumentDate  : Date;
      SoldToParty          : String(10);
      TransactionCurrency  : String(5);
      TotalNetAmount       : Decimal(16, 3);
      TotalTaxAmount       : Decimal(16, 3);
      LastChangeDateTime   : Timestamp;
      to_Item              : Composition of many BillingDocumentItems on to_Item.BillingDocument = BillingDocument;
}

entity BillingDocumentItems {
  key BillingDocument      : String(10);
  key BillingDocumentItem  : String(6);
      Material             : String(40);
      BillingDocumentItemText : String(40);
      BillingQuantity      : Decimal(13, 3);
      NetAmount            : Decimal(16, 3);
      ReferenceSDDocument  : String(10);         // the delivery
      SalesDocument        : String(10);         // the sales order
}
