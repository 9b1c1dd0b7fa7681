//! The routing decision as a pure function: which location(s) ship an
//! order, given what each eligible location has available. The store calls
//! it inside the transaction that reserves the result.

use std::collections::BTreeMap;

/// Units of one master SKU an order line needs (bundles already expanded).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Need {
    pub line: String,
    pub sku: String,
    pub quantity: i64,
}

/// A location the order may ship from, in priority order, with what it has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub location: String,
    /// Available units per master SKU (on hand − reserved − safety).
    pub available: BTreeMap<String, i64>,
}

/// One allocation of the plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pick {
    pub line: String,
    pub sku: String,
    pub location: String,
    pub quantity: i64,
}

/// The most locations tried exhaustively when splitting; beyond it the
/// split is greedy by priority.
const EXHAUSTIVE_UP_TO: usize = 12;

/// Ships complete from the first candidate (highest priority) that has
/// every need; else, when `allow_split`, from the fewest candidates that
/// together have everything (ties go to the higher priorities); else `None`.
pub fn plan(needs: &[Need], candidates: &[Candidate], allow_split: bool) -> Option<Vec<Pick>> {
    if needs.is_empty() {
        return Some(Vec::new());
    }
    let total = totals(needs);
    if let Some(c) = candidates.iter().find(|c| covers(&total, &[*c])) {
        return Some(assign(needs, std::slice::from_ref(c)));
    }
    if !allow_split || candidates.len() < 2 {
        return None;
    }
    if candidates.len() <= EXHAUSTIVE_UP_TO {
        for k in 2..=candidates.len() {
            // Combinations in lexicographic order of indices: the first that
            // covers uses the highest priorities among the smallest sets.
            let mut idx: Vec<usize> = (0..k).collect();
            loop {
                let set: Vec<&Candidate> = idx.iter().map(|&i| &candidates[i]).collect();
                if covers(&total, &set) {
                    let owned: Vec<Candidate> = set.into_iter().cloned().collect();
                    return Some(assign(needs, &owned));
                }
                if !next_combination(&mut idx, candidates.len()) {
                    break;
                }
            }
        }
        None
    } else {
        let all: Vec<&Candidate> = candidates.iter().collect();
        covers(&total, &all).then(|| assign(needs, candidates))
    }
}

fn totals(needs: &[Need]) -> BTreeMap<&str, i64> {
    let mut t = BTreeMap::new();
    for n in needs {
        *t.entry(n.sku.as_str()).or_insert(0) += n.quantity;
    }
    t
}

fn covers(total: &BTreeMap<&str, i64>, set: &[&Candidate]) -> bool {
    total.iter().all(|(sku, want)| {
        let have: i64 = set
            .iter()
            .map(|c| c.available.get(*sku).copied().unwrap_or(0).max(0))
            .sum();
        have >= *want
    })
}

/// Fills each need from the set in priority order.
fn assign(needs: &[Need], set: &[Candidate]) -> Vec<Pick> {
    let mut left: Vec<BTreeMap<String, i64>> = set.iter().map(|c| c.available.clone()).collect();
    let mut picks: Vec<Pick> = Vec::new();
    for n in needs {
        let mut want = n.quantity;
        for (c, avail) in set.iter().zip(left.iter_mut()) {
            if want == 0 {
                break;
            }
            let a = avail.entry(n.sku.clone()).or_insert(0);
            let take = want.min((*a).max(0));
            if take > 0 {
                *a -= take;
                want -= take;
                match picks
                    .iter_mut()
                    .find(|p| p.line == n.line && p.sku == n.sku && p.location == c.location)
                {
                    Some(p) => p.quantity += take,
                    None => picks.push(Pick {
                        line: n.line.clone(),
                        sku: n.sku.clone(),
                        location: c.location.clone(),
                        quantity: take,
                    }),
                }
            }
        }
        debug_assert_eq!(want, 0, "assign is only called on a covering set");
    }
    picks
}

fn next_combination(idx: &mut [usize], n: usize) -> bool {
    let k = idx.len();
    let mut i = k;
    while i > 0 {
        i -= 1;
        if idx[i] < n - k + i {
            idx[i] += 1;
            for j in i + 1..k {
                idx[j] = idx[j - 1] + 1;
            }
            return true;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn need(line: &str, sku: &str, q: i64) -> Need {
        Need {
            line: line.into(),
            sku: sku.into(),
            quantity: q,
        }
    }

    fn cand(loc: &str, stock: &[(&str, i64)]) -> Candidate {
        Candidate {
            location: loc.into(),
            available: stock.iter().map(|(s, q)| (s.to_string(), *q)).collect(),
        }
    }

    fn locations(p: &[Pick]) -> Vec<&str> {
        let mut l: Vec<&str> = p.iter().map(|p| p.location.as_str()).collect();
        l.sort();
        l.dedup();
        l
    }

    #[test]
    fn ships_complete_from_the_highest_priority_location_that_has_everything() {
        let needs = [need("1", "A", 2), need("2", "B", 1)];
        let cands = [
            cand("first", &[("A", 5)]),
            cand("second", &[("A", 2), ("B", 1)]),
            cand("third", &[("A", 9), ("B", 9)]),
        ];
        let p = plan(&needs, &cands, true).unwrap();
        assert_eq!(locations(&p), ["second"]);
        assert_eq!(p.iter().map(|p| p.quantity).sum::<i64>(), 3);
    }

    #[test]
    fn splits_over_the_fewest_locations_only_when_allowed() {
        let needs = [need("1", "A", 1), need("2", "B", 1), need("3", "C", 1)];
        let cands = [
            cand("a", &[("A", 1)]),
            cand("b", &[("B", 1)]),
            cand("c", &[("C", 1)]),
            cand("bc", &[("B", 1), ("C", 1)]),
        ];
        assert_eq!(plan(&needs, &cands, false), None);
        let p = plan(&needs, &cands, true).unwrap();
        assert_eq!(locations(&p), ["a", "bc"], "two locations, not three");
    }

    #[test]
    fn one_line_may_be_split_when_no_location_has_its_quantity() {
        let needs = [need("1", "A", 5)];
        let cands = [
            cand("x", &[("A", 3)]),
            cand("y", &[("A", 1)]),
            cand("z", &[("A", 2)]),
        ];
        let p = plan(&needs, &cands, true).unwrap();
        assert_eq!(locations(&p), ["x", "z"]);
        assert_eq!(p.iter().find(|p| p.location == "x").unwrap().quantity, 3);
        assert_eq!(p.iter().find(|p| p.location == "z").unwrap().quantity, 2);
    }

    #[test]
    fn nothing_anywhere_is_no_plan_and_no_needs_is_an_empty_one() {
        let cands = [cand("x", &[("A", 3)])];
        assert_eq!(plan(&[need("1", "A", 4)], &cands, true), None);
        assert_eq!(plan(&[need("1", "B", 1)], &cands, true), None);
        assert_eq!(plan(&[], &cands, false), Some(vec![]));
    }

    #[test]
    fn repeated_skus_across_lines_count_together() {
        let needs = [need("1", "A", 2), need("2", "A", 2)];
        let cands = [cand("x", &[("A", 3)]), cand("y", &[("A", 4)])];
        let p = plan(&needs, &cands, false).unwrap();
        assert_eq!(locations(&p), ["y"]);
    }

    #[test]
    fn negative_availability_counts_as_none() {
        let needs = [need("1", "A", 1)];
        let cands = [cand("x", &[("A", -3)]), cand("y", &[("A", 1)])];
        assert_eq!(locations(&plan(&needs, &cands, true).unwrap()), ["y"]);
    }
}
