// Business Central's API v2.0 entities as its API pages name them (microsoft/BCApps:
// Apps/W1/APIV2/app/src/pages/APIV2*.Page.al): company-scoped, keyed by a GUID `id`, stamped with
// `lastModifiedDateTime`. The fields erpbridge reads and writes; written by hand from those pages.
namespace bc;

entity companies {
  key id          : UUID;
      name        : String(30);
      displayName : String(250);
      items           : Composition of many items on items.company = $self;
      customers       : Composition of many customers on customers.company = $self;
      salesOrders     : Composition of many salesOrders on salesOrders.company = $self;
      salesShipments  : Composition of many salesShipments on salesShipments.company = $self;
      salesInvoices   : Composition of many salesInvoices on salesInvoices.company = $self;
      salesCreditMemos : Composition of many salesCreditMemos on salesCreditMemos.company = $self;
}

entity items {
  key id                    : UUID;
      company               : Association to companies;
      number                : String(20);
      displayName           : String(100);
      type                  : String(20) default 'Inventory';
      itemCategoryCode      : String(20);
      baseUnitOfMeasureCode : String(10) default 'PCS';
      gtin                  : String(14);
      unitPrice             : Decimal(16, 2);
      inventory             : Decimal(16, 2);
      blocked               : Boolean default false;
      lastModifiedDateTime  : Timestamp;
}

entity customers {
  key id                   : UUID;
      company              : Association to companies;
      number               : String(20);
      displayName          : String(100);
      email                : String(80);
      addressLine1         : String(100);
      city                 : String(30);
      postalCode           : String(20);
      country              : String(10);
      currencyCode         : String(10);
      blocked              : String(10) default '';
      lastModifiedDateTime : Timestamp;
}

entity salesOrders {
  key id                      : UUID;
      company                 : Association to companies;
      number                  : String(20);
      externalDocumentNumber  : String(35);
      orderDate               : Date;
      customerNumber          : String(20);
      currencyCode            : String(10);
      totalAmountIncludingTax : Decimal(16, 2);
      status                  : String(20) default 'Open';
      fullyShipped            : Boolean default false;
      lastModifiedDateTime    : Timestamp;
      salesOrderLines         : Composition of many salesOrderLines on salesOrderLines.documentId = id;
}

entity salesOrderLines {
  key id               : UUID;
      documentId       : UUID;
      sequence         : Integer;
      lineType         : String(20);   // Item, Account, Charge, Comment...
      lineObjectNumber : String(20);
      description      : String(100);
      quantity         : Decimal(16, 5);
      unitPrice        : Decimal(16, 5);
      shippedQuantity  : Decimal(16, 5) default 0;
}

entity salesShipments {
  key id                     : UUID;
      company                : Association to companies;
      number                 : String(20);
      externalDocumentNumber : String(35);
      orderNumber            : String(20);
      postingDate            : Date;
      packageTrackingNumber  : String(30);   // an API page extension: the standard page has none
      lastModifiedDateTime   : Timestamp;
      salesShipmentLines     : Composition of many salesShipmentLines on salesShipmentLines.documentId = id;
}

entity salesShipmentLines {
  key id               : UUID;
      documentId       : UUID;
      sequence         : Integer;
      lineType         : String(20);
      lineObjectNumber : String(20);
      quantity         : Decimal(16, 5);
}

entity salesInvoices {
  key id                      : UUID;
      company                 : Association to companies;
      number                  : String(20);
      externalDocumentNumber  : String(35);
      orderNumber             : String(20);
      customerNumber          : String(20);
      invoiceDate             : Date;
      currencyCode            : String(10);
      totalAmountExcludingTax : Decimal(16, 2);
      totalTaxAmount          : Decimal(16, 2);
      totalAmountIncludingTax : Decimal(16, 2);
      status                  : String(20) default 'Open';
      lastModifiedDateTime    : Timestamp;
      salesInvoiceLines       : Composition of many salesInvoiceLines on salesInvoiceLines.documentId = id;
}

entity salesInvoiceLines {
  key id                 : UUID;
      documentId         : UUID;
      sequence           : Integer;
      lineType           : String(20);
      lineObjectNumber   : String(20);
      description        : String(100);
      quantity           : Decimal(16, 5);
      amountIncludingTax : Decimal(16, 2);
}

entity salesCreditMemos {
  key id                      : UUID;
      company                 : Association to companies;
      number                  : String(20);
      externalDocumentNumber  : String(35);
      creditMemoDate          : Date;
      customerNumber          : String(20);
      invoiceId               : UUID;
      invoiceNumber           : String(20);
      currencyCode            : String(10);
      totalAmountIncludingTax : Decimal(16, 2);
      status                  : String(20) default 'Draft';
      lastModifiedDateTime    : Timestamp;
      salesCreditMemoLines    : Composition of many salesCreditMemoLines on salesCreditMemoLines.documentId = id;
}

entity salesCreditMemoLines {
  key id               : UUID;
      documentId       : UUID;
      sequence         : Integer;
      lineType         : String(20);
      lineObjectNumber : String(20);
      description      : String(100);
      quantity         : Decimal(16, 5);
      unitPrice        : Decimal(16, 5);
      amountIncludingTax : Decimal(16, 2);
}
