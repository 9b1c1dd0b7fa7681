//! The SP-API operations this connector calls (and its simulator answers),
//! each with its default usage plan from the specs' usage-plan tables
//! (`shared/specs/amazon/rate-limits.derived.json`). Amazon meters every
//! operation with its own token bucket, so every operation gets its own
//! limiter.

use chansync_sdk::http::RateLimit;

/// One SP-API operation, named by its `operationId`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Operation {
    GetOrders,
    GetOrder,
    GetOrderItems,
    ConfirmShipment,
    GetListingsItem,
    PatchListingsItem,
    CreateFeedDocument,
    CreateFeed,
    GetFeed,
    GetFeedDocument,
}

impl Operation {
    /// Every operation, in a stable order.
    pub const ALL: [Operation; 10] = [
        Operation::GetOrders,
        Operation::GetOrder,
        Operation::GetOrderItems,
        Operation::ConfirmShipment,
        Operation::GetListingsItem,
        Operation::PatchListingsItem,
        Operation::CreateFeedDocument,
        Operation::CreateFeed,
        Operation::GetFeed,
        Operation::GetFeedDocument,
    ];

    /// The spec's `operationId`.
    pub fn id(self) -> &'static str {
        match self {
            Operation::GetOrders => "getOrders",
            Operation::GetOrder => "getOrder",
            Operation::GetOrderItems => "getOrderItems",
            Operation::ConfirmShipment => "confirmShipment",
            Operation::GetListingsItem => "getListingsItem",
            Operation::PatchListingsItem => "patchListingsItem",
            Operation::CreateFeedDocument => "createFeedDocument",
            Operation::CreateFeed => "createFeed",
            Operation::GetFeed => "getFeed",
            Operation::GetFeedDocument => "getFeedDocument",
        }
    }

    /// The operation with this `operationId`.
    pub fn from_id(id: &str) -> Option<Operation> {
        Operation::ALL.into_iter().find(|op| op.id() == id)
    }

    /// The default usage plan (rate in requests per second, burst).
    pub fn default_limit(self) -> RateLimit {
        let (per_second, burst) = match self {
            Operation::GetOrders => (0.0167, 20),
            Operation::GetOrder => (0.5, 30),
            Operation::GetOrderItems => (0.5, 30),
            Operation::ConfirmShipment => (2.0, 10),
            Operation::GetListingsItem => (5.0, 10),
            Operation::PatchListingsItem => (5.0, 5),
            Operation::CreateFeedDocument => (0.5, 15),
            Operation::CreateFeed => (0.0083, 15),
            Operation::GetFeed => (2.0, 15),
            Operation::GetFeedDocument => (0.0222, 10),
        };
        RateLimit { per_second, burst }
    }
}

impl std::fmt::Display for Operation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.id())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The table above is the derived file, operation by operation.
    #[test]
    fn limits_match_the_derived_usage_plans() {
        let text = include_str!("../tests/fixtures/rate-limits.derived.json");
        let doc: serde_json::Value = serde_json::from_str(text).unwrap();
        let mut checked = 0;
        for entry in doc["operations"].as_array().unwrap() {
            let spec = entry["spec"].as_str().unwrap();
            if !matches!(
                spec,
                "ordersV0.json" | "listingsItems_2021-08-01.json" | "feeds_2021-06-30.json"
            ) {
                continue;
            }
            let Some(op) = Operation::from_id(entry["operationId"].as_str().unwrap()) else {
                continue;
            };
            let limit = op.default_limit();
            assert_eq!(
                Some(limit.per_second),
                entry["rate_per_second"].as_f64(),
                "{op}"
            );
            assert_eq!(Some(limit.burst as u64), entry["burst"].as_u64(), "{op}");
            checked += 1;
        }
        assert_eq!(checked, Operation::ALL.len());
    }
}
