//! A small YAML node tree built from `saphyr-parser` events, where every node remembers its
//! exact source location (byte offsets into the text, and the column of its first character).
//! It is only used to *find* the scalars to edit; the text itself is edited by splicing.

use std::collections::HashSet;

use saphyr_parser::{Event, Parser, ScalarStyle, Span};

use super::PointerError;

#[derive(Debug, Clone)]
pub(crate) enum Kind {
    Scalar {
        value: String,
        style: ScalarStyle,
        /// Carries an explicit tag (`!!str`, `!custom`).
        tagged: bool,
    },
    Map {
        entries: Vec<(Node, Node)>,
        flow: bool,
    },
    Seq {
        items: Vec<Node>,
        flow: bool,
    },
    Alias,
}

#[derive(Debug, Clone)]
pub(crate) struct Node {
    pub kind: Kind,
    /// Anchor id (0 = no anchor).
    pub anchor: usize,
    /// Byte offset of the first character of the node (for block collections: of their
    /// first entry).
    pub start: usize,
    /// Byte offset just after the node.
    pub end: usize,
    /// Column (in characters) of `start`.
    pub col: usize,
}

impl Node {
    /// The value of a scalar node.
    pub fn scalar(&self) -> Option<&str> {
        match &self.kind {
            Kind::Scalar { value, .. } => Some(value),
            _ => None,
        }
    }

    /// The entry of a mapping node whose key is the plain string `key`: (index, key, value).
    pub fn entry(&self, key: &str) -> Option<(usize, &Node, &Node)> {
        match &self.kind {
            Kind::Map { entries, .. } => {
                entries.iter().enumerate().find(|(_, (k, _))| k.scalar() == Some(key)).map(|(i, (k, v))| (i, k, v))
            }
            _ => None,
        }
    }

    /// The value under `key` in a mapping node.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.entry(key).map(|(_, _, v)| v)
    }

    pub fn is_map(&self) -> bool {
        matches!(self.kind, Kind::Map { .. })
    }

    pub fn describe(&self) -> &'static str {
        match &self.kind {
            Kind::Scalar { .. } => "a scalar",
            Kind::Map { .. } => "a mapping",
            Kind::Seq { .. } => "a sequence",
            Kind::Alias => "an alias",
        }
    }
}

/// A parsed file: its documents and the anchors that some alias refers to.
#[derive(Debug)]
pub(crate) struct Tree {
    pub docs: Vec<Node>,
    pub aliased: HashSet<usize>,
}

enum Frame {
    Map { entries: Vec<(Node, Node)>, key: Option<Node>, flow: bool, anchor: usize, start: usize, col: usize },
    Seq { items: Vec<Node>, flow: bool, anchor: usize, start: usize, col: usize },
}

/// Converts saphyr's character indices to byte offsets.
struct Offsets {
    bytes: Vec<usize>,
}

impl Offsets {
    fn new(text: &str) -> Self {
        let mut bytes: Vec<usize> = text.char_indices().map(|(b, _)| b).collect();
        bytes.push(text.len());
        Offsets { bytes }
    }
    fn byte(&self, char_index: usize) -> usize {
        self.bytes.get(char_index).copied().unwrap_or(*self.bytes.last().unwrap_or(&0))
    }
}

fn opens_flow(text: &str, span: &Span, off: &Offsets, open: char) -> bool {
    let s = off.byte(span.start.index());
    let e = off.byte(span.end.index());
    text.get(s..e).is_some_and(|t| t.trim_end().ends_with(open))
}

/// The byte offset just after the quoted scalar that starts at `start`.
fn quoted_end(text: &str, start: usize) -> Option<usize> {
    let rest = text.get(start..)?;
    let mut chars = rest.char_indices();
    let (_, q) = chars.next()?;
    if q != '\'' && q != '"' {
        return None;
    }
    while let Some((i, c)) = chars.next() {
        if q == '"' && c == '\\' {
            chars.next();
        } else if c == q {
            if q == '\'' && rest[i + 1..].starts_with('\'') {
                chars.next();
            } else {
                return Some(start + i + 1);
            }
        }
    }
    None
}

/// Parses `text` (without a byte-order mark) into a [`Tree`].
pub(crate) fn parse(text: &str) -> Result<Tree, PointerError> {
    let off = Offsets::new(text);
    let mut docs = Vec::new();
    let mut aliased = HashSet::new();
    let mut stack: Vec<Frame> = Vec::new();

    for ev in Parser::new_from_str(text) {
        let (event, span) = ev.map_err(|e| {
            PointerError::Parse(format!(
                "not valid YAML: {} at line {} column {}",
                e.info(),
                e.marker().line(),
                e.marker().col() + 1
            ))
        })?;
        let start = off.byte(span.start.index());
        let end = off.byte(span.end.index());
        let col = span.start.col();
        let done = match event {
            Event::Scalar(value, style, anchor, tag) => {
                // saphyr's span of a quoted scalar can run past the closing quote (e.g. over
                // a trailing comment on the last line): find the closing quote ourselves.
                let end = match style {
                    ScalarStyle::SingleQuoted | ScalarStyle::DoubleQuoted => quoted_end(text, start).unwrap_or(end),
                    _ => end,
                };
                Some(Node {
                    kind: Kind::Scalar { value: value.into_owned(), style, tagged: tag.is_some() },
                    anchor,
                    start,
                    end,
                    col,
                })
            }
            Event::Alias(id) => {
                aliased.insert(id);
                Some(Node { kind: Kind::Alias, anchor: 0, start, end, col })
            }
            Event::MappingStart(anchor, _) => {
                let flow = opens_flow(text, &span, &off, '{');
                stack.push(Frame::Map { entries: Vec::new(), key: None, flow, anchor, start, col });
                None
            }
            Event::SequenceStart(anchor, _) => {
                let flow = opens_flow(text, &span, &off, '[');
                stack.push(Frame::Seq { items: Vec::new(), flow, anchor, start, col });
                None
            }
            Event::MappingEnd | Event::SequenceEnd => match stack.pop() {
                Some(Frame::Map { entries, flow, anchor, start, col, .. }) => {
                    Some(Node { kind: Kind::Map { entries, flow }, anchor, start, end, col })
                }
                Some(Frame::Seq { items, flow, anchor, start, col }) => {
                    Some(Node { kind: Kind::Seq { items, flow }, anchor, start, end, col })
                }
                None => return Err(PointerError::Parse("unbalanced YAML structure".into())),
            },
            _ => None,
        };
        if let Some(node) = done {
            match stack.last_mut() {
                None => docs.push(node),
                Some(Frame::Seq { items, .. }) => items.push(node),
                Some(Frame::Map { entries, key, .. }) => match key.take() {
                    None => *key = Some(node),
                    Some(k) => entries.push((k, node)),
                },
            }
        }
    }
    Ok(Tree { docs, aliased })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_are_bytes() {
        let text = "é: \"ü\"\nb: [1, 2]\nc: {x: y}\n";
        let t = parse(text).unwrap();
        let root = &t.docs[0];
        let v = root.get("é").unwrap();
        assert_eq!(&text[v.start..v.end], "\"ü\"");
        assert!(matches!(root.get("b").unwrap().kind, Kind::Seq { flow: true, .. }));
        assert!(matches!(root.get("c").unwrap().kind, Kind::Map { flow: true, .. }));
        assert!(matches!(root.kind, Kind::Map { flow: false, .. }));
    }

    #[test]
    fn quoted_ends() {
        let text = "a: 'it''s' # x\nb: \"q\\\"\" # {\"y\": 1}\n";
        let t = parse(text).unwrap();
        let a = t.docs[0].get("a").unwrap();
        assert_eq!(&text[a.start..a.end], "'it''s'");
        let b = t.docs[0].get("b").unwrap();
        assert_eq!(&text[b.start..b.end], "\"q\\\"\"");
    }
}
