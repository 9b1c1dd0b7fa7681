//! Inventory and routing policy: the parts of the config that decide where
//! an order ships from and what each channel is shown. The SQL that applies
//! them lives in `store::inventory`; the decisions here are pure.

pub mod route;

use std::collections::BTreeMap;

use chansync_sdk::Capability;
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;

use crate::config::{Config, OutboxConfig, RoutingConfig, RuleAction, StockPolicy};

/// A location as routing sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Site {
    pub name: String,
    pub priority: i64,
    /// Countries it ships to; empty: everywhere.
    pub ships_to: Vec<String>,
    /// The connector (and its location id) that reports on hand here.
    pub source: Option<crate::config::StockSourceRef>,
}

impl Site {
    pub fn ships_to(&self, country: Option<&str>) -> bool {
        match country {
            _ if self.ships_to.is_empty() => true,
            Some(c) => self.ships_to.iter().any(|s| s.eq_ignore_ascii_case(c)),
            // No address: only locations that ship anywhere.
            None => false,
        }
    }
}

/// What chansync does for one connector's channel.
#[derive(Debug, Clone, PartialEq)]
pub struct Channel {
    pub stock: StockPolicy,
    pub pushes_stock: bool,
    pub pushes_fulfillment: bool,
    pub cancels: bool,
    /// Takes the orders routed to the locations it sources (an ERP).
    pub sinks_orders: bool,
}

/// Everything routing, inventory and the outbox need from the config.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    /// In routing order: priority, then config order.
    pub sites: Vec<Site>,
    pub routing: RoutingConfig,
    pub channels: BTreeMap<String, Channel>,
    pub outbox: OutboxConfig,
}

/// How an order of a connector is treated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteRule<'a> {
    pub record_only: bool,
    pub allow_split: bool,
    /// Eligible locations in routing order.
    pub sites: Vec<&'a Site>,
}

impl Policy {
    pub fn from_config(c: &Config) -> Policy {
        let mut sites: Vec<(usize, Site)> = c
            .locations
            .iter()
            .enumerate()
            .map(|(i, l)| {
                (
                    i,
                    Site {
                        name: l.name.clone(),
                        priority: l.priority,
                        ships_to: l.ships_to.clone(),
                        source: l.source.clone(),
                    },
                )
            })
            .collect();
        sites.sort_by_key(|(i, s)| (s.priority, *i));
        let channels = c
            .connectors
            .iter()
            .map(|k| {
                let has = |cap| k.capabilities.contains(&cap);
                // A location's source of stock is never published to: its
                // counts are the truth there, and a published level written
                // back would be read again as on hand.
                let sources = c
                    .locations
                    .iter()
                    .any(|l| l.source.as_ref().is_some_and(|s| s.connector == k.name));
                (
                    k.name.clone(),
                    Channel {
                        stock: k.stock.clone(),
                        pushes_stock: has(Capability::PushStock) && k.stock.publish && !sources,
                        pushes_fulfillment: has(Capability::PushFulfillment),
                        cancels: has(Capability::Cancel),
                        sinks_orders: has(Capability::CreateOrders),
                    },
                )
            })
            .collect();
        Policy {
            sites: sites.into_iter().map(|(_, s)| s).collect(),
            routing: c.routing.clone(),
            channels,
            outbox: c.outbox,
        }
    }

    pub fn site(&self, name: &str) -> Option<&Site> {
        self.sites.iter().find(|s| s.name == name)
    }

    /// The location whose on hand `connector` reports as `channel_location`.
    pub fn site_for_source(
        &self,
        connector: &str,
        channel_location: Option<&str>,
    ) -> Option<&Site> {
        self.sites.iter().find(|s| {
            s.source.as_ref().is_some_and(|src| {
                src.connector == connector
                    && (src.location.is_none() || src.location.as_deref() == channel_location)
            })
        })
    }

    /// The rule for orders of `connector` shipping to `country`.
    pub fn rule_for(&self, connector: &str, country: Option<&str>) -> RouteRule<'_> {
        let rule = self.routing.rules.iter().find(|r| r.connector == connector);
        let allowed =
            |s: &Site| rule.is_none_or(|r| r.locations.is_empty() || r.locations.contains(&s.name));
        RouteRule {
            record_only: rule.is_some_and(|r| r.action == RuleAction::Record),
            allow_split: rule
                .and_then(|r| r.allow_split)
                .unwrap_or(self.routing.allow_split),
            sites: self
                .sites
                .iter()
                .filter(|s| allowed(s) && s.ships_to(country))
                .collect(),
        }
    }

    /// The channels whose stock is pushed, with their policy.
    pub fn publishers(&self) -> impl Iterator<Item = (&str, &Channel)> {
        self.channels
            .iter()
            .filter(|(_, c)| c.pushes_stock)
            .map(|(n, c)| (n.as_str(), c))
    }
}

/// What a channel is shown for `available` units:
/// max(0, floor(available × share) − buffer), at most `cap`.
pub fn published(policy: &StockPolicy, available: i64) -> i64 {
    let offered = (Decimal::from(available.max(0)) * policy.share)
        .floor()
        .to_i64()
        .unwrap_or(i64::MAX);
    let level = (offered - policy.buffer).max(0);
    match policy.cap {
        Some(cap) => level.min(cap),
        None => level,
    }
}

/// A bundle's available units: the fewest complete sets its parts make.
/// `parts` is (available units of the part, units per bundle).
pub fn bundle_available(parts: &[(i64, i64)]) -> i64 {
    parts
        .iter()
        .map(|(avail, per)| if *per <= 0 { 0 } else { avail.max(&0) / per })
        .min()
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(share: &str, buffer: i64, cap: Option<i64>) -> StockPolicy {
        StockPolicy {
            share: share.parse().unwrap(),
            buffer,
            cap,
            ..StockPolicy::default()
        }
    }

    #[test]
    fn published_applies_share_then_buffer_then_cap() {
        assert_eq!(published(&policy("1", 0, None), 10), 10);
        assert_eq!(published(&policy("0.8", 0, None), 10), 8);
        assert_eq!(published(&policy("0.8", 0, None), 9), 7, "floor(7.2)");
        assert_eq!(published(&policy("0.5", 2, None), 10), 3);
        assert_eq!(published(&policy("0.5", 20, None), 10), 0, "never negative");
        assert_eq!(published(&policy("1", 0, Some(4)), 10), 4);
        assert_eq!(
            published(&policy("1", 0, None), -5),
            0,
            "oversold shows zero"
        );
    }

    #[test]
    fn a_bundle_is_as_available_as_its_scarcest_part() {
        assert_eq!(bundle_available(&[(10, 2), (3, 1)]), 3);
        assert_eq!(bundle_available(&[(10, 2), (30, 1)]), 5);
        assert_eq!(bundle_available(&[(1, 2)]), 0);
        assert_eq!(bundle_available(&[(-4, 1), (5, 1)]), 0);
        assert_eq!(bundle_available(&[]), 0);
    }

    #[test]
    fn sites_filter_by_country_and_rule() {
        let mut p = Policy {
            sites: vec![
                Site {
                    name: "de".into(),
                    priority: 1,
                    ships_to: vec!["DE".into(), "AT".into()],
                    source: None,
                },
                Site {
                    name: "any".into(),
                    priority: 2,
                    ships_to: vec![],
                    source: None,
                },
            ],
            ..Policy::default()
        };
        let names = |r: RouteRule<'_>| r.sites.iter().map(|s| s.name.clone()).collect::<Vec<_>>();
        assert_eq!(names(p.rule_for("shop", Some("AT"))), ["de", "any"]);
        assert_eq!(names(p.rule_for("shop", Some("US"))), ["any"]);
        assert_eq!(names(p.rule_for("shop", None)), ["any"]);
        p.routing.rules.push(crate::config::RoutingRule {
            connector: "shop".into(),
            action: RuleAction::Record,
            locations: vec!["de".into()],
            allow_split: Some(true),
        });
        let r = p.rule_for("shop", Some("DE"));
        assert!(r.record_only && r.allow_split);
        assert_eq!(names(r), ["de"]);
        assert!(!p.rule_for("other", Some("DE")).record_only);
    }
}
