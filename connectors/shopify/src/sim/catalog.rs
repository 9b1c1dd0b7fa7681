//! The fixed data generated orders are drawn from: the shop's catalogue (with
//! its inventory items and locations), its customers' names and the regions
//! it ships to (with currency, tax and addresses). Unicode on purpose: names
//! and cities exercise every encoder.

use crate::sim::model::{CountryCode, Currency};

/// A variant the shop sells. Prices are in US cents and converted per order.
pub(crate) struct Product {
    pub sku: &'static str,
    pub title: &'static str,
    pub variant: Option<&'static str>,
    pub usd_cents: i64,
}

const fn p(
    sku: &'static str,
    title: &'static str,
    variant: Option<&'static str>,
    usd_cents: i64,
) -> Product {
    Product {
        sku,
        title,
        variant,
        usd_cents,
    }
}

pub(crate) const PRODUCTS: &[Product] = &[
    p("SKU-MUG-1", "Ceramic Mug", Some("Ocean Blue"), 1800),
    p("SKU-MUG-2", "Ceramic Mug", Some("Forest Green"), 1800),
    p("SKU-TEE-1", "Organic Cotton T-Shirt", Some("S"), 2900),
    p("SKU-TEE-2", "Organic Cotton T-Shirt", Some("M"), 2900),
    p("SKU-TEE-3", "Organic Cotton T-Shirt", Some("L"), 2900),
    p("SKU-HOODIE-1", "Heavyweight Hoodie", Some("M"), 6500),
    p("SKU-HOODIE-2", "Heavyweight Hoodie", Some("L"), 6500),
    p("SKU-CAP-1", "Canvas Cap", None, 2400),
    p("SKU-SOCKS-1", "Merino Socks (3-pack)", Some("39–42"), 1900),
    p("SKU-BEANIE-1", "Rib Knit Beanie", None, 2200),
    p("SKU-TOTE-1", "Canvas Tote Bag", None, 1600),
    p("SKU-BOTTLE-1", "Insulated Bottle", Some("500 ml"), 3200),
    p("SKU-BOTTLE-2", "Insulated Bottle", Some("750 ml"), 3600),
    p("SKU-COFFEE-1", "Café Crème Beans", Some("250 g"), 1450),
    p("SKU-COFFEE-2", "Café Crème Beans", Some("1 kg"), 4200),
    p("SKU-TEA-1", "Sencha Green Tea 煎茶", None, 1200),
    p("SKU-CANDLE-1", "Soy Candle", Some("Fig"), 2600),
    p("SKU-CANDLE-2", "Soy Candle", Some("Cedar"), 2600),
    p("SKU-NOTEBOOK-1", "Dot Grid Notebook", Some("A5"), 1400),
    p("SKU-PEN-1", "Brass Pen", None, 4800),
    p("SKU-WALLET-1", "Leather Wallet", Some("Tan"), 7900),
    p("SKU-BELT-1", "Leather Belt", Some("90 cm"), 5900),
    p("SKU-SCARF-1", "Wool Scarf", None, 4500),
    p("SKU-GLOVES-1", "Touchscreen Gloves", Some("M"), 2700),
    p("SKU-LAMP-1", "Desk Lamp", None, 8900),
    p("SKU-PLANTER-1", "Ceramic Planter", Some("Small"), 2100),
    p("SKU-PLANTER-2", "Ceramic Planter", Some("Large"), 3900),
    p("SKU-THROW-1", "Alpaca Throw", None, 12900),
    p(
        "SKU-CUSHION-1",
        "Linen Cushion Cover",
        Some("Natural"),
        3400,
    ),
    p("SKU-SOAP-1", "Olive Oil Soap", None, 800),
    p("SKU-SHAMPOO-1", "Solid Shampoo Bar", None, 1300),
    p("SKU-TOWEL-1", "Waffle Towel", Some("Sand"), 2800),
    p("SKU-APRON-1", "Denim Apron", None, 3800),
    p("SKU-KNIFE-1", "Chef's Knife", Some("20 cm"), 11900),
    p("SKU-BOARD-1", "Walnut Cutting Board", None, 6900),
    p("SKU-PUZZLE-1", "Jigsaw Puzzle", Some("1000 pcs"), 2500),
    p("SKU-CARDS-1", "Playing Cards", None, 1200),
    p("SKU-DECK-1", "Skateboard Deck", Some("8.25\""), 5900),
    p("SKU-HEADPHONES-1", "Wireless Headphones", None, 14900),
    p("SKU-CHARGER-1", "USB-C Charger", Some("65 W"), 3900),
    p("SKU-CABLE-1", "Braided Cable", Some("2 m"), 1500),
];

/// Inventory item ids: product `i` of `PRODUCTS` has `INVENTORY_ITEM_ID_BASE + i`;
/// products added later continue after them.
pub(crate) const INVENTORY_ITEM_ID_BASE: u64 = 49_300_000_000_000;

/// A place the shop keeps stock (Shopify's `Location`).
pub(crate) struct LocationDef {
    pub id: u64,
    pub name: &'static str,
}

/// The shop's locations. The first is the primary one: every item is stocked
/// there, and fulfilment orders are assigned to it.
pub(crate) const LOCATIONS: &[LocationDef] = &[
    LocationDef {
        id: 76_000_000_001,
        name: "Main Warehouse",
    },
    LocationDef {
        id: 76_000_000_002,
        name: "Pop-up Store",
    },
];

/// The available quantity product `index` starts with at location number
/// `location` of `LOCATIONS`, or `None` where it is not stocked (the pop-up
/// store carries every other product).
pub(crate) fn initial_available(seed: u64, index: usize, location: usize) -> Option<i64> {
    let spread = |modulus: u64| ((seed % 97) + index as u64 * 7) % modulus;
    match location {
        0 => Some(10 + spread(41) as i64),
        1 if index % 2 == 0 => Some(2 + spread(9) as i64),
        _ => None,
    }
}

/// Custom items a merchant adds by hand: Shopify allows them without a SKU.
pub(crate) const CUSTOM_ITEMS: &[(&str, i64)] = &[
    ("Gift wrapping", 500),
    ("Custom engraving", 1200),
    ("Handwritten note", 300),
];

/// A name and the ASCII form used in e-mail addresses.
pub(crate) struct Name {
    pub name: &'static str,
    pub ascii: &'static str,
}

const fn n(name: &'static str, ascii: &'static str) -> Name {
    Name { name, ascii }
}

pub(crate) const FIRST_NAMES: &[Name] = &[
    n("Zoë", "zoe"),
    n("Jürgen", "juergen"),
    n("Ana", "ana"),
    n("Łukasz", "lukasz"),
    n("Søren", "soren"),
    n("Chloé", "chloe"),
    n("François", "francois"),
    n("Yuki", "yuki"),
    n("翔太", "shota"),
    n("Siobhán", "siobhan"),
    n("João", "joao"),
    n("Mateo", "mateo"),
    n("Olivia", "olivia"),
    n("Noah", "noah"),
    n("Émilie", "emilie"),
    n("Björn", "bjorn"),
    n("Agnieszka", "agnieszka"),
    n("Priya", "priya"),
    n("Liam", "liam"),
    n("Maëlle", "maelle"),
];

pub(crate) const LAST_NAMES: &[Name] = &[
    n("Ångström", "angstrom"),
    n("Müß", "muess"),
    n("Müller", "mueller"),
    n("Nowak", "nowak"),
    n("Silva", "silva"),
    n("Dubois", "dubois"),
    n("Tanaka", "tanaka"),
    n("佐藤", "sato"),
    n("O'Brien", "obrien"),
    n("García", "garcia"),
    n("Smith", "smith"),
    n("Kowalski", "kowalski"),
    n("Nguyễn", "nguyen"),
    n("Schröder", "schroeder"),
    n("Lefèvre", "lefevre"),
    n("Brown", "brown"),
];

pub(crate) const EMAIL_DOMAINS: &[&str] = &["example.com", "example.org", "mail.example.net"];

/// A city with its province (if the country uses them) and a postal code.
pub(crate) struct City {
    pub city: &'static str,
    pub province: Option<(&'static str, &'static str)>,
    pub zip: &'static str,
}

const fn c(
    city: &'static str,
    province: Option<(&'static str, &'static str)>,
    zip: &'static str,
) -> City {
    City {
        city,
        province,
        zip,
    }
}

/// A country the shop ships to, with what an order there looks like.
pub(crate) struct Region {
    pub code: CountryCode,
    pub country: &'static str,
    pub currency: Currency,
    /// Units of the currency per US dollar.
    pub usd_rate: (i64, u32),
    /// The VAT/sales tax rate as a decimal (mantissa, scale): 0.19 = (19, 2).
    pub tax_rate: (i64, u32),
    pub tax_title: &'static str,
    /// `true` where the house number comes before the street.
    pub number_first: bool,
    pub streets: &'static [&'static str],
    pub cities: &'static [City],
    pub phone_prefix: &'static str,
    /// Relative frequency among orders.
    pub weight: u32,
}

pub(crate) const REGIONS: &[Region] = &[
    Region {
        code: CountryCode::Us,
        country: "United States",
        currency: Currency::Usd,
        usd_rate: (1, 0),
        tax_rate: (7, 2),
        tax_title: "State Tax",
        number_first: true,
        streets: &["Main Street", "Chestnut Street", "Broadway", "Elm Avenue"],
        cities: &[
            c("New York", Some(("New York", "NY")), "10001"),
            c("Austin", Some(("Texas", "TX")), "78701"),
            c("Chicago", Some(("Illinois", "IL")), "60601"),
            c("San Francisco", Some(("California", "CA")), "94103"),
        ],
        phone_prefix: "+1 212 555",
        weight: 30,
    },
    Region {
        code: CountryCode::De,
        country: "Germany",
        currency: Currency::Eur,
        usd_rate: (92, 2),
        tax_rate: (19, 2),
        tax_title: "MwSt",
        number_first: false,
        streets: &["Hauptstraße", "Königsallee", "Müllerstraße", "Schloßstraße"],
        cities: &[
            c("Berlin", None, "10115"),
            c("München", None, "80331"),
            c("Köln", None, "50667"),
        ],
        phone_prefix: "+49 30 5550",
        weight: 12,
    },
    Region {
        code: CountryCode::Fr,
        country: "France",
        currency: Currency::Eur,
        usd_rate: (92, 2),
        tax_rate: (20, 2),
        tax_title: "TVA",
        number_first: true,
        streets: &[
            "rue de Rivoli",
            "avenue des Champs-Élysées",
            "rue Sainte-Catherine",
        ],
        cities: &[
            c("Paris", None, "75001"),
            c("Lyon", None, "69002"),
            c("Bordeaux", None, "33000"),
        ],
        phone_prefix: "+33 1 5550",
        weight: 8,
    },
    Region {
        code: CountryCode::Gb,
        country: "United Kingdom",
        currency: Currency::Gbp,
        usd_rate: (79, 2),
        tax_rate: (20, 2),
        tax_title: "VAT",
        number_first: true,
        streets: &["High Street", "Baker Street", "Queen's Road"],
        cities: &[
            c("London", Some(("England", "ENG")), "EC1A 1BB"),
            c("Manchester", Some(("England", "ENG")), "M1 1AE"),
            c("Edinburgh", Some(("Scotland", "SCT")), "EH1 1YZ"),
        ],
        phone_prefix: "+44 20 7946",
        weight: 10,
    },
    Region {
        code: CountryCode::Jp,
        country: "Japan",
        currency: Currency::Jpy,
        usd_rate: (150, 0),
        tax_rate: (10, 2),
        tax_title: "消費税",
        number_first: false,
        streets: &["神南1丁目", "梅田2丁目", "栄3丁目"],
        cities: &[
            c("渋谷区", Some(("東京都", "JP-13")), "150-0041"),
            c("大阪市北区", Some(("大阪府", "JP-27")), "530-0001"),
            c("名古屋市中区", Some(("愛知県", "JP-23")), "460-0008"),
        ],
        phone_prefix: "+81 3 5550",
        weight: 8,
    },
    Region {
        code: CountryCode::Br,
        country: "Brazil",
        currency: Currency::Brl,
        usd_rate: (5, 0),
        tax_rate: (17, 2),
        tax_title: "ICMS",
        number_first: false,
        streets: &["Avenida Paulista", "Rua Oscar Freire", "Rua da Consolação"],
        cities: &[
            c("São Paulo", Some(("São Paulo", "SP")), "01310-100"),
            c(
                "Rio de Janeiro",
                Some(("Rio de Janeiro", "RJ")),
                "20040-002",
            ),
        ],
        phone_prefix: "+55 11 5550",
        weight: 6,
    },
    Region {
        code: CountryCode::Pl,
        country: "Poland",
        currency: Currency::Pln,
        usd_rate: (395, 2),
        tax_rate: (23, 2),
        tax_title: "VAT",
        number_first: false,
        streets: &["ulica Piotrkowska", "ulica Floriańska", "ulica Długa"],
        cities: &[
            c("Łódź", None, "90-001"),
            c("Kraków", None, "31-001"),
            c("Gdańsk", None, "80-001"),
        ],
        phone_prefix: "+48 22 5550",
        weight: 6,
    },
    Region {
        code: CountryCode::Ca,
        country: "Canada",
        currency: Currency::Cad,
        usd_rate: (136, 2),
        tax_rate: (13, 2),
        tax_title: "HST",
        number_first: true,
        streets: &["Rue Sainte-Catherine", "Yonge Street", "Queen Street West"],
        cities: &[
            c("Toronto", Some(("Ontario", "ON")), "M5V 2T6"),
            c("Montréal", Some(("Quebec", "QC")), "H2X 1Y4"),
        ],
        phone_prefix: "+1 416 555",
        weight: 8,
    },
    Region {
        code: CountryCode::Ch,
        country: "Switzerland",
        currency: Currency::Chf,
        usd_rate: (88, 2),
        tax_rate: (81, 3),
        tax_title: "MWST",
        number_first: false,
        streets: &["Bahnhofstrasse", "Rue du Rhône", "Limmatquai"],
        cities: &[
            c("Zürich", Some(("Zürich", "ZH")), "8001"),
            c("Genève", Some(("Genève", "GE")), "1204"),
        ],
        phone_prefix: "+41 44 5550",
        weight: 6,
    },
    Region {
        code: CountryCode::Au,
        country: "Australia",
        currency: Currency::Aud,
        usd_rate: (152, 2),
        tax_rate: (10, 2),
        tax_title: "GST",
        number_first: true,
        streets: &["George Street", "Collins Street", "King William Street"],
        cities: &[
            c("Sydney", Some(("New South Wales", "NSW")), "2000"),
            c("Melbourne", Some(("Victoria", "VIC")), "3000"),
        ],
        phone_prefix: "+61 2 5550",
        weight: 6,
    },
];

/// A shipping method: title, code, price in US cents.
pub(crate) const SHIPPING: &[(&str, &str, i64)] = &[
    ("Standard Shipping", "STANDARD", 499),
    ("Express Shipping", "EXPRESS", 1499),
];

/// Orders at or above this (in US cents, before discounts) ship free by standard.
pub(crate) const FREE_SHIPPING_FROM_USD_CENTS: i64 = 10_000;

/// Discount codes: code and percentage off the eligible lines.
pub(crate) const DISCOUNT_CODES: &[(&str, i64)] =
    &[("WELCOME10", 10), ("SPRING15", 15), ("VIP20", 20)];

/// Tags an update may add.
pub(crate) const TAGS: &[&str] = &[
    "gift",
    "priority",
    "repeat-customer",
    "reviewed",
    "newsletter",
    "vip",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skus_are_unique_and_the_catalogue_is_about_forty() {
        let mut skus: Vec<_> = PRODUCTS.iter().map(|p| p.sku).collect();
        skus.sort_unstable();
        skus.dedup();
        assert_eq!(skus.len(), PRODUCTS.len());
        assert!((35..=45).contains(&PRODUCTS.len()));
    }

    #[test]
    fn every_product_is_stocked_at_the_primary_location() {
        for seed in [0, 1, 96, 12345] {
            for i in 0..PRODUCTS.len() {
                let q = initial_available(seed, i, 0).expect("stocked at the primary location");
                assert!((10..=50).contains(&q), "{q}");
            }
        }
        assert!(initial_available(1, 1, 1).is_none());
        assert!(initial_available(1, 2, 1).is_some());
        assert!(initial_available(1, 2, LOCATIONS.len()).is_none());
    }
}
