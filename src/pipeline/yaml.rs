//! A small YAML tree with line numbers, built from saphyr-parser events.
//!
//! The pipeline validator needs three things a serde deserializer does not give it: the line of
//! every node (for messages), all duplicate keys (YAML says they are an error; most loaders keep
//! the last one silently), and the ability to keep going after a problem so that one run of
//! `baton check-config` lists every problem. The tree is small on purpose: scalars keep their
//! text, collections their children, every node its 1-based line.

use std::collections::HashMap;

use saphyr_parser::{Event, Parser, ScalarStyle, Tag};

use super::Problem;

/// Largest pipeline file accepted (a real one is a few kilobytes).
pub(crate) const MAX_BYTES: usize = 1024 * 1024;
/// Most nodes in the tree, aliases expanded (stops "billion laughs" documents).
const MAX_NODES: usize = 100_000;
/// Deepest nesting accepted (a pipeline file needs 6).
const MAX_DEPTH: usize = 64;

#[derive(Debug, Clone)]
pub(crate) struct Node {
    /// 1-based line where the node starts.
    pub line: usize,
    pub kind: Kind,
}

#[derive(Debug, Clone)]
pub(crate) enum Kind {
    /// A scalar; `plain` is false when it was quoted or a block scalar (so `'null'` is a string).
    Scalar {
        value: String,
        plain: bool,
    },
    Seq(Vec<Node>),
    /// Entries in file order; keys are scalars; duplicate keys were reported and dropped.
    Map(Vec<(Node, Node)>),
}

impl Node {
    /// A plain `~`, `null` or empty scalar.
    pub fn is_null(&self) -> bool {
        matches!(&self.kind, Kind::Scalar { value, plain: true } if matches!(value.as_str(), "" | "~" | "null" | "Null" | "NULL"))
    }

    /// What the node is, for "expected X, found Y" messages.
    pub fn describe(&self) -> &'static str {
        match &self.kind {
            _ if self.is_null() => "nothing (null)",
            Kind::Scalar { .. } => "a scalar",
            Kind::Seq(_) => "a list",
            Kind::Map(_) => "a mapping",
        }
    }

    /// The scalar's text, if the node is a scalar.
    pub fn as_scalar(&self) -> Option<&str> {
        match &self.kind {
            Kind::Scalar { value, .. } => Some(value),
            _ => None,
        }
    }

    fn count(&self) -> usize {
        match &self.kind {
            Kind::Scalar { .. } => 1,
            Kind::Seq(items) => 1 + items.iter().map(Node::count).sum::<usize>(),
            Kind::Map(entries) => 1 + entries.iter().map(|(k, v)| k.count() + v.count()).sum::<usize>(),
        }
    }
}

enum Frame {
    Seq {
        line: usize,
        anchor: usize,
        items: Vec<Node>,
    },
    Map {
        line: usize,
        anchor: usize,
        entries: Vec<(Node, Node)>,
        key: Option<Node>,
        drop_value: bool,
        seen: HashMap<String, usize>,
    },
}

/// Parses one YAML document into a tree. Problems that do not stop the parse (duplicate keys,
/// non-scalar keys, tags) are pushed to `problems`; a syntax error ends it with `None`.
pub(crate) fn load(text: &str, problems: &mut Vec<Problem>) -> Option<Node> {
    if text.len() > MAX_BYTES {
        problems.push(Problem { line: None, message: format!("the file is larger than {} KiB", MAX_BYTES / 1024) });
        return None;
    }
    // The parser is not expected to panic, but a pipeline file is untrusted input and a panic
    // must never take the process down.
    let result = std::panic::catch_unwind(|| {
        let mut local = Vec::new();
        let root = Builder::default().run(text, &mut local);
        (root, local)
    });
    match result {
        Ok((root, local)) => {
            problems.extend(local);
            root
        }
        Err(_) => {
            problems.push(Problem { line: None, message: "the file is not YAML that baton can read".into() });
            None
        }
    }
}

#[derive(Default)]
struct Builder {
    stack: Vec<Frame>,
    anchors: HashMap<usize, Node>,
    nodes: usize,
    root: Option<Node>,
    documents: usize,
}

fn problem(line: usize, message: impl Into<String>) -> Problem {
    Problem { line: Some(line), message: message.into() }
}

impl Builder {
    fn run(mut self, text: &str, problems: &mut Vec<Problem>) -> Option<Node> {
        let mut parser = Parser::new_from_str(text);
        loop {
            let (event, span) = match parser.next_event() {
                None => break,
                Some(Ok(ev)) => ev,
                Some(Err(e)) => {
                    problems.push(problem(e.marker().line().max(1), format!("invalid YAML: {}", e.info())));
                    return None;
                }
            };
            let line = span.start.line().max(1);
            match event {
                Event::StreamStart | Event::StreamEnd | Event::Nothing | Event::DocumentEnd => {}
                Event::DocumentStart(_) => {
                    self.documents += 1;
                    if self.documents > 1 {
                        problems
                            .push(problem(line, "the file must hold exactly one YAML document (found a second `---`)"));
                        return None;
                    }
                }
                Event::Scalar(value, style, anchor, tag) => {
                    self.check_tag(tag.as_deref(), line, problems);
                    let node = Node {
                        line,
                        kind: Kind::Scalar { value: value.into_owned(), plain: style == ScalarStyle::Plain },
                    };
                    if !self.finish(node, anchor, 1, problems) {
                        return None;
                    }
                }
                Event::Alias(id) => {
                    let Some(node) = self.anchors.get(&id).cloned() else {
                        problems.push(problem(line, "alias refers to an unknown anchor"));
                        return None;
                    };
                    let cost = node.count();
                    if !self.finish(node, 0, cost, problems) {
                        return None;
                    }
                }
                Event::SequenceStart(anchor, tag) | Event::MappingStart(anchor, tag)
                    if self.stack.len() >= MAX_DEPTH =>
                {
                    let _ = (anchor, tag);
                    problems.push(problem(line, format!("nesting deeper than {MAX_DEPTH} levels")));
                    return None;
                }
                Event::SequenceStart(anchor, tag) => {
                    self.check_tag(tag.as_deref(), line, problems);
                    self.stack.push(Frame::Seq { line, anchor, items: Vec::new() });
                }
                Event::MappingStart(anchor, tag) => {
                    self.check_tag(tag.as_deref(), line, problems);
                    self.stack.push(Frame::Map {
                        line,
                        anchor,
                        entries: Vec::new(),
                        key: None,
                        drop_value: false,
                        seen: HashMap::new(),
                    });
                }
                Event::SequenceEnd | Event::MappingEnd => {
                    let (node, anchor) = match self.stack.pop() {
                        Some(Frame::Seq { line, anchor, items }) => (Node { line, kind: Kind::Seq(items) }, anchor),
                        Some(Frame::Map { line, anchor, entries, .. }) => {
                            (Node { line, kind: Kind::Map(entries) }, anchor)
                        }
                        None => return None,
                    };
                    if !self.finish(node, anchor, 1, problems) {
                        return None;
                    }
                }
            }
        }
        self.root
    }

    fn check_tag(&self, tag: Option<&Tag>, line: usize, problems: &mut Vec<Problem>) {
        if let Some(tag) = tag {
            if !tag.is_yaml_core_schema() {
                problems.push(problem(line, format!("YAML tag {tag} is not supported here")));
            }
        }
    }

    /// Places a completed node in its parent (or as the root); `cost` is the number of nodes
    /// it adds to the tree. False: stop parsing.
    fn finish(&mut self, node: Node, anchor: usize, cost: usize, problems: &mut Vec<Problem>) -> bool {
        self.nodes = self.nodes.saturating_add(cost);
        if self.nodes > MAX_NODES {
            problems.push(problem(node.line, format!("the document expands to more than {MAX_NODES} nodes")));
            return false;
        }
        if anchor > 0 {
            self.anchors.insert(anchor, node.clone());
        }
        match self.stack.last_mut() {
            None => self.root = Some(node),
            Some(Frame::Seq { items, .. }) => items.push(node),
            Some(Frame::Map { entries, key, drop_value, seen, .. }) => match key.take() {
                None => match &node.kind {
                    Kind::Scalar { value, .. } => {
                        if let Some(first) = seen.get(value) {
                            problems.push(problem(
                                node.line,
                                format!("duplicate key `{}` (first on line {first})", super::shorten(value)),
                            ));
                            *drop_value = true;
                        } else {
                            seen.insert(value.clone(), node.line);
                            *drop_value = false;
                        }
                        *key = Some(node);
                    }
                    _ => {
                        problems.push(problem(node.line, "mapping keys must be plain strings"));
                        *drop_value = true;
                        *key = Some(node);
                    }
                },
                Some(k) => {
                    if !*drop_value {
                        entries.push((k, node));
                    }
                    *drop_value = false;
                }
            },
        }
        true
    }
}
