//! The fixed data of the simulated seller: its catalog (items and variations;
//! the SKUs overlap the Shopify simulator's so a demo can share stock), its
//! two locations, the currencies it can run in, and the names and addresses
//! online buyers have. Object ids are derived from fixed numbers, so they are
//! the same in every run.

use std::sync::LazyLock;

use rust_decimal::Decimal;

/// A variation as the catalog defines it; prices are US cents, converted to
/// the seller's currency.
pub(crate) struct VarDef {
    pub name: &'static str,
    pub sku: Option<&'static str>,
    pub usd_cents: i64,
    /// Whether Square tracks its inventory (made-to-order drinks are not).
    pub track: bool,
}

const fn v(name: &'static str, sku: &'static str, usd_cents: i64) -> VarDef {
    VarDef {
        name,
        sku: Some(sku),
        usd_cents,
        track: true,
    }
}

const fn untracked(name: &'static str, usd_cents: i64) -> VarDef {
    VarDef {
        name,
        sku: None,
        usd_cents,
        track: false,
    }
}

pub(crate) struct ItemDef {
    pub name: &'static str,
    pub variations: &'static [VarDef],
}

const fn item(name: &'static str, variations: &'static [VarDef]) -> ItemDef {
    ItemDef { name, variations }
}

/// The catalog. Square names a single variation "Regular".
pub(crate) const ITEMS: &[ItemDef] = &[
    item(
        "Ceramic Mug",
        &[
            v("Ocean Blue", "SKU-MUG-1", 1800),
            v("Forest Green", "SKU-MUG-2", 1800),
        ],
    ),
    item(
        "Organic Cotton T-Shirt",
        &[
            v("S", "SKU-TEE-1", 2900),
            v("M", "SKU-TEE-2", 2900),
            v("L", "SKU-TEE-3", 2900),
        ],
    ),
    item(
        "Heavyweight Hoodie",
        &[v("M", "SKU-HOODIE-1", 6500), v("L", "SKU-HOODIE-2", 6500)],
    ),
    item("Canvas Cap", &[v("Regular", "SKU-CAP-1", 2400)]),
    item("Merino Socks (3-pack)", &[v("39–42", "SKU-SOCKS-1", 1900)]),
    item("Rib Knit Beanie", &[v("Regular", "SKU-BEANIE-1", 2200)]),
    item("Canvas Tote Bag", &[v("Regular", "SKU-TOTE-1", 1600)]),
    item(
        "Insulated Bottle",
        &[
            v("500 ml", "SKU-BOTTLE-1", 3200),
            v("750 ml", "SKU-BOTTLE-2", 3600),
        ],
    ),
    item(
        "Café Crème Beans",
        &[
            v("250 g", "SKU-COFFEE-1", 1450),
            v("1 kg", "SKU-COFFEE-2", 4200),
        ],
    ),
    item("Sencha Green Tea 煎茶", &[v("Regular", "SKU-TEA-1", 1200)]),
    item(
        "Soy Candle",
        &[
            v("Fig", "SKU-CANDLE-1", 2600),
            v("Cedar", "SKU-CANDLE-2", 2600),
        ],
    ),
    item("Dot Grid Notebook", &[v("A5", "SKU-NOTEBOOK-1", 1400)]),
    item("Brass Pen", &[v("Regular", "SKU-PEN-1", 4800)]),
    item("Olive Oil Soap", &[v("Regular", "SKU-SOAP-1", 800)]),
    item("Playing Cards", &[v("Regular", "SKU-CARDS-1", 1200)]),
    item(
        "Ceramic Planter",
        &[
            v("Small", "SKU-PLANTER-1", 2100),
            v("Large", "SKU-PLANTER-2", 3900),
        ],
    ),
    item("Postcard Set", &[v("Regular", "SKU-POSTCARD-1", 900)]),
    item(
        "Drip Coffee",
        &[untracked("Small", 300), untracked("Large", 400)],
    ),
    item("Espresso", &[untracked("Regular", 350)]),
];

/// A variation with its ids, flattened from `ITEMS`.
pub(crate) struct Variation {
    pub id: String,
    pub item_id: String,
    pub item_name: &'static str,
    pub name: &'static str,
    pub sku: Option<&'static str>,
    pub usd_cents: i64,
    pub track: bool,
}

/// SplitMix64: a fixed number → well-spread bits.
pub(crate) fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A 24-character id in the alphabet of Square's catalog ids.
pub(crate) fn object_id(kind: u64, n: u64) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut bits = [mix(kind << 32 | n), mix(!(kind << 32 | n))];
    (0..24)
        .map(|i| {
            let word = &mut bits[i / 12];
            let c = ALPHABET[(*word & 31) as usize];
            *word >>= 5;
            c as char
        })
        .collect()
}

/// Every variation, item by item.
pub(crate) static VARIATIONS: LazyLock<Vec<Variation>> = LazyLock::new(|| {
    let mut out = Vec::new();
    for (i, item) in ITEMS.iter().enumerate() {
        let item_id = object_id(1, i as u64);
        for v in item.variations {
            out.push(Variation {
                id: object_id(2, out.len() as u64),
                item_id: item_id.clone(),
                item_name: item.name,
                name: v.name,
                sku: v.sku,
                usd_cents: v.usd_cents,
                track: v.track,
            });
        }
    }
    out
});

/// Every item's id, in the order of `ITEMS`.
pub(crate) static ITEM_IDS: LazyLock<Vec<String>> =
    LazyLock::new(|| (0..ITEMS.len()).map(|i| object_id(1, i as u64)).collect());

/// A seller location.
pub(crate) struct LocationDef {
    pub id: &'static str,
    pub name: &'static str,
}

/// The seller's locations, alphabetical by name as ListLocations lists them.
pub(crate) const LOCATIONS: &[LocationDef] = &[
    LocationDef {
        id: "L8FLG5HPQ0XD4",
        name: "Flagship Store",
    },
    LocationDef {
        id: "LH4RB0RMKT9Q2",
        name: "Harbor Market",
    },
];

/// The IN_STOCK count variation `index` starts with at location number
/// `location`, or `None` where it has no inventory record (the Flagship
/// Store carries all, Harbor Market every other; untracked ones none).
pub(crate) fn initial_count(seed: u64, index: usize, location: usize) -> Option<i64> {
    if !VARIATIONS[index].track {
        return None;
    }
    let spread = |modulus: u64| ((seed % 97) + index as u64 * 7) % modulus;
    match location {
        0 => Some(10 + spread(41) as i64),
        1 if index % 2 == 0 => Some(2 + spread(9) as i64),
        _ => None,
    }
}

/// A city with its state or prefecture and postal code.
#[derive(Debug)]
pub(crate) struct City {
    pub locality: &'static str,
    pub district: Option<&'static str>,
    pub postal_code: &'static str,
}

const fn c(
    locality: &'static str,
    district: Option<&'static str>,
    postal_code: &'static str,
) -> City {
    City {
        locality,
        district,
        postal_code,
    }
}

/// A currency the simulated seller can run in, with its country's tax.
#[derive(Debug)]
pub(crate) struct CurrencyDef {
    pub code: &'static str,
    pub minor_units: u32,
    /// Units of the currency per US dollar, as (mantissa, scale).
    pub usd_rate: (i64, u32),
    pub tax_name: &'static str,
    /// The tax percentage as Square writes it, e.g. `"8.875"`.
    pub tax_percentage: &'static str,
    pub country: &'static str,
    pub streets: &'static [&'static str],
    pub cities: &'static [City],
    pub phone_prefix: &'static str,
}

pub(crate) const CURRENCIES: &[CurrencyDef] = &[
    CurrencyDef {
        code: "USD",
        minor_units: 2,
        usd_rate: (1, 0),
        tax_name: "Sales Tax",
        tax_percentage: "8.875",
        country: "US",
        streets: &["Main Street", "Chestnut Street", "Broadway", "Elm Avenue"],
        cities: &[
            c("New York", Some("NY"), "10001"),
            c("Austin", Some("TX"), "78701"),
            c("San Francisco", Some("CA"), "94103"),
        ],
        phone_prefix: "+1 212 555",
    },
    CurrencyDef {
        code: "JPY",
        minor_units: 0,
        usd_rate: (150, 0),
        tax_name: "消費税",
        tax_percentage: "10",
        country: "JP",
        streets: &["神南1丁目", "梅田2丁目", "栄3丁目"],
        cities: &[
            c("渋谷区", Some("東京都"), "150-0041"),
            c("大阪市北区", Some("大阪府"), "530-0001"),
        ],
        phone_prefix: "+81 3 5550",
    },
    CurrencyDef {
        code: "EUR",
        minor_units: 2,
        usd_rate: (92, 2),
        tax_name: "MwSt",
        tax_percentage: "19",
        country: "DE",
        streets: &["Hauptstraße", "Königsallee", "Schloßstraße"],
        cities: &[c("Berlin", None, "10115"), c("München", None, "80331")],
        phone_prefix: "+49 30 5550",
    },
    CurrencyDef {
        code: "GBP",
        minor_units: 2,
        usd_rate: (79, 2),
        tax_name: "VAT",
        tax_percentage: "20",
        country: "GB",
        streets: &["High Street", "Baker Street", "Queen's Road"],
        cities: &[
            c("London", None, "EC1A 1BB"),
            c("Manchester", None, "M1 1AE"),
        ],
        phone_prefix: "+44 20 7946",
    },
];

impl CurrencyDef {
    /// A US price in this currency's minor units, rounded half up.
    pub(crate) fn minor_of_usd_cents(&self, cents: i64) -> i64 {
        let rate = Decimal::new(self.usd_rate.0, self.usd_rate.1);
        let major = (Decimal::new(cents, 2) * rate).round_dp_with_strategy(
            self.minor_units,
            rust_decimal::RoundingStrategy::MidpointAwayFromZero,
        );
        let minor = major * Decimal::from(10i64.pow(self.minor_units));
        rust_decimal::prelude::ToPrimitive::to_i64(&minor).unwrap_or(0)
    }

    /// The tax rate as a fraction (8.875 % → 0.08875).
    pub(crate) fn tax_rate(&self) -> Decimal {
        self.tax_percentage.parse::<Decimal>().unwrap_or_default() / Decimal::from(100)
    }
}

/// The currency named `code`, if the simulator can run in it.
pub(crate) fn currency(code: &str) -> Option<&'static CurrencyDef> {
    CURRENCIES
        .iter()
        .find(|c| c.code.eq_ignore_ascii_case(code))
}

/// Buyers' names and their ASCII forms for e-mail addresses.
pub(crate) const NAMES: &[(&str, &str)] = &[
    ("Zoë Ångström", "zoe.angstrom"),
    ("Jürgen Müller", "juergen.mueller"),
    ("Ana Silva", "ana.silva"),
    ("Łukasz Nowak", "lukasz.nowak"),
    ("Yuki Tanaka", "yuki.tanaka"),
    ("翔太 佐藤", "shota.sato"),
    ("Siobhán O'Brien", "siobhan.obrien"),
    ("Mateo García", "mateo.garcia"),
    ("Olivia Smith", "olivia.smith"),
    ("Priya Nguyễn", "priya.nguyen"),
];

/// Carriers online orders ship with, and their tracking number prefixes.
pub(crate) const CARRIERS: &[(&str, &str)] =
    &[("UPS", "1Z999AA1"), ("USPS", "9400111"), ("FedEx", "7712")];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_stable_unique_and_square_shaped() {
        let ids: std::collections::HashSet<&str> =
            VARIATIONS.iter().map(|v| v.id.as_str()).collect();
        assert_eq!(ids.len(), VARIATIONS.len());
        assert_eq!(object_id(2, 0), VARIATIONS[0].id);
        assert!(VARIATIONS.iter().all(|v| v.id.len() == 24
            && v.id
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())));
        let skus: Vec<_> = VARIATIONS.iter().filter_map(|v| v.sku).collect();
        let unique: std::collections::HashSet<_> = skus.iter().collect();
        assert_eq!(unique.len(), skus.len());
    }

    #[test]
    fn prices_convert_exactly() {
        let usd = currency("USD").unwrap();
        let jpy = currency("jpy").unwrap();
        assert_eq!(usd.minor_of_usd_cents(1450), 1450);
        assert_eq!(jpy.minor_of_usd_cents(1450), 2175);
        assert_eq!(jpy.minor_of_usd_cents(1), 2, "1.5 yen rounds half up");
        assert_eq!(currency("EUR").unwrap().minor_of_usd_cents(1450), 1334);
        assert_eq!(usd.tax_rate().to_string(), "0.08875");
        assert!(currency("XYZ").is_none());
    }

    #[test]
    fn tracked_variations_start_stocked_at_the_flagship() {
        for seed in [0, 1, 96] {
            for (i, v) in VARIATIONS.iter().enumerate() {
                assert_eq!(initial_count(seed, i, 0).is_some(), v.track);
            }
        }
        assert!(initial_count(1, 1, 1).is_none());
        assert!(initial_count(1, 2, 1).is_some());
    }
}
