//! The models the simulated Odoo has and their fields, as far as chansync
//! and a curious client use them: kinds (so values are checked and
//! formatted as Odoo does), which fields are computed, which model a
//! relation points to, and which models the API may create or write.

/// What a field holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// The record id.
    Id,
    Char,
    Text,
    Int,
    Float,
    Bool,
    /// UTC `YYYY-MM-DD HH:MM:SS`.
    Datetime,
    Selection(&'static [&'static str]),
    Many2one(&'static str),
    /// (comodel, inverse many2one field)
    One2many(&'static str, &'static str),
}

impl Kind {
    /// The model a relational field points to.
    #[cfg(test)]
    pub(crate) fn comodel(self) -> Option<&'static str> {
        match self {
            Kind::Many2one(m) | Kind::One2many(m, _) => Some(m),
            _ => None,
        }
    }
}

/// One field of a model.
#[derive(Debug)]
pub(crate) struct Field {
    pub name: &'static str,
    pub kind: Kind,
    /// Computed on read (never stored, never written).
    pub computed: bool,
    /// Stored but only the model's own methods set it.
    pub readonly: bool,
}

const fn f(name: &'static str, kind: Kind) -> Field {
    Field {
        name,
        kind,
        computed: false,
        readonly: false,
    }
}

/// A stored field the API may not write.
const fn r(name: &'static str, kind: Kind) -> Field {
    Field {
        name,
        kind,
        computed: false,
        readonly: true,
    }
}

/// A computed field.
const fn c(name: &'static str, kind: Kind) -> Field {
    Field {
        name,
        kind,
        computed: true,
        readonly: true,
    }
}

/// One model.
#[derive(Debug)]
pub(crate) struct Model {
    pub name: &'static str,
    /// The label Odoo's access errors use, e.g. `Sales Order`.
    pub description: &'static str,
    pub fields: &'static [Field],
    /// The many2one to the parent, for `child_of`.
    pub parent: Option<&'static str>,
    /// Whether the API may create and write records.
    pub api_create: bool,
    pub api_write: bool,
    /// Whether the model has an `active` flag that searches respect.
    pub active: bool,
}

/// Fields every model has.
pub(crate) const COMMON: &[Field] = &[
    c("id", Kind::Id),
    c("display_name", Kind::Char),
    c("create_date", Kind::Datetime),
    c("write_date", Kind::Datetime),
];

use Kind::*;

const PARTNER_TYPES: &[&str] = &["contact", "invoice", "delivery", "other"];
/// `product` is the storable type up to 17; 18 marks storables with
/// `is_storable` on `consu` instead.
const PRODUCT_TYPES: &[&str] = &["consu", "service", "combo", "product"];
const LOCATION_USAGES: &[&str] = &[
    "supplier",
    "view",
    "internal",
    "customer",
    "inventory",
    "production",
    "transit",
];
const PICKING_TYPE_CODES: &[&str] = &["incoming", "outgoing", "internal"];
const SALE_STATES: &[&str] = &["draft", "sent", "sale", "cancel"];
const DELIVERY_STATUSES: &[&str] = &["pending", "started", "partial", "full"];
const DISPLAY_TYPES: &[&str] = &["line_section", "line_note"];
const PICKING_STATES: &[&str] = &[
    "draft",
    "waiting",
    "confirmed",
    "assigned",
    "done",
    "cancel",
];
const MOVE_STATES: &[&str] = &[
    "draft",
    "waiting",
    "confirmed",
    "partially_available",
    "assigned",
    "done",
    "cancel",
];

const fn model(name: &'static str, description: &'static str, fields: &'static [Field]) -> Model {
    Model {
        name,
        description,
        fields,
        parent: None,
        api_create: false,
        api_write: false,
        active: false,
    }
}

pub(crate) static MODELS: &[Model] = &[
    model(
        "res.company",
        "Companies",
        &[
            f("name", Char),
            f("currency_id", Many2one("res.currency")),
            f("country_id", Many2one("res.country")),
        ],
    ),
    model(
        "res.users",
        "User",
        &[
            f("name", Char),
            f("login", Char),
            f("company_id", Many2one("res.company")),
        ],
    ),
    Model {
        active: true,
        ..model(
            "res.currency",
            "Currency",
            &[
                f("name", Char),
                f("symbol", Char),
                f("rounding", Float),
                f("active", Bool),
            ],
        )
    },
    model(
        "res.country",
        "Country",
        &[f("name", Char), f("code", Char)],
    ),
    model(
        "res.country.state",
        "Country state",
        &[
            f("name", Char),
            f("code", Char),
            f("country_id", Many2one("res.country")),
        ],
    ),
    Model {
        parent: Some("parent_id"),
        api_create: true,
        api_write: true,
        active: true,
        ..model(
            "res.partner",
            "Contact",
            &[
                f("name", Char),
                f("email", Char),
                f("phone", Char),
                f("street", Char),
                f("street2", Char),
                f("city", Char),
                f("zip", Char),
                f("state_id", Many2one("res.country.state")),
                f("country_id", Many2one("res.country")),
                f("parent_id", Many2one("res.partner")),
                c("child_ids", One2many("res.partner", "parent_id")),
                f("type", Selection(PARTNER_TYPES)),
                f("company_id", Many2one("res.company")),
                f("active", Bool),
            ],
        )
    },
    Model {
        active: true,
        ..model(
            "delivery.carrier",
            "Shipping Methods",
            &[f("name", Char), f("active", Bool)],
        )
    },
    Model {
        active: true,
        ..model(
            "product.product",
            "Product Variant",
            &[
                f("name", Char),
                f("default_code", Char),
                f("barcode", Char),
                f("type", Selection(PRODUCT_TYPES)),
                f("is_storable", Bool),
                f("list_price", Float),
                f("active", Bool),
                c("qty_available", Float),
            ],
        )
    },
    Model {
        active: true,
        ..model(
            "product.pricelist",
            "Pricelist",
            &[
                f("name", Char),
                f("currency_id", Many2one("res.currency")),
                f("company_id", Many2one("res.company")),
                f("active", Bool),
            ],
        )
    },
    Model {
        active: true,
        ..model(
            "stock.warehouse",
            "Warehouse",
            &[
                f("name", Char),
                f("code", Char),
                f("company_id", Many2one("res.company")),
                f("view_location_id", Many2one("stock.location")),
                f("lot_stock_id", Many2one("stock.location")),
                f("out_type_id", Many2one("stock.picking.type")),
                f("active", Bool),
            ],
        )
    },
    Model {
        parent: Some("location_id"),
        active: true,
        ..model(
            "stock.location",
            "Inventory Locations",
            &[
                f("name", Char),
                c("complete_name", Char),
                f("location_id", Many2one("stock.location")),
                c("child_ids", One2many("stock.location", "location_id")),
                f("usage", Selection(LOCATION_USAGES)),
                f("warehouse_id", Many2one("stock.warehouse")),
                f("company_id", Many2one("res.company")),
                f("active", Bool),
            ],
        )
    },
    Model {
        active: true,
        ..model(
            "stock.picking.type",
            "Operation Type",
            &[
                f("name", Char),
                f("code", Selection(PICKING_TYPE_CODES)),
                f("sequence_code", Char),
                f("warehouse_id", Many2one("stock.warehouse")),
                f("default_location_src_id", Many2one("stock.location")),
                f("default_location_dest_id", Many2one("stock.location")),
                f("active", Bool),
            ],
        )
    },
    model(
        "stock.quant",
        "Quants",
        &[
            f("product_id", Many2one("product.product")),
            f("location_id", Many2one("stock.location")),
            f("quantity", Float),
            f("reserved_quantity", Float),
            c("available_quantity", Float),
            c("warehouse_id", Many2one("stock.warehouse")),
        ],
    ),
    Model {
        api_create: true,
        api_write: true,
        ..model(
            "sale.order",
            "Sales Order",
            &[
                r("name", Char),
                f("partner_id", Many2one("res.partner")),
                f("partner_invoice_id", Many2one("res.partner")),
                f("partner_shipping_id", Many2one("res.partner")),
                f("client_order_ref", Char),
                f("origin", Char),
                f("date_order", Datetime),
                r("state", Selection(SALE_STATES)),
                f("warehouse_id", Many2one("stock.warehouse")),
                f("pricelist_id", Many2one("product.pricelist")),
                c("currency_id", Many2one("res.currency")),
                f("company_id", Many2one("res.company")),
                f("carrier_id", Many2one("delivery.carrier")),
                f("note", Text),
                f("order_line", One2many("sale.order.line", "order_id")),
                c("picking_ids", One2many("stock.picking", "sale_id")),
                c("amount_untaxed", Float),
                c("amount_total", Float),
                c("delivery_status", Selection(DELIVERY_STATUSES)),
            ],
        )
    },
    model(
        "sale.order.line",
        "Sales Order Line",
        &[
            f("order_id", Many2one("sale.order")),
            f("sequence", Int),
            f("product_id", Many2one("product.product")),
            f("name", Text),
            f("product_uom_qty", Float),
            f("price_unit", Float),
            f("discount", Float),
            f("display_type", Selection(DISPLAY_TYPES)),
            c("price_subtotal", Float),
            c("qty_delivered", Float),
            c("move_ids", One2many("stock.move", "sale_line_id")),
        ],
    ),
    Model {
        api_write: true,
        ..model(
            "stock.picking",
            "Transfer",
            &[
                r("name", Char),
                f("origin", Char),
                r("sale_id", Many2one("sale.order")),
                f("partner_id", Many2one("res.partner")),
                r("picking_type_id", Many2one("stock.picking.type")),
                c("picking_type_code", Selection(PICKING_TYPE_CODES)),
                r("location_id", Many2one("stock.location")),
                r("location_dest_id", Many2one("stock.location")),
                r("state", Selection(PICKING_STATES)),
                f("carrier_id", Many2one("delivery.carrier")),
                f("carrier_tracking_ref", Char),
                f("scheduled_date", Datetime),
                r("date_done", Datetime),
                c("move_ids", One2many("stock.move", "picking_id")),
            ],
        )
    },
    model(
        "stock.move",
        "Stock Move",
        &[
            f("name", Char),
            f("picking_id", Many2one("stock.picking")),
            f("product_id", Many2one("product.product")),
            f("product_uom_qty", Float),
            f("quantity", Float),
            f("sale_line_id", Many2one("sale.order.line")),
            f("state", Selection(MOVE_STATES)),
            f("location_id", Many2one("stock.location")),
            f("location_dest_id", Many2one("stock.location")),
        ],
    ),
];

/// The model named `name`.
pub(crate) fn model_of(name: &str) -> Option<&'static Model> {
    MODELS.iter().find(|m| m.name == name)
}

impl Model {
    /// The field named `name`, common fields included.
    pub(crate) fn field(&self, name: &str) -> Option<&'static Field> {
        COMMON
            .iter()
            .chain(self.fields.iter())
            .find(|f| f.name == name)
    }

    /// Every field, common ones first.
    pub(crate) fn all_fields(&self) -> impl Iterator<Item = &'static Field> {
        COMMON.iter().chain(self.fields.iter())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relations_point_at_models_that_exist() {
        for m in MODELS {
            for f in m.all_fields() {
                if let Some(co) = f.kind.comodel() {
                    assert!(model_of(co).is_some(), "{}.{} → {co}", m.name, f.name);
                }
                if let Kind::One2many(co, inverse) = f.kind {
                    let inv = model_of(co).unwrap().field(inverse);
                    assert!(
                        matches!(inv.map(|f| f.kind), Some(Kind::Many2one(t)) if t == m.name),
                        "{}.{}: inverse {co}.{inverse}",
                        m.name,
                        f.name
                    );
                }
            }
            if let Some(p) = m.parent {
                assert!(
                    matches!(m.field(p).map(|f| f.kind), Some(Kind::Many2one(t)) if t == m.name)
                );
            }
        }
    }
}
