//! The database a simulator starts with: one company (EUR, Belgium), the
//! API user, currencies and pricelists, countries and some of their
//! states, carriers, two warehouses ("WH" and "WH2", each a view location
//! over a stock location with a shelf below it, and a delivery operation
//! type), the product catalogue (its internal references are the Shopify
//! simulator's SKUs, so a demo shares stock) and seeded quants.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};

use crate::sim::db::{Db, Record};
use crate::sim::world::clock;

/// (internal reference, name, list price in EUR cents).
const PRODUCTS: &[(&str, &str, i64)] = &[
    ("SKU-MUG-1", "Ceramic Mug (Ocean Blue)", 1800),
    ("SKU-MUG-2", "Ceramic Mug (Forest Green)", 1800),
    ("SKU-TEE-1", "Organic Cotton T-Shirt (S)", 2900),
    ("SKU-TEE-2", "Organic Cotton T-Shirt (M)", 2900),
    ("SKU-TEE-3", "Organic Cotton T-Shirt (L)", 2900),
    ("SKU-HOODIE-1", "Heavyweight Hoodie (M)", 6500),
    ("SKU-HOODIE-2", "Heavyweight Hoodie (L)", 6500),
    ("SKU-CAP-1", "Canvas Cap", 2400),
    ("SKU-SOCKS-1", "Merino Socks (3-pack) (39–42)", 1900),
    ("SKU-BEANIE-1", "Rib Knit Beanie", 2200),
    ("SKU-TOTE-1", "Canvas Tote Bag", 1600),
    ("SKU-BOTTLE-1", "Insulated Bottle (500 ml)", 3200),
    ("SKU-BOTTLE-2", "Insulated Bottle (750 ml)", 3600),
    ("SKU-COFFEE-1", "Café Crème Beans (250 g)", 1450),
    ("SKU-COFFEE-2", "Café Crème Beans (1 kg)", 4200),
    ("SKU-TEA-1", "Sencha Green Tea 煎茶", 1200),
    ("SKU-CANDLE-1", "Soy Candle (Fig)", 2600),
    ("SKU-CANDLE-2", "Soy Candle (Cedar)", 2600),
    ("SKU-NOTEBOOK-1", "Dot Grid Notebook (A5)", 1400),
    ("SKU-PEN-1", "Brass Pen", 4800),
    ("SKU-WALLET-1", "Leather Wallet (Tan)", 7900),
    ("SKU-BELT-1", "Leather Belt (90 cm)", 5900),
    ("SKU-SCARF-1", "Wool Scarf", 4500),
    ("SKU-GLOVES-1", "Touchscreen Gloves (M)", 2700),
    ("SKU-LAMP-1", "Desk Lamp", 8900),
    ("SKU-PLANTER-1", "Ceramic Planter (Small)", 2100),
    ("SKU-PLANTER-2", "Ceramic Planter (Large)", 3900),
    ("SKU-THROW-1", "Alpaca Throw", 12900),
    ("SKU-CUSHION-1", "Linen Cushion Cover (Natural)", 3400),
    ("SKU-SOAP-1", "Olive Oil Soap", 800),
    ("SKU-SHAMPOO-1", "Solid Shampoo Bar", 1300),
    ("SKU-TOWEL-1", "Waffle Towel (Sand)", 2800),
    ("SKU-APRON-1", "Denim Apron", 3800),
    ("SKU-KNIFE-1", "Chef's Knife (20 cm)", 11900),
    ("SKU-BOARD-1", "Walnut Cutting Board", 6900),
    ("SKU-PUZZLE-1", "Jigsaw Puzzle (1000 pcs)", 2500),
    ("SKU-CARDS-1", "Playing Cards", 1200),
    ("SKU-DECK-1", "Skateboard Deck (8.25\")", 5900),
    ("SKU-HEADPHONES-1", "Wireless Headphones", 14900),
    ("SKU-CHARGER-1", "USB-C Charger (65 W)", 3900),
    ("SKU-CABLE-1", "Braided Cable (2 m)", 1500),
];

/// A retired product: archived, but still holding stock.
pub(crate) const RETIRED_SKU: &str = "SKU-RETIRED-1";
/// A service: sold, never stocked.
pub(crate) const SERVICE_SKU: &str = "SVC-GIFTWRAP";
/// A consumable whose stock Odoo does not track.
pub(crate) const UNTRACKED_SKU: &str = "SKU-BAG-1";

/// (ISO code, name) of every country seeded.
const COUNTRIES: &[(&str, &str)] = &[
    ("AT", "Austria"),
    ("AU", "Australia"),
    ("BE", "Belgium"),
    ("BR", "Brazil"),
    ("CA", "Canada"),
    ("CH", "Switzerland"),
    ("CN", "China"),
    ("CZ", "Czech Republic"),
    ("DE", "Germany"),
    ("DK", "Denmark"),
    ("ES", "Spain"),
    ("FI", "Finland"),
    ("FR", "France"),
    ("GB", "United Kingdom"),
    ("IE", "Ireland"),
    ("IN", "India"),
    ("IT", "Italy"),
    ("JP", "Japan"),
    ("KR", "South Korea"),
    ("LU", "Luxembourg"),
    ("MX", "Mexico"),
    ("NL", "Netherlands"),
    ("NO", "Norway"),
    ("NZ", "New Zealand"),
    ("PL", "Poland"),
    ("PT", "Portugal"),
    ("SE", "Sweden"),
    ("SG", "Singapore"),
    ("US", "United States"),
];

/// (country, state code, name).
const STATES: &[(&str, &str, &str)] = &[
    ("US", "CA", "California"),
    ("US", "IL", "Illinois"),
    ("US", "NY", "New York"),
    ("US", "TX", "Texas"),
    ("CA", "ON", "Ontario"),
    ("CA", "QC", "Quebec"),
    ("AU", "NSW", "New South Wales"),
    ("AU", "VIC", "Victoria"),
    ("BR", "RJ", "Rio de Janeiro"),
    ("BR", "SP", "São Paulo"),
    ("CH", "GE", "Genève"),
    ("CH", "ZH", "Zürich"),
    ("JP", "JP-13", "Tokyo"),
    ("JP", "JP-23", "Aichi"),
    ("JP", "JP-27", "Osaka"),
];

/// (code, symbol, rounding, active, has a pricelist).
const CURRENCIES: &[(&str, &str, f64, bool, bool)] = &[
    ("EUR", "€", 0.01, true, true),
    ("USD", "$", 0.01, true, true),
    ("GBP", "£", 0.01, true, true),
    ("JPY", "¥", 1.0, true, true),
    ("BRL", "R$", 0.01, true, true),
    ("PLN", "zł", 0.01, true, true),
    ("CAD", "$", 0.01, true, true),
    ("CHF", "CHF", 0.01, true, true),
    ("AUD", "$", 0.01, true, true),
    // Active but without a pricelist, and not active at all.
    ("SEK", "kr", 0.01, true, false),
    ("DKK", "kr", 0.01, false, false),
];

const CARRIERS: &[&str] = &["DHL Express", "UPS Standard", "bpost"];

/// Two warehouses: (code, name).
pub(crate) const WAREHOUSES: &[(&str, &str)] =
    &[("WH", "Main Warehouse"), ("WH2", "Antwerp Annex")];

fn rec(v: Value) -> Record {
    match v {
        Value::Object(m) => m,
        _ => Record::new(),
    }
}

/// The seeded database and its company id. With
/// `odoo17`, storable products have type `product`, as before Odoo 18;
/// otherwise they are `consu` with `is_storable`.
pub(crate) fn seed(
    seed: u64,
    frozen: Option<chrono::DateTime<chrono::Utc>>,
    odoo17: bool,
) -> (Db, i64) {
    let storable = if odoo17 { "product" } else { "consu" };
    let mut db = Db::new();
    let t = clock(frozen);
    let add = |db: &mut Db, model: &str, v: Value| db.insert(model, rec(v), &t);

    let mut currency_ids = Vec::new();
    for (code, symbol, rounding, active, _) in CURRENCIES {
        let id = add(
            &mut db,
            "res.currency",
            json!({"name": code, "symbol": symbol, "rounding": rounding, "active": active}),
        );
        currency_ids.push(id);
    }
    let eur = currency_ids[0];
    let mut country_of = std::collections::BTreeMap::new();
    for (code, name) in COUNTRIES {
        let id = add(&mut db, "res.country", json!({"name": name, "code": code}));
        country_of.insert(*code, id);
    }
    for (country, code, name) in STATES {
        add(
            &mut db,
            "res.country.state",
            json!({"name": name, "code": code, "country_id": country_of[country]}),
        );
    }
    let company = add(
        &mut db,
        "res.company",
        json!({"name": "chansync Demo Company", "currency_id": eur, "country_id": country_of["BE"]}),
    );
    add(
        &mut db,
        "res.users",
        json!({"name": "OdooBot", "login": "__system__", "company_id": company}),
    );
    add(
        &mut db,
        "res.users",
        json!({"name": "chansync API", "login": "api", "company_id": company}),
    );
    add(
        &mut db,
        "res.partner",
        json!({"name": "chansync Demo Company", "type": "contact", "active": true, "company_id": company, "country_id": country_of["BE"], "city": "Brussels", "street": "Rue de la Loi 16", "zip": "1000", "email": "info@demo.example.com"}),
    );
    add(
        &mut db,
        "res.partner",
        json!({"name": "Azure Interior", "type": "contact", "active": true, "email": "azure.interior24@example.com", "city": "Fremont", "country_id": country_of["US"]}),
    );
    for (i, (code, _, _, _, pricelist)) in CURRENCIES.iter().enumerate() {
        if *pricelist {
            let name = if *code == "EUR" {
                "Default".to_owned()
            } else {
                format!("{code} prices")
            };
            add(
                &mut db,
                "product.pricelist",
                json!({"name": name, "currency_id": currency_ids[i], "company_id": false, "active": true}),
            );
        }
    }
    for name in CARRIERS {
        add(
            &mut db,
            "delivery.carrier",
            json!({"name": name, "active": true}),
        );
    }

    let physical = add(
        &mut db,
        "stock.location",
        json!({"name": "Physical Locations", "usage": "view", "active": true}),
    );
    let partners = add(
        &mut db,
        "stock.location",
        json!({"name": "Partners", "usage": "view", "active": true}),
    );
    let customers = add(
        &mut db,
        "stock.location",
        json!({"name": "Customers", "usage": "customer", "location_id": partners, "active": true}),
    );
    add(
        &mut db,
        "stock.location",
        json!({"name": "Vendors", "usage": "supplier", "location_id": partners, "active": true}),
    );
    let mut stocks = Vec::new();
    for (code, name) in WAREHOUSES {
        let wh = add(
            &mut db,
            "stock.warehouse",
            json!({"name": name, "code": code, "company_id": company, "active": true}),
        );
        let view = add(
            &mut db,
            "stock.location",
            json!({"name": code, "usage": "view", "location_id": physical, "warehouse_id": wh, "company_id": company, "active": true}),
        );
        let stock = add(
            &mut db,
            "stock.location",
            json!({"name": "Stock", "usage": "internal", "location_id": view, "warehouse_id": wh, "company_id": company, "active": true}),
        );
        let shelf = add(
            &mut db,
            "stock.location",
            json!({"name": "Shelf 1", "usage": "internal", "location_id": stock, "warehouse_id": wh, "company_id": company, "active": true}),
        );
        add(
            &mut db,
            "stock.picking.type",
            json!({"name": "Receipts", "code": "incoming", "sequence_code": "IN", "warehouse_id": wh, "default_location_dest_id": stock, "active": true}),
        );
        let out = add(
            &mut db,
            "stock.picking.type",
            json!({"name": "Delivery Orders", "code": "outgoing", "sequence_code": "OUT", "warehouse_id": wh, "default_location_src_id": stock, "default_location_dest_id": customers, "active": true}),
        );
        db.update(
            "stock.warehouse",
            wh,
            rec(json!({"view_location_id": view, "lot_stock_id": stock, "out_type_id": out})),
            &t,
        );
        stocks.push((stock, shelf));
    }

    let mut products = Vec::new();
    for (code, name, cents) in PRODUCTS {
        products.push(add(&mut db, "product.product", json!({"name": name, "default_code": code, "type": storable, "is_storable": true, "list_price": *cents as f64 / 100.0, "active": true})));
    }
    products.push(add(&mut db, "product.product", json!({"name": "Retired Enamel Pin", "default_code": RETIRED_SKU, "type": storable, "is_storable": true, "list_price": 9.0, "active": false})));
    // Stock without an internal reference: counted by Odoo, invisible to chansync.
    products.push(add(&mut db, "product.product", json!({"name": "Sample Kit", "type": storable, "is_storable": true, "list_price": 0.0, "active": true})));
    add(
        &mut db,
        "product.product",
        json!({"name": "Gift Wrapping", "default_code": SERVICE_SKU, "type": "service", "is_storable": false, "list_price": 5.0, "active": true}),
    );
    add(
        &mut db,
        "product.product",
        json!({"name": "Paper Bag", "default_code": UNTRACKED_SKU, "type": "consu", "is_storable": false, "list_price": 0.2, "active": true}),
    );

    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    for product in products {
        for (stock, shelf) in &stocks {
            if rng.gen_bool(0.2) {
                continue;
            }
            let total: i64 = rng.gen_range(1..=40);
            let on_shelf = if rng.gen_bool(0.25) {
                rng.gen_range(0..=total)
            } else {
                0
            };
            for (loc, qty) in [(*stock, total - on_shelf), (*shelf, on_shelf)] {
                if qty > 0 {
                    add(
                        &mut db,
                        "stock.quant",
                        json!({"product_id": product, "location_id": loc, "quantity": qty as f64, "reserved_quantity": 0.0}),
                    );
                }
            }
        }
    }
    (db, company)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_stock() {
        let quants = |s| {
            let (db, _) = seed(s, None, false);
            db.ids("stock.quant")
                .into_iter()
                .map(|q| {
                    (
                        db.raw("stock.quant", q, "product_id"),
                        db.raw("stock.quant", q, "location_id"),
                        db.raw("stock.quant", q, "quantity"),
                    )
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(quants(3), quants(3));
        assert_ne!(quants(3), quants(4));
    }
}
