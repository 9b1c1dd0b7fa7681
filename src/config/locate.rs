//! Finds the line of a key path (`connector[1].poll.every`) in TOML text, so
//! errors found after parsing still point at the right line.

use toml_edit::{Item, Table, Value};

/// The 1-based line of byte offset `at`.
pub fn line_at(text: &str, at: usize) -> usize {
    text.as_bytes()[..at.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

enum Seg<'a> {
    Key(&'a str),
    Index(usize),
}

fn segments(path: &str) -> Vec<Seg<'_>> {
    let mut out = Vec::new();
    for part in path.split('.').filter(|p| !p.is_empty()) {
        match part.find('[') {
            Some(b) => {
                if b > 0 {
                    out.push(Seg::Key(&part[..b]));
                }
                for idx in part[b..].split(['[', ']']).filter(|s| !s.is_empty()) {
                    if let Ok(i) = idx.parse() {
                        out.push(Seg::Index(i));
                    }
                }
            }
            None => out.push(Seg::Key(part)),
        }
    }
    out
}

#[derive(Clone, Copy)]
enum Node<'a> {
    Item(&'a Item),
    Table(&'a Table),
    Value(&'a Value),
}

impl<'a> Node<'a> {
    fn span(self) -> Option<std::ops::Range<usize>> {
        match self {
            Node::Item(i) => i.span(),
            Node::Table(t) => t.span(),
            Node::Value(v) => v.span(),
        }
    }

    fn child(self, seg: &Seg<'_>) -> Option<Node<'a>> {
        match (self, seg) {
            (Node::Item(Item::Table(t)) | Node::Table(t), Seg::Key(k)) => t.get(k).map(Node::Item),
            (Node::Item(Item::Value(v)) | Node::Value(v), _) => match (v, seg) {
                (Value::InlineTable(t), Seg::Key(k)) => t.get(k).map(Node::Value),
                (Value::Array(a), Seg::Index(i)) => a.get(*i).map(Node::Value),
                _ => None,
            },
            (Node::Item(Item::ArrayOfTables(a)), Seg::Index(i)) => a.get(*i).map(Node::Table),
            _ => None,
        }
    }
}

/// The line where the value at `path` starts, or where its nearest enclosing
/// table does when the key itself is absent.
pub fn line_of(text: &str, path: &str) -> Option<usize> {
    let doc = toml_edit::ImDocument::parse(text).ok()?;
    let mut node = Node::Item(doc.as_item());
    let mut best = None;
    for seg in segments(path) {
        match node.child(&seg) {
            Some(n) => {
                node = n;
                if let Some(span) = node.span() {
                    best = Some(span.start);
                }
            }
            None => break,
        }
    }
    best.map(|at| line_at(text, at))
}
