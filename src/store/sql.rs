//! Small helpers for SQL text that both backends read: every parameter is
//! written `$N` (PostgreSQL knows no other form, and SQLite binds `$N` to
//! argument N).

use std::fmt::Write;

/// `$from, $from+1, …` for `n` parameters, for an `IN (…)` list.
pub(super) fn params(from: usize, n: usize) -> String {
    let mut out = String::with_capacity(n * 4);
    for i in from..from + n {
        if i > from {
            out.push(',');
        }
        let _ = write!(out, "${i}");
    }
    out
}

/// A statement with optional `WHERE` filters, numbering its parameters in the
/// order they are added (bind them in the same order).
pub(super) struct Where {
    sql: String,
    next: usize,
    filters: usize,
}

impl Where {
    pub(super) fn new(select: &str) -> Where {
        Where {
            sql: select.to_owned(),
            next: 1,
            filters: 0,
        }
    }

    /// Adds `AND <condition>$N` (the first one opens the `WHERE`).
    pub(super) fn and(&mut self, condition: &str) {
        self.sql.push_str(if self.filters == 0 {
            " WHERE "
        } else {
            " AND "
        });
        self.filters += 1;
        self.sql.push_str(condition);
        self.param();
    }

    /// Appends text without a parameter.
    pub(super) fn push(&mut self, text: &str) {
        self.sql.push_str(text);
    }

    /// Appends the next `$N`.
    pub(super) fn param(&mut self) {
        let _ = write!(self.sql, "${}", self.next);
        self.next += 1;
    }

    pub(super) fn finish(self) -> String {
        self.sql
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_are_numbered_in_order() {
        assert_eq!(params(3, 3), "$3,$4,$5");
        assert_eq!(params(1, 0), "");
        let mut w = Where::new("SELECT * FROM t");
        w.and("a = ");
        w.and("b = ");
        w.push(" LIMIT ");
        w.param();
        assert_eq!(
            w.finish(),
            "SELECT * FROM t WHERE a = $1 AND b = $2 LIMIT $3"
        );
        let mut w = Where::new("SELECT * FROM t");
        w.push(" LIMIT ");
        w.param();
        assert_eq!(w.finish(), "SELECT * FROM t LIMIT $1");
    }
}
