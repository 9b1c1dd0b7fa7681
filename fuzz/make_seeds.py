#!/usr/bin/env python3
"""Writes the seed corpora of the amazon_order, square_order, square_webhook
and odoo_answer targets (fuzz/corpus/<target>/) from the real payloads: the
connectors' test fixtures (the specs' sandbox cases and examples) and
shared/specs. Odoo publishes no example answers, so its seeds are written
here in the shapes the simulator (connectors/odoo/src/sim) serves.

Run from anywhere: python3 fuzz/make_seeds.py [path/to/shared/specs]
(default: ../shared/specs beside the repository, else /work/shared/specs).
Existing seeds of these targets are replaced.
"""

import gzip
import json
import os
import shutil
import sys

FUZZ = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(FUZZ)
CONNECTORS = os.path.join(REPO, "connectors")


def specs_dir():
    if len(sys.argv) > 1:
        return sys.argv[1]
    beside = os.path.join(REPO, "..", "shared", "specs")
    return beside if os.path.isdir(beside) else "/work/shared/specs"


def load(*path):
    with open(os.path.join(*path), encoding="utf-8") as f:
        return json.load(f)


class Corpus:
    def __init__(self, target):
        self.dir = os.path.join(FUZZ, "corpus", target)
        shutil.rmtree(self.dir, ignore_errors=True)
        os.makedirs(self.dir)
        self.seen = set()

    def write(self, name, value):
        data = value if isinstance(value, bytes) else json.dumps(value).encode()
        if data in self.seen:
            return
        self.seen.add(data)
        with open(os.path.join(self.dir, name), "wb") as f:
            f.write(data)


def amazon(specs):
    c = Corpus("amazon_order")
    sandbox = load(CONNECTORS, "amazon", "tests", "fixtures", "sandbox.json")

    def responses(op, status=200):
        return [k["response"] for k in sandbox[op]["cases"] if k["status"] == status]

    # Every sandbox answer as it comes over the wire.
    for op, spec in sandbox.items():
        if op.startswith("_"):
            continue
        for i, case in enumerate(spec["cases"]):
            if case["response"]:
                c.write(f"sandbox-{op}-{case['status']}-{i}.json", case["response"])
    # The specs' response examples.
    for name in ["ordersV0.json", "listingsItems_2021-08-01.json"]:
        for path, methods in load(specs, "amazon", name)["paths"].items():
            for method, op in methods.items():
                ex = op.get("responses", {}).get("200", {}).get("examples", {})
                for body in ex.values():
                    c.write(f"example-{op['operationId']}.json", body)
    feed = load(specs, "amazon", "schemas", "feeds", "listings-feed-schema-v2.example.json")
    c.write("example-listings-feed.json", feed)
    # A processing report from the schema's field examples, plain and gzipped.
    report = {
        "header": {"sellerId": "A3TH9S8BH6GOGM", "version": "2.0", "feedId": "23492394"},
        "issues": [
            {
                "messageId": 1,
                "sku": "ABC123",
                "code": "ABC123",
                "severity": "ERROR",
                "message": "'[batteries_required]' is required but not supplied.",
                "attributeName": "item_type_name",
            },
            {"severity": "ERROR", "message": "feed-level: the document is not JSON"},
        ],
        "summary": {
            "errors": 1,
            "warnings": 1,
            "messagesProcessed": 1,
            "messagesAccepted": 1,
            "messagesInvalid": 1,
        },
    }
    c.write("report.json", report)
    c.write("report.json.gz", gzip.compress(json.dumps(report).encode(), mtime=0))

    # {"order", "items"} pairs, as the connector stores an order's raw JSON.
    orders = []
    for op in ["getOrder"]:
        orders += [r["payload"] for r in responses(op)]
    for r in responses("getOrders"):
        orders += r["payload"]["Orders"]
    ex = load(specs, "amazon", "ordersV0.json")["paths"]
    orders += ex["/orders/v0/orders"]["get"]["responses"]["200"]["examples"][
        "application/json"
    ]["payload"]["Orders"]
    orders.append(
        ex["/orders/v0/orders/{orderId}"]["get"]["responses"]["200"]["examples"][
            "application/json"
        ]["payload"]
    )
    item_lists = [r["payload"] for r in responses("getOrderItems")]
    item_lists.append(
        ex["/orders/v0/orders/{orderId}/orderItems"]["get"]["responses"]["200"][
            "examples"
        ]["application/json"]["payload"]
    )
    # The reference order: getOrder with its address, buyer and items.
    ref = dict(responses("getOrder")[0]["payload"])
    ref["ShippingAddress"] = responses("getOrderAddress")[0]["payload"]["ShippingAddress"]
    buyer = responses("getOrderBuyerInfo")[0]["payload"]
    ref["BuyerInfo"] = {"BuyerEmail": buyer["BuyerEmail"], "BuyerName": buyer["BuyerName"]}
    c.write("pair-reference.json", {"order": ref, "items": item_lists[0]["OrderItems"]})
    n = 0
    for o in orders:
        for items in [[]] + [l["OrderItems"] for l in item_lists]:
            before = len(c.seen)
            c.write(f"pair-{n:02}.json", {"order": o, "items": items})
            n += len(c.seen) - before
    return c


def square(specs):
    c = Corpus("square_order")
    orders = load(CONNECTORS, "square", "tests", "fixtures", "orders.json")
    for name, order in sorted(orders.items()):
        c.write(f"order-{name}.json", order)
    schemas = load(specs, "square", "api.json")["components"]["schemas"]
    for name in [
        "RetrieveOrderResponse",
        "UpdateOrderResponse",
        "CalculateOrderResponse",
        "BatchRetrieveOrdersResponse",
        "SearchOrdersResponse",
    ]:
        if "example" in schemas.get(name, {}):
            c.write(f"example-{name}.json", schemas[name]["example"])
    c.write(
        "search-all.json",
        {"orders": [orders[k] for k in sorted(orders)], "cursor": "c2"},
    )
    # The spec's examples have no shipping charge, shipment recipient or
    # card tender: an online order in the simulator's shape
    # (connectors/square/src/sim/model.rs to_json), completed and partly
    # refunded, with a measured line with modifiers.
    def money(amount):
        return {"amount": amount, "currency": "USD"}

    online = {
        "id": "SIMORDER0000000000000000001",
        "location_id": "L1SIM0000001",
        "source": {"name": "Square Online"},
        "line_items": [
            {
                "uid": "line-1",
                "name": "Tea",
                "variation_name": "Green",
                "quantity": "2",
                "item_type": "ITEM",
                "catalog_object_id": "2TZFAOHWGG7PAK2QEXWYPZSP",
                "base_price_money": money(1500),
                "variation_total_price_money": money(3000),
                "gross_sales_money": money(3000),
                "total_tax_money": money(266),
                "total_discount_money": money(0),
                "total_money": money(3266),
            },
            {
                "uid": "line-2",
                "name": "Loose leaf",
                "quantity": "1.5",
                "quantity_unit": {"measurement_unit": {"weight_unit": "IMPERIAL_POUND"}},
                "base_price_money": money(1000),
                "modifiers": [
                    {"uid": "mod-1", "name": "Gift wrap", "base_price_money": money(200),
                     "quantity": "1", "total_price_money": money(200)},
                    {"uid": "mod-2", "name": "Sample", "base_price_money": money(50)},
                ],
                "total_tax_money": money(0),
                "total_discount_money": money(100),
                "total_money": money(1600),
            },
        ],
        "service_charges": [
            {
                "uid": "ship-1",
                "name": "Shipping",
                "amount_money": money(599),
                "applied_money": money(599),
                "total_money": money(599),
                "calculation_phase": "TOTAL_PHASE",
                "type": "CUSTOM",
                "scope": "ORDER",
            }
        ],
        "fulfillments": [
            {
                "uid": "ful-1",
                "type": "SHIPMENT",
                "state": "COMPLETED",
                "line_item_application": "ALL",
                "shipment_details": {
                    "recipient": {
                        "display_name": "Jane Doe",
                        "email_address": "jane@example.com",
                        "phone_number": "+1 555 0100",
                        "address": {
                            "address_line_1": "1 Main St",
                            "address_line_2": "Apt 2",
                            "locality": "Springfield",
                            "administrative_district_level_1": "IL",
                            "postal_code": "62701",
                            "country": "US",
                        },
                    },
                    "carrier": "UPS",
                    "tracking_number": "1Z999AA10123456784",
                    "shipping_type": "Standard",
                    "placed_at": "2026-01-01T10:00:00.000Z",
                    "shipped_at": "2026-01-02T10:00:00.000Z",
                },
            },
            {
                "uid": "ful-2",
                "type": "SHIPMENT",
                "state": "CANCELED",
                "line_item_application": "ENTRY_LIST",
                "entries": [{"uid": "e-1", "line_item_uid": "line-1", "quantity": "1"}],
            },
        ],
        "tenders": [
            {"id": "T1", "type": "CARD", "amount_money": money(5465),
             "card_details": {"status": "CAPTURED", "entry_method": "KEYED"}},
            {"id": "T2", "type": "CARD", "amount_money": money(100),
             "card_details": {"status": "VOIDED"}},
        ],
        "refunds": [
            {"id": "R1", "tender_id": "T1", "amount_money": money(599),
             "status": "APPROVED", "reason": "Order canceled"}
        ],
        "created_at": "2026-01-01T10:00:00.000Z",
        "updated_at": "2026-01-02T10:00:00.000Z",
        "closed_at": "2026-01-02T10:00:00.000Z",
        "state": "COMPLETED",
        "version": 4,
        "total_money": money(5465),
        "total_tax_money": money(266),
        "total_discount_money": money(100),
        "total_tip_money": money(0),
        "total_service_charge_money": money(599),
    }
    c.write("sim-online-order.json", online)
    pickup = dict(online, id="SIMORDER0000000000000000002", state="OPEN", refunds=[],
                  tenders=[{"id": "T3", "type": "CARD", "amount_money": money(5465),
                            "card_details": {"status": "AUTHORIZED"}}],
                  fulfillments=[{"uid": "ful-3", "type": "PICKUP", "state": "PROPOSED",
                                 "pickup_details": {"recipient": {"display_name": "Jo"}}},
                                {"uid": "ful-4", "type": "DELIVERY", "state": "COMPLETED",
                                 "line_item_application": "ENTRY_LIST",
                                 "entries": [{"uid": "e-2", "line_item_uid": "line-1", "quantity": "2"}],
                                 "delivery_details": {"courier_provider_name": "DoorDash", "recipient": {
                                     "address": {"first_name": "Jo", "last_name": "Roe",
                                                 "address_line_1": "2 Side St", "sublocality": "Old Town",
                                                 "postal_code": "10115", "country": "DE"}}}}])
    c.write("sim-pickup-order.json", {"order": pickup})
    # Square's error body (api.json documents the shape, with no example).
    c.write(
        "errors.json",
        {
            "errors": [
                {
                    "category": "INVALID_REQUEST_ERROR",
                    "code": "NOT_FOUND",
                    "detail": "Order not found",
                    "field": "order_id",
                }
            ]
        },
    )

    w = Corpus("square_webhook")
    hooks = load(CONNECTORS, "square", "tests", "fixtures", "webhooks.json")
    for name, body in sorted(hooks.items()):
        w.write(f"{name}.json", body)
    return c, w


def rpc(result):
    return {"jsonrpc": "2.0", "id": 1, "result": result}


def rpc_error(code, message, name, text):
    return {
        "jsonrpc": "2.0",
        "id": 1,
        "error": {
            "code": code,
            "message": message,
            "data": {
                "name": name,
                "debug": "Traceback (most recent call last):\n"
                '  File "odoo/service/model.py", in call_kw\n'
                f"{name}: {text}",
                "message": text,
                "arguments": [text],
                "context": {},
            },
        },
    }


def odoo():
    c = Corpus("odoo_answer")
    warehouse = {"id": 1, "code": "WH", "lot_stock_id": [8, "WH/Stock"], "name": "Main"}
    warehouse2 = {"id": 2, "code": "WH2", "lot_stock_id": [18, "WH2/Stock"], "name": "Second"}
    products = [
        {"id": 5, "default_code": "SKU-1"},
        {"id": 6, "default_code": "SKU-2"},
        {"id": 9, "default_code": False},
    ]
    quants = [
        {"id": 21, "product_id": [5, "[SKU-1] Mug"], "location_id": [8, "WH/Stock"], "quantity": 12.0},
        {"id": 22, "product_id": [5, "[SKU-1] Mug"], "location_id": [18, "WH2/Stock"], "quantity": 2.5},
        {"id": 23, "product_id": [6, "[SKU-2] Tea"], "location_id": [8, "WH/Stock"], "quantity": -1.0},
        {"id": 24, "product_id": [9, "Service"], "location_id": [8, "WH/Stock"], "quantity": 3.0},
    ]
    picking = {
        "id": 30,
        "name": "WH/OUT/00001",
        "sale_id": [31, "S00031"],
        "picking_type_id": [32, "Main: Delivery Orders"],
        "move_ids": [33, 34],
        "carrier_id": [35, "DHL Express"],
        "carrier_tracking_ref": "JD014600006281230851",
        "state": "done",
        "write_date": "2026-01-01 10:00:00",
    }
    sale = {"id": 31, "client_order_ref": "chansync-7", "warehouse_id": [1, "Main"]}
    picking_type = {"id": 32, "warehouse_id": [1, "Main"]}
    moves = [
        {"id": 33, "product_id": [5, "[SKU-1] Mug"], "quantity": 2.0, "sale_line_id": [36, "S00031 - Mug"], "state": "done"},
        {"id": 34, "product_id": [6, "[SKU-2] Tea"], "quantity": 1.0, "sale_line_id": [37, "S00031 - Tea"], "state": "done"},
    ]
    lines = [
        # orders.rs line_name: the title, then the tag on its own line.
        {"id": 36, "name": "Mug\n[chansync line line-1]"},
        {"id": 37, "name": "Tea (Green)\n[chansync line line-2]"},
    ]
    # Each model's answer alone, as the connector reads it.
    c.write("warehouses.json", rpc([warehouse, warehouse2]))
    c.write("products.json", rpc(products))
    c.write("quants.json", rpc(quants))
    c.write("pickings.json", rpc([picking, dict(picking, id=40, sale_id=False, carrier_id=False, carrier_tracking_ref=False)]))
    c.write("moves.json", rpc(moves))
    c.write("sale-lines.json", rpc(lines))
    c.write("sale-orders.json", rpc([sale]))
    # The target reads one answer as every model at once: a stock tally and
    # a whole delivery in one list reach the deepest code.
    c.write("stock.json", rpc([warehouse, warehouse2] + products + quants))
    c.write("delivery.json", rpc([picking, sale, picking_type, warehouse] + moves + lines))
    c.write("delivery-json2.json", [picking, sale, picking_type, warehouse] + moves + lines)
    c.write("search.json", rpc([8, 12, 13]))
    c.write("uid.json", rpc(2))
    c.write("login-refused.json", rpc(False))
    c.write("version-17.json", rpc({
        "server_version": "17.0",
        "server_version_info": [17, 0, 0, "final", 0, ""],
        "server_serie": "17.0",
        "protocol_version": 1,
    }))
    c.write("version-saas.json", rpc({"server_version_info": ["saas~18", 3, 0, "final", 0, "e"]}))
    c.write("error-user.json", rpc_error(200, "Odoo Server Error", "odoo.exceptions.UserError", "x"))
    c.write("error-missing.json", rpc_error(
        200, "Odoo Server Error", "odoo.exceptions.MissingError",
        "Record does not exist or has been deleted.\n(Record: sale.order(99,), User: 2)"))
    c.write("error-session.json", rpc_error(100, "Odoo Session Expired", "odoo.http.SessionExpiredException", "Session expired"))
    # JSON-2 error bodies (the simulator's json2_error).
    c.write("json2-error.json", {
        "name": "odoo.exceptions.AccessDenied",
        "message": "Access Denied",
        "arguments": ["Access Denied", 401],
        "context": {},
        "debug": "Traceback (most recent call last):\nodoo.exceptions.AccessDenied: Access Denied",
    })
    c.write("json2-error-text.json", "Invalid JSON data: EOF while parsing")
    c.write("html-error.txt", b"<html><body><h1>502 Bad Gateway</h1></body></html>\n")
    # Saved shipment cursors.
    c.write("cursor.json", {"write_date": "2026-01-01 10:00:00", "ids": [1, 2]})
    c.write("cursor-empty.json", {"write_date": None, "ids": []})
    return c


def main():
    specs = specs_dir()
    made = [amazon(specs), *square(specs), odoo()]
    for c in made:
        print(f"{os.path.relpath(c.dir, REPO)}: {len(os.listdir(c.dir))} seeds")


if __name__ == "__main__":
    main()
