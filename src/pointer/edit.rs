//! Splicing edits into the original text: replacing a scalar in place (keeping its quoting
//! style), inserting a `key: value` entry right after or before a sibling entry (same
//! indentation, same line ending), and rendering scalars so that YAML does not re-type them.

use std::sync::LazyLock;

use regex::Regex;
use saphyr_parser::ScalarStyle;

use super::tree::{Kind, Node, Tree};
use super::PointerError;

/// One step of a concrete path into a document, for the re-parse comparison.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Seg {
    Key(String),
    Index(usize),
}

/// An intended change: the scalar at `path` in document `doc` becomes `value` (or the key is
/// removed when `value` is `None`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Change {
    pub doc: usize,
    pub path: Vec<Seg>,
    pub value: Option<String>,
}

#[derive(Debug, Clone)]
struct Splice {
    start: usize,
    end: usize,
    text: String,
}

/// Collects splices and the changes they are meant to make.
pub(crate) struct Editor<'a> {
    pub text: &'a str,
    pub tree: &'a Tree,
    splices: Vec<Splice>,
    pub changes: Vec<Change>,
}

fn unsafe_(msg: impl Into<String>) -> PointerError {
    PointerError::Unsafe(msg.into())
}

/// Style to use for a brand-new scalar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NewStyle {
    Plain,
    Single,
    Double,
}

impl NewStyle {
    /// A new scalar next to `node` takes its quoting style.
    pub fn like(node: &Node) -> NewStyle {
        match &node.kind {
            Kind::Scalar { style: ScalarStyle::SingleQuoted, .. } => NewStyle::Single,
            Kind::Scalar { style: ScalarStyle::DoubleQuoted, .. } => NewStyle::Double,
            _ => NewStyle::Plain,
        }
    }
}

static RETYPED: LazyLock<Vec<Regex>> = LazyLock::new(|| {
    [
        // YAML 1.1 and 1.2 booleans.
        r"^(y|Y|yes|Yes|YES|n|N|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)$",
        // Null.
        r"^(~|null|Null|NULL)$",
        // Integers (1.1 and 1.2: binary, octal, hex, decimal with `_`, sexagesimal).
        r"^[-+]?(0b[01_]+|0o[0-7_]+|0x[0-9a-fA-F_]+|[0-9][0-9_]*|[1-9][0-9_]*(:[0-5]?[0-9])+)$",
        // Floats (1.1 needs a dot, 1.2 allows `1e5`), infinities, NaN.
        r"^[-+]?(([0-9][0-9_]*)?\.[0-9_]*([eE][-+]?[0-9]+)?|[0-9][0-9_]*[eE][-+]?[0-9]+|[0-9][0-9_]*(:[0-5]?[0-9])+\.[0-9_]*)$",
        r"^[-+]?\.(inf|Inf|INF)$",
        r"^\.(nan|NaN|NAN)$",
        // Timestamps (YAML 1.1): anything starting with a date.
        r"^[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}",
        // Merge and value keys.
        r"^(<<|=)$",
    ]
    .iter()
    .map(|r| Regex::new(r).expect("static regex"))
    .collect()
});

/// Whether a plain scalar with this text would be read as something other than a string
/// (by a YAML 1.1 or a YAML 1.2 reader).
pub(crate) fn retyped(value: &str) -> bool {
    RETYPED.iter().any(|r| r.is_match(value))
}

/// Whether `value` can be written as a plain scalar and read back as the same string.
pub(crate) fn plain_ok(value: &str, flow: bool) -> bool {
    let Some(first) = value.chars().next() else {
        return false;
    };
    !"-?:,[]{}#&*!|>'\"%@`".contains(first)
        && !first.is_whitespace()
        && !value.ends_with(char::is_whitespace)
        && !value.ends_with(':')
        && !value.contains(": ")
        && !value.contains(" #")
        && !value.contains('\t')
        && !(flow && value.contains([',', '[', ']', '{', '}']))
        && !retyped(value)
}

/// Renders `value` as a scalar in the given style (plain falls back to double quotes when
/// plain would not read back as the same string).
pub(crate) fn render(value: &str, style: NewStyle, flow: bool) -> Result<String, PointerError> {
    if value.chars().any(|c| c.is_control() || c == '\u{feff}' || c == '\u{2028}' || c == '\u{2029}') {
        return Err(unsafe_(format!("refusing to write {value:?}: it contains a control character or line break")));
    }
    Ok(match style {
        NewStyle::Plain if plain_ok(value, flow) => value.to_string(),
        NewStyle::Single => format!("'{}'", value.replace('\'', "''")),
        NewStyle::Plain | NewStyle::Double => {
            format!("\"{}\"", value.replace('\\', "\\\\").replace('"', "\\\""))
        }
    })
}

impl<'a> Editor<'a> {
    pub fn new(text: &'a str, tree: &'a Tree) -> Self {
        Editor { text, tree, splices: Vec::new(), changes: Vec::new() }
    }

    /// The line ending used by the line containing `pos`, or the file's usual one.
    fn eol_at(&self, pos: usize) -> &'static str {
        let end = self.line_end(pos);
        if self.text[end..].starts_with("\r\n") {
            "\r\n"
        } else if self.text[end..].starts_with('\n') {
            "\n"
        } else if self.text.contains("\r\n") {
            "\r\n"
        } else {
            "\n"
        }
    }

    /// Byte offset of the end of the line containing `pos` (before `\r\n` / `\n`, or EOF).
    fn line_end(&self, pos: usize) -> usize {
        match self.text[pos..].find('\n') {
            Some(i) => {
                let nl = pos + i;
                if nl > 0 && self.text.as_bytes()[nl - 1] == b'\r' {
                    nl - 1
                } else {
                    nl
                }
            }
            None => self.text.len(),
        }
    }

    fn line_start(&self, pos: usize) -> usize {
        self.text[..pos].rfind('\n').map_or(0, |i| i + 1)
    }

    /// Refuses nodes that an alias elsewhere refers to: editing them would silently change
    /// the aliased copies too.
    pub fn check_not_aliased(&self, nodes: &[&Node], what: &str) -> Result<(), PointerError> {
        for n in nodes {
            if matches!(n.kind, Kind::Alias) {
                return Err(unsafe_(format!(
                    "{what} is reached through an alias (*…): edit the anchored original instead"
                )));
            }
            if n.anchor != 0 && self.tree.aliased.contains(&n.anchor) {
                return Err(unsafe_(format!(
                    "{what} is inside an anchored node (&…) that an alias uses elsewhere; editing it would change the aliased copies too"
                )));
            }
        }
        Ok(())
    }

    fn push(&mut self, start: usize, end: usize, text: String) {
        self.splices.push(Splice { start, end, text });
    }

    /// Replaces the scalar `node` with `value`, keeping its quoting style.
    pub fn replace(&mut self, node: &Node, value: &str, flow: bool, change: Change) -> Result<(), PointerError> {
        let Kind::Scalar { value: old, style, tagged } = &node.kind else {
            return Err(unsafe_(format!("expected a scalar to replace, found {}", node.describe())));
        };
        if *tagged || node.anchor != 0 {
            return Err(unsafe_("the value carries a YAML tag or anchor (!… / &…); edit it by hand"));
        }
        let src = &self.text[node.start..node.end];
        let new_style = match style {
            ScalarStyle::Plain => NewStyle::Plain,
            ScalarStyle::SingleQuoted => NewStyle::Single,
            ScalarStyle::DoubleQuoted => NewStyle::Double,
            ScalarStyle::Literal | ScalarStyle::Folded => {
                return Err(unsafe_("the value is a block scalar (| or >); edit it by hand"))
            }
        };
        let rendered = render(value, new_style, flow)?;
        match style {
            ScalarStyle::Plain if old.is_empty() && src.is_empty() => {
                // An empty (null) value: the parser puts it at the `:` of its key.
                if !self.text[node.start..].starts_with(':') {
                    return Err(unsafe_("cannot locate the empty value in the text"));
                }
                self.push(node.start + 1, node.start + 1, format!(" {rendered}"));
            }
            ScalarStyle::Plain => {
                if src != old {
                    return Err(unsafe_("a multi-line plain value; edit it by hand"));
                }
                self.push(node.start, node.end, rendered);
            }
            _ => {
                let q = if *style == ScalarStyle::SingleQuoted { '\'' } else { '"' };
                if !(src.len() >= 2 && src.starts_with(q) && src.ends_with(q)) || src.contains('\n') {
                    return Err(unsafe_("cannot locate the quoted value in the text"));
                }
                self.push(node.start, node.end, rendered);
            }
        }
        self.changes.push(change);
        Ok(())
    }

    /// Whether the entry `(key, value)` of a block mapping sits on one line.
    fn one_line(&self, key: &Node, value: &Node) -> bool {
        let end = value.end.max(key.end);
        matches!(&value.kind, Kind::Scalar { style, .. } if !matches!(style, ScalarStyle::Literal | ScalarStyle::Folded))
            && !self.text[key.start..end].contains('\n')
    }

    /// Whether the entry can serve as an anchor for inserting new entries next to it.
    pub fn can_anchor(&self, map: &Node, key: &Node, value: &Node) -> bool {
        match &map.kind {
            Kind::Map { flow: true, .. } => value.end > value.start,
            Kind::Map { flow: false, .. } => self.one_line(key, value),
            _ => false,
        }
    }

    fn entry_text(items: &[(&str, String)], indent: &str, eol: &str) -> String {
        items.iter().map(|(k, v)| format!("{eol}{indent}{k}: {v}")).collect()
    }

    /// Inserts `items` (`key`, rendered value) right after the entry `(key, value)` of `map`,
    /// with the entry's indentation.
    pub fn insert_after(
        &mut self,
        map: &Node,
        key: &Node,
        value: &Node,
        items: &[(&str, String)],
    ) -> Result<(), PointerError> {
        match &map.kind {
            Kind::Map { flow: true, .. } => {
                let text: String = items.iter().map(|(k, v)| format!(", {k}: {v}")).collect();
                self.push(value.end, value.end, text);
            }
            Kind::Map { flow: false, .. } => {
                if !self.one_line(key, value) {
                    return Err(unsafe_("cannot add a key after a multi-line entry"));
                }
                let pos = self.line_end(value.end.max(key.end));
                let eol = self.eol_at(pos);
                let indent = " ".repeat(key.col);
                self.push(pos, pos, Self::entry_text(items, &indent, eol));
            }
            _ => return Err(unsafe_("expected a mapping")),
        }
        Ok(())
    }

    /// Inserts `items` right before the entry whose key is `key` (falls back to after it when
    /// the key does not start its line, e.g. `- digest: …`).
    pub fn insert_before(
        &mut self,
        map: &Node,
        key: &Node,
        value: &Node,
        items: &[(&str, String)],
    ) -> Result<(), PointerError> {
        match &map.kind {
            Kind::Map { flow: true, .. } => {
                let text: String = items.iter().map(|(k, v)| format!("{k}: {v}, ")).collect();
                self.push(key.start, key.start, text);
                Ok(())
            }
            Kind::Map { flow: false, .. } => {
                let ls = self.line_start(key.start);
                if !self.text[ls..key.start].chars().all(|c| c == ' ') {
                    return self.insert_after(map, key, value, items);
                }
                let eol = self.eol_at(key.start);
                let indent = " ".repeat(key.col);
                let text: String = items.iter().map(|(k, v)| format!("{indent}{k}: {v}{eol}")).collect();
                self.push(ls, ls, text);
                Ok(())
            }
            _ => Err(unsafe_("expected a mapping")),
        }
    }

    /// Replaces a whole one-line entry `key: value` of a block mapping by `items` (the first
    /// on the entry's line, the others on new lines after it).
    pub fn replace_entry(
        &mut self,
        map: &Node,
        key: &Node,
        value: &Node,
        items: &[(&str, String)],
    ) -> Result<(), PointerError> {
        let Kind::Map { flow: false, .. } = &map.kind else {
            return Err(unsafe_("expected a block mapping"));
        };
        if !self.one_line(key, value) || items.is_empty() {
            return Err(unsafe_("cannot replace a multi-line entry"));
        }
        let end = value.end.max(key.end);
        let eol = self.eol_at(end);
        let indent = " ".repeat(key.col);
        let mut text = format!("{}: {}", items[0].0, items[0].1);
        text.push_str(&Self::entry_text(&items[1..], &indent, eol));
        self.push(key.start, end, text);
        Ok(())
    }

    /// Inserts a nested block `parent_key:` with `items` under it after the entry
    /// `(key, value)` of the block mapping `map`.
    pub fn insert_block_after(
        &mut self,
        map: &Node,
        key: &Node,
        value: &Node,
        parent_key: &str,
        step: usize,
        items: &[(&str, String)],
    ) -> Result<(), PointerError> {
        let Kind::Map { flow: false, .. } = &map.kind else {
            return Err(unsafe_("expected a block mapping"));
        };
        if !self.one_line(key, value) {
            return Err(unsafe_("cannot add a key after a multi-line entry"));
        }
        let pos = self.line_end(value.end.max(key.end));
        let eol = self.eol_at(pos);
        let indent = " ".repeat(key.col);
        let inner = " ".repeat(key.col + step);
        let mut text = format!("{eol}{indent}{parent_key}:");
        text.push_str(&Self::entry_text(items, &inner, eol));
        self.push(pos, pos, text);
        Ok(())
    }

    pub fn record(&mut self, change: Change) {
        self.changes.push(change);
    }

    /// Applies the splices to the text.
    pub fn finish(mut self) -> Result<(String, Vec<Change>), PointerError> {
        self.splices.sort_by_key(|s| (s.start, s.end));
        let mut out = String::with_capacity(self.text.len() + 256);
        let mut pos = 0;
        for s in &self.splices {
            if s.start < pos {
                return Err(unsafe_("overlapping edits"));
            }
            out.push_str(&self.text[pos..s.start]);
            out.push_str(&s.text);
            pos = s.end;
        }
        out.push_str(&self.text[pos..]);
        Ok((out, self.changes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retyping() {
        for v in [
            "1.10",
            "10",
            "true",
            "True",
            "yes",
            "on",
            "Off",
            "null",
            "1e5",
            "0x1F",
            "0o17",
            "1_000",
            "2024-01-01",
            "1.",
            "y",
            "N",
        ] {
            assert!(retyped(v), "{v}");
            assert!(!plain_ok(v, false), "{v}");
        }
        for v in ["1.2.3", "v1.10", "latest", "1.29.1-debian-12-r0", "sha256:abc", "0.0.1-SNAPSHOT", "1-2"] {
            assert!(!retyped(v), "{v}");
            assert!(plain_ok(v, false), "{v}");
        }
        assert!(!plain_ok("a, b", true));
        assert!(plain_ok("a, b", false));
    }

    #[test]
    fn rendering() {
        assert_eq!(render("1.10", NewStyle::Plain, false).unwrap(), "\"1.10\"");
        assert_eq!(render("it's", NewStyle::Single, false).unwrap(), "'it''s'");
        assert_eq!(render("a\"b\\", NewStyle::Double, false).unwrap(), "\"a\\\"b\\\\\"");
        assert!(render("a\nb", NewStyle::Plain, false).is_err());
    }
}
