//! The fixed data generated orders are drawn from: the seller's Amazon
//! catalogue (most SKUs are the Shopify simulator's, so a demo can share one
//! stock between both channels; two are Amazon-only bundles), buyer names,
//! and per marketplace the tax rate, exchange rate and a few addresses.

/// A product the seller lists on Amazon. Prices are in US cents and
/// converted per marketplace.
pub(crate) struct Product {
    pub sku: &'static str,
    pub title: &'static str,
    pub product_type: &'static str,
    pub usd_cents: i64,
}

const fn p(
    sku: &'static str,
    title: &'static str,
    product_type: &'static str,
    usd_cents: i64,
) -> Product {
    Product {
        sku,
        title,
        product_type,
        usd_cents,
    }
}

pub(crate) const PRODUCTS: &[Product] = &[
    p("SKU-MUG-1", "Ceramic Mug, Ocean Blue", "DRINKING_CUP", 1800),
    p(
        "SKU-MUG-2",
        "Ceramic Mug, Forest Green",
        "DRINKING_CUP",
        1800,
    ),
    p("SKU-TEE-1", "Organic Cotton T-Shirt, S", "SHIRT", 2900),
    p("SKU-TEE-2", "Organic Cotton T-Shirt, M", "SHIRT", 2900),
    p("SKU-TEE-3", "Organic Cotton T-Shirt, L", "SHIRT", 2900),
    p("SKU-HOODIE-1", "Heavyweight Hoodie, M", "SWEATSHIRT", 6500),
    p("SKU-CAP-1", "Canvas Cap", "HAT", 2400),
    p("SKU-SOCKS-1", "Merino Socks (3-pack), 39–42", "SOCKS", 1900),
    p("SKU-BEANIE-1", "Rib Knit Beanie", "HAT", 2200),
    p(
        "SKU-TOTE-1",
        "Canvas Tote Bag",
        "CARRYING_CASE_OR_BAG",
        1600,
    ),
    p("SKU-BOTTLE-1", "Insulated Bottle, 500 ml", "BOTTLE", 3200),
    p("SKU-BOTTLE-2", "Insulated Bottle, 750 ml", "BOTTLE", 3600),
    p("SKU-COFFEE-1", "Café Crème Beans, 250 g", "COFFEE", 1450),
    p("SKU-COFFEE-2", "Café Crème Beans, 1 kg", "COFFEE", 4200),
    p("SKU-TEA-1", "Sencha Green Tea 煎茶", "TEA", 1200),
    p("SKU-CANDLE-1", "Soy Candle, Fig", "CANDLE", 2600),
    p("SKU-NOTEBOOK-1", "Dot Grid Notebook, A5", "NOTEBOOK", 1400),
    p("SKU-PEN-1", "Brass Pen", "WRITING_INSTRUMENT", 4800),
    p("SKU-WALLET-1", "Leather Wallet, Tan", "WALLET", 7900),
    p("SKU-LAMP-1", "Desk Lamp", "LAMP", 8900),
    p("SKU-PUZZLE-1", "Jigsaw Puzzle, 1000 pcs", "PUZZLES", 2500),
    p(
        "SKU-HEADPHONES-1",
        "Wireless Headphones",
        "HEADPHONES",
        14900,
    ),
    p(
        "SKU-CHARGER-1",
        "USB-C Charger, 65 W",
        "CHARGING_ADAPTER",
        3900,
    ),
    p(
        "SKU-CABLE-1",
        "Braided Cable, 2 m",
        "ELECTRONIC_CABLE",
        1500,
    ),
    p(
        "AMZ-GIFTSET-1",
        "Mug & Coffee Gift Set",
        "DRINKING_CUP",
        3400,
    ),
    p(
        "AMZ-CABLE-3PK",
        "Braided Cable, 2 m (3-pack)",
        "ELECTRONIC_CABLE",
        3900,
    ),
];

/// The ASIN the simulated catalogue gives a SKU: `B0` and eight characters
/// derived from the SKU.
pub(crate) fn asin(sku: &str) -> String {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHJKLMNPQRSTUVWXYZ";
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in sku.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
    }
    let tail: String = (0..8)
        .map(|i| ALPHABET[((h >> (i * 6)) % ALPHABET.len() as u64) as usize] as char)
        .collect();
    format!("B0{tail}")
}

pub(crate) const BUYER_NAMES: &[&str] = &[
    "Lena Schäfer",
    "Oliver Bennett",
    "Camille Dubois",
    "Erik Lindqvist",
    "Sofia Rossi",
    "Mateo García",
    "Zoë van Dijk",
    "Amelia Clarke",
    "Jonas Weiß",
    "Élodie Martin",
    "Björn Åkesson",
    "Chloé Lefèvre",
];

/// A marketplace as the simulator sells in it.
pub(crate) struct Region {
    pub marketplace_id: &'static str,
    /// Tax as a percentage, e.g. 19 for 19 %.
    pub tax_percent: i64,
    /// Units of the marketplace's currency per US dollar, in thousandths.
    pub per_usd_milli: i64,
    /// The standard shipping charge in the marketplace's minor units.
    pub shipping_minor: i64,
    /// (city, region, postal code, street)
    pub addresses: &'static [(
        &'static str,
        Option<&'static str>,
        &'static str,
        &'static str,
    )],
}

pub(crate) const REGIONS: &[Region] = &[
    Region {
        marketplace_id: "A1PA6795UKMFR9",
        tax_percent: 19,
        per_usd_milli: 920,
        shipping_minor: 399,
        addresses: &[
            ("Berlin", None, "10115", "Invalidenstraße 43"),
            ("München", Some("BY"), "80331", "Marienplatz 8"),
            ("Köln", Some("NW"), "50667", "Hohe Straße 52"),
        ],
    },
    Region {
        marketplace_id: "A1F83G8C2ARO7P",
        tax_percent: 20,
        per_usd_milli: 790,
        shipping_minor: 349,
        addresses: &[
            ("London", None, "EC1A 1BB", "1 St Martin's Le Grand"),
            ("Manchester", None, "M1 1AE", "12 Piccadilly"),
        ],
    },
    Region {
        marketplace_id: "A13V1IB3VIYZZH",
        tax_percent: 20,
        per_usd_milli: 920,
        shipping_minor: 449,
        addresses: &[
            ("Paris", None, "75004", "12 Rue de Rivoli"),
            ("Lyon", None, "69002", "3 Place Bellecour"),
        ],
    },
    Region {
        marketplace_id: "APJ6JRA9NG5V4",
        tax_percent: 22,
        per_usd_milli: 920,
        shipping_minor: 499,
        addresses: &[("Milano", Some("MI"), "20121", "Via Brera 28")],
    },
    Region {
        marketplace_id: "A1RKKUPIHCS9HS",
        tax_percent: 21,
        per_usd_milli: 920,
        shipping_minor: 399,
        addresses: &[("Madrid", Some("M"), "28013", "Calle Mayor 5")],
    },
    Region {
        marketplace_id: "A2NODRKZP88ZB9",
        tax_percent: 25,
        per_usd_milli: 10_400,
        shipping_minor: 4900,
        addresses: &[("Stockholm", None, "111 29", "Västerlånggatan 7")],
    },
    Region {
        marketplace_id: "A1C3SOZRARQ6R3",
        tax_percent: 23,
        per_usd_milli: 3_950,
        shipping_minor: 1299,
        addresses: &[("Kraków", None, "31-042", "Rynek Główny 1")],
    },
    Region {
        marketplace_id: "ATVPDKIKX0DER",
        tax_percent: 8,
        per_usd_milli: 1_000,
        shipping_minor: 599,
        addresses: &[
            ("Seattle", Some("WA"), "98121", "2201 Westlake Ave"),
            ("Austin", Some("TX"), "78701", "500 Congress Ave"),
        ],
    },
    Region {
        marketplace_id: "A2EUQ1WTGCTBG2",
        tax_percent: 13,
        per_usd_milli: 1_360,
        shipping_minor: 799,
        addresses: &[("Toronto", Some("ON"), "M5H 2N2", "100 Queen St W")],
    },
    Region {
        marketplace_id: "A1VC38T7YXB528",
        tax_percent: 10,
        per_usd_milli: 150_000,
        shipping_minor: 500,
        addresses: &[("東京都", Some("Tokyo"), "100-0005", "丸の内1-9-1")],
    },
];

/// The simulator's data for a marketplace id, if it sells there.
pub(crate) fn region(marketplace_id: &str) -> Option<&'static Region> {
    REGIONS.iter().find(|r| r.marketplace_id == marketplace_id)
}
