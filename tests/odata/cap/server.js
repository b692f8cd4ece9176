// The OData test ERP's server (picked up by `cds serve` from the project root): CAP bound to
// 127.0.0.1 only, with what CAP does not do itself but the real systems do, in front of it:
// SAP Gateway's CSRF tokens on /sap/opu/odata, Business Central's OAuth 2 bearer tokens (a
// client-credentials token endpoint at /oauth2/token) and its throttling (429 + Retry-After,
// switched on by POST /control), the billing PDFs (S/4's GetPDF function import, BC's
// pdfDocument/pdfDocumentContent of an invoice) and the S/4 and BC business rules erpbridge relies on.
const cds = require('@sap/cds')
const express = require('express')
const crypto = require('crypto')

const CLIENT = { id: 'erpbridge-bc', secret: 'bc-secret' }
const USER = 'Basic ' + Buffer.from('erpbridge:secret').toString('base64')
const state = { throttle: 0, retryAfter: 1, tokens: new Set(), csrf: new Set() }

function csrf (req, res, next) {   // SAP Gateway: fetch a token with a GET, send it on every write
  if (req.method === 'GET' || req.method === 'HEAD') {
    if ((req.get('x-csrf-token') || '').toLowerCase() === 'fetch') {
      const token = crypto.randomBytes(12).toString('base64')
      state.csrf.add(token)
      res.set('x-csrf-token', token)
      res.cookie('SAP_SESSIONID_ERP_100', token, { httpOnly: true })   // the session the token belongs to
    }
    return next()
  }
  const token = req.get('x-csrf-token')
  const cookie = (req.get('cookie') || '').includes(`SAP_SESSIONID_ERP_100=${encodeURIComponent(token)}`)
  if (!token || !state.csrf.has(token) || !cookie) {
    return res.status(403).set('x-csrf-token', 'Required').type('text/plain').send('CSRF token validation failed')
  }
  next()
}

function bearer (req, res, next) {   // Business Central: an Entra token, then throttling
  const token = (req.get('authorization') || '').replace(/^Bearer /, '')
  if (!state.tokens.has(token)) {
    return res.status(401).set('WWW-Authenticate', 'Bearer').json({ error: { code: 'Unauthorized', message: 'The credentials provided are incorrect' } })
  }
  if (state.throttle > 0) {
    state.throttle--
    return res.status(429).set('Retry-After', String(state.retryAfter))
      .json({ error: { code: 'Application_TooManyRequests', message: 'Too many requests reached.' } })
  }
  req.headers.authorization = USER
  next()
}

function token (req, res) {
  const [id, secret] = Buffer.from((req.get('authorization') || '').replace(/^Basic /, ''), 'base64').toString().split(':')
  if (req.body.grant_type !== 'client_credentials' || decodeURIComponent(id) !== CLIENT.id || decodeURIComponent(secret) !== CLIENT.secret) {
    return res.status(401).json({ error: 'invalid_client', error_description: 'AADSTS7000215: Invalid client secret provided.' })
  }
  const value = crypto.randomBytes(24).toString('hex')
  state.tokens.add(value)
  res.json({ token_type: 'Bearer', expires_in: 3599, access_token: value })
}

function pdf (number) {   // what the ERP renders a billing document as
  return Buffer.from(`%PDF-1.4\n% erpbridge test ERP: invoice ${number}\n%%EOF\n`)
}

function documents (app) {   // the PDFs: S/4's GetPDF function import (v2), BC's pdfDocument of an invoice
  app.get('/sap/opu/odata/sap/API_BILLING_DOCUMENT_SRV/GetPDF', async (req, res) => {
    if (req.get('authorization') !== USER) return res.status(401).set('WWW-Authenticate', 'Basic realm="SAP"').end()
    const number = String(req.query.BillingDocument || '').replace(/^'|'$/g, '')
    const found = await SELECT.one.from('s4.BillingDocuments').where({ BillingDocument: number })
    if (!found) return res.status(404).json({ error: { code: 'BILLING/001', message: { lang: 'en', value: `Billing document ${number} does not exist` } } })
    res.json({ d: { GetPDF: { BillingDocumentBinary: pdf(number).toString('base64') } } })
  })
  app.get(/^\/api\/v2\.0\/companies\(([-0-9a-f]+)\)\/salesInvoices\(([-0-9a-f]+)\)\/pdfDocument\/pdfDocumentContent$/, async (req, res) => {
    const found = await SELECT.one.from('bc.salesInvoices').where({ id: req.params[1], company_id: req.params[0] })
    if (!found) return res.status(404).json({ error: { code: 'BadRequest_NotFound', message: 'The specified resource was not found.' } })
    res.type('application/pdf').send(pdf(found.number))
  })
}

function rules () {   // the business rules of the real systems that erpbridge relies on
  cds.on('served', async (services) => {
    const { s4, bc } = { s4: cds.entities('s4'), bc: cds.entities('bc') }
    let order = 1000000, bcOrder = 101000
    services.API_SALES_ORDER_SRV.before('CREATE', 'A_SalesOrder', async (req) => {
      const items = req.data.to_Item?.results ?? req.data.to_Item ?? []
      if (req.data.to_Item?.results) req.data.to_Item = items
      for (const item of items) {
        if (!await SELECT.one.from(s4.Products).where({ Product: item.Material })) {
          return req.reject(400, `Material ${item.Material} does not exist`, 'Material')
        }
      }
      req.data.SalesOrder = String(++order)
      items.forEach((item, i) => { item.SalesOrderItem = item.SalesOrderItem || String((i + 1) * 10) })
      req.data.TotalNetAmount = items.reduce((sum, i) => sum + Number(i.NetAmount || 0), 0)
    })
    services.ErpPeople.after('CREATE', 'S4Deliveries', async (delivery) => {   // S/4 keeps the order's status
      for (const ref of new Set(delivery.to_DeliveryDocumentItem.map(i => i.ReferenceSDDocument))) {
        const services = (await SELECT.from(s4.Products).where({ ProductType: 'DIEN' })).map(p => p.Product)
        const ordered = (await SELECT.from(s4.SalesOrderItems).where({ SalesOrder: ref }))
          .filter(item => !services.includes(item.Material))   // services (freight) are not delivered
        const shipped = await SELECT.from(s4.DeliveryItems).where({ ReferenceSDDocument: ref })
        const open = ordered.some(item => shipped.filter(s => s.Material === item.Material)
          .reduce((sum, s) => sum + Number(s.ActualDeliveryQuantity), 0) < Number(item.RequestedQuantity))
        await UPDATE(s4.SalesOrders, ref).with({ OverallDeliveryStatus: open ? 'B' : 'C' })
      }
    })
    services.API_SALES_ORDER_SRV.before('UPDATE', 'A_SalesOrderItem', async (req) => {   // rejection = cancel
      if (!req.data.SalesDocumentRjcnReason) return
      const { SalesOrder, SalesOrderItem } = req.data
      const item = await SELECT.one.from(s4.SalesOrderItems).where({ SalesOrder, SalesOrderItem })
      const delivered = item && await SELECT.one.from(s4.DeliveryItems)
        .where({ ReferenceSDDocument: SalesOrder, Material: item.Material })
      if (delivered) return req.reject(400, `Item ${SalesOrderItem} of sales order ${SalesOrder} is already delivered; it cannot be rejected`, 'SalesDocumentRjcnReason')
    })
    services.API_SALES_ORDER_SRV.after('UPDATE', 'A_SalesOrderItem', async (_, req) => {   // the header's status
      const items = await SELECT.from(s4.SalesOrderItems).where({ SalesOrder: req.data.SalesOrder })
      const rejected = items.filter(i => i.SalesDocumentRjcnReason).length
      await UPDATE(s4.SalesOrders, req.data.SalesOrder)
        .with({ OverallSDDocumentRejectionSts: rejected === 0 ? 'A' : rejected < items.length ? 'B' : 'C' })
    })
    services.ErpPeople.after('CREATE', 'salesShipments', async (shipment) => {   // BC posts the shipped quantities
      const order = await SELECT.one.from(bc.salesOrders).where({ number: shipment.orderNumber })
      if (!order) return
      const lines = await SELECT.from(bc.salesOrderLines).where({ documentId: order.id })
      for (const shipped of shipment.salesShipmentLines ?? []) {
        const line = lines.find(l => l.lineType === shipped.lineType && l.lineObjectNumber === shipped.lineObjectNumber)
        if (line) {
          line.shippedQuantity = Number(line.shippedQuantity || 0) + Number(shipped.quantity)
          await UPDATE(bc.salesOrderLines, line.id).with({ shippedQuantity: line.shippedQuantity })
        }
      }
      const fullyShipped = lines.filter(l => l.lineType === 'Item').every(l => Number(l.shippedQuantity || 0) >= Number(l.quantity))
      await UPDATE(bc.salesOrders, order.id).with({ fullyShipped })
    })
    let partner = 17200000
    services.API_BUSINESS_PARTNER.before('CREATE', 'A_BusinessPartner', (req) => {   // S/4 numbers partners
      const d = req.data
      for (const nav of ['to_BusinessPartnerAddress']) if (d[nav]?.results) d[nav] = d[nav].results
      if (d.to_Customer?.to_CustomerSalesArea?.results) d.to_Customer.to_CustomerSalesArea = d.to_Customer.to_CustomerSalesArea.results
      if (!d.OrganizationBPName1 && !d.LastName) return req.reject(400, 'Enter a last name or an organization name', 'LastName')
      d.BusinessPartner = String(++partner)
      d.BusinessPartnerFullName = d.OrganizationBPName1 || [d.FirstName, d.LastName].filter(Boolean).join(' ')
      d.LastChangeDate = new Date().toISOString().slice(0, 10)
      ;(d.to_BusinessPartnerAddress ?? []).forEach((a, i) => { a.AddressID = a.AddressID || String(i + 1) })
      if (d.to_Customer) d.to_Customer.CustomerName = d.BusinessPartnerFullName
    })
    let returns = 60000000
    services.API_CUSTOMER_RETURN_SRV.before('CREATE', 'A_CustomerReturn', async (req) => {
      const items = req.data.to_Item?.results ?? req.data.to_Item ?? []
      if (req.data.to_Item?.results) req.data.to_Item = items
      for (const item of items) {
        if (!await SELECT.one.from(s4.SalesOrderItems).where({ SalesOrder: item.ReferenceSDDocument, SalesOrderItem: item.ReferenceSDDocumentItem })) {
          return req.reject(400, `Reference document ${item.ReferenceSDDocument} item ${item.ReferenceSDDocumentItem} does not exist`, 'ReferenceSDDocument')
        }
      }
      req.data.CustomerReturn = String(++returns)
      items.forEach((item, i) => { item.CustomerReturnItem = item.CustomerReturnItem || String((i + 1) * 10) })
    })
    services['Microsoft.NAV'].before('DELETE', 'salesOrders', async (req) => {   // BC: a shipped order stays
      const order = await SELECT.one.from(bc.salesOrders).where({ id: req.data.id })
      if (order && await SELECT.one.from(bc.salesShipments).where({ orderNumber: order.number })) {
        return req.reject(400, `You cannot delete Order ${order.number} because it has been shipped.`)
      }
    })
    let posted = 102000
    services['Microsoft.NAV'].on('shipAndInvoice', 'salesOrders', async (req) => {   // post: ship, invoice, delete
      const key = req.params[req.params.length - 1]   // below companies(<id>): the last key is the order's
      const order = await SELECT.one.from(bc.salesOrders).where({ id: key.id ?? key })
      if (!order) return req.reject(404, 'The specified resource was not found.')
      const lines = await SELECT.from(bc.salesOrderLines).where({ documentId: order.id })
      const n = ++posted, today = new Date().toISOString().slice(0, 10)
      const common = { company_id: order.company_id, externalDocumentNumber: order.externalDocumentNumber, orderNumber: order.number }
      await INSERT.into(bc.salesShipments).entries({ id: cds.utils.uuid(), ...common, number: `S-SHP${n}`, postingDate: today,
        salesShipmentLines: lines.filter(l => l.lineType === 'Item').map(l => ({ id: cds.utils.uuid(), sequence: l.sequence, lineType: l.lineType, lineObjectNumber: l.lineObjectNumber, quantity: l.quantity })) })
      const gross = lines.reduce((s, l) => s + Number(l.quantity) * Number(l.unitPrice), 0)
      await INSERT.into(bc.salesInvoices).entries({ id: cds.utils.uuid(), ...common, number: `S-INV${n}`, customerNumber: order.customerNumber,
        invoiceDate: today, currencyCode: order.currencyCode, totalAmountIncludingTax: gross, totalAmountExcludingTax: gross, totalTaxAmount: 0,
        salesInvoiceLines: lines.map(l => ({ id: cds.utils.uuid(), sequence: l.sequence, lineType: l.lineType, lineObjectNumber: l.lineObjectNumber, description: l.description, quantity: l.quantity, amountIncludingTax: Number(l.quantity) * Number(l.unitPrice) })) })
      await DELETE.from(bc.salesOrderLines).where({ documentId: order.id })
      await DELETE.from(bc.salesOrders).where({ id: order.id })
    })
    let creditMemo = 104000
    services['Microsoft.NAV'].before('CREATE', 'salesCreditMemos', async (req) => {
      for (const line of req.data.salesCreditMemoLines ?? []) {
        if (line.lineType === 'Item' && !await SELECT.one.from(bc.items).where({ number: line.lineObjectNumber })) {
          return req.reject(400, `The field No. of table Sales Line contains a value (${line.lineObjectNumber}) that cannot be found in the related table (Item).`, 'lineObjectNumber')
        }
      }
      req.data.number = `S-CR${++creditMemo}`
    })
    services['Microsoft.NAV'].before('CREATE', 'salesOrders', async (req) => {
      for (const line of req.data.salesOrderLines ?? []) {
        if (line.lineType === 'Item' && !await SELECT.one.from(bc.items).where({ number: line.lineObjectNumber })) {
          return req.reject(400, `The field No. of table Sales Line contains a value (${line.lineObjectNumber}) that cannot be found in the related table (Item).`, 'lineObjectNumber')
        }
      }
      req.data.number = `S-ORD${++bcOrder}`
      req.data.totalAmountIncludingTax = (req.data.salesOrderLines ?? []).reduce((s, l) => s + Number(l.quantity) * Number(l.unitPrice), 0)
    })
  })
}

module.exports = async (options) => {
  const app = express()
  const listen = app.listen.bind(app)
  app.listen = (port, ...rest) => listen(port, '127.0.0.1', ...rest)   // cds.server listens on all interfaces
  app.post('/oauth2/token', express.urlencoded({ extended: false }), token)
  app.post('/control', express.json(), (req, res) => {   // the tests' switches
    if (req.body.throttle !== undefined) Object.assign(state, { throttle: req.body.throttle, retryAfter: req.body.retryAfter ?? 1 })
    if (req.body.expireSessions) state.csrf.clear()   // SAP ended every session: their tokens are void
    res.json({ throttle: state.throttle })
  })
  app.use(['/sap/opu/odata', '/odata/v4'], csrf)   // S/4's v2 services, and its v4 ones
  app.use('/api', bearer)
  documents(app)
  rules()
  options.app = app
  return cds.server(options)
}
