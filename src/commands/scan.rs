//! Finds the lines of a comment that GitHub renders as ordinary text starting with `/`.
//!
//! This is a deliberately small, line-based approximation of CommonMark block structure
//! (the comment is never rendered; we only need to know where a command could be). It
//! errs on the side of "not a command": a line is a candidate only if GitHub would render
//! it as plain paragraph text at the start of a line. Skipped:
//!
//! - fenced code blocks (```` ``` ```` and `~~~`, any info string, any length ≥ 3; a fence
//!   closes only with the same character at least as long; an unclosed fence runs to the end);
//! - indented code: a line indented by 4 or more columns (a tab counts as 4) is never a
//!   candidate;
//! - block quotes (`>` lines), and "lazy continuation" lines directly after a quoted
//!   paragraph line — GitHub shows those inside the quote; they are reported with
//!   `lazy_quote` so the parser can explain instead of staying silent;
//! - HTML comments (`<!-- … -->`, also spanning lines and in the middle of a line; comment
//!   markers inside inline code spans do not count) and raw HTML blocks `<pre>`, `<script>`,
//!   `<style>`, `<textarea>` up to their closing tag;
//! - inline code: a line starting with a backtick does not start with `/`.
//!
//! Work is bounded: only the first [`MAX_BYTES`] bytes and [`MAX_LINES`] lines are looked at
//! (a line cut by the byte limit is dropped rather than read half).

/// How many bytes of a comment are scanned (GitHub limits comments to 65 536 characters).
pub const MAX_BYTES: usize = 64 * 1024;
/// How many lines of a comment are scanned.
pub const MAX_LINES: usize = 1000;

/// A line that starts with `/` in ordinary text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SlashLine {
    /// 1-based line number in the comment.
    pub number: usize,
    /// The visible text of the line from the `/` on (HTML comments removed).
    pub text: String,
    /// The line directly follows a quoted paragraph line, so GitHub renders it inside the quote.
    pub lazy_quote: bool,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    Text,
    Fence { ch: u8, len: usize },
    Comment,
    HtmlBlock(&'static str),
}

/// What the previous line was, as far as paragraph continuation is concerned.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Prev {
    Blank,
    Paragraph,
    QuoteParagraph,
    Other,
}

/// The candidate command lines of a comment body.
pub(crate) fn candidates(body: &str) -> Vec<SlashLine> {
    let body = bounded(body);
    let body = body.replace("\r\n", "\n").replace('\r', "\n");
    let mut out = Vec::new();
    let mut state = State::Text;
    let mut prev = Prev::Blank;
    for (index, line) in body.split('\n').take(MAX_LINES).enumerate() {
        match state {
            State::Fence { ch, len } => {
                if closes_fence(line, ch, len) {
                    state = State::Text;
                    prev = Prev::Other;
                }
                continue;
            }
            State::HtmlBlock(end) => {
                if contains_ignore_ascii_case(line, end) {
                    state = State::Text;
                    prev = Prev::Other;
                }
                continue;
            }
            State::Comment => {
                if !strip_comments(line, true).1 {
                    state = State::Text;
                    prev = Prev::Other;
                }
                continue;
            }
            State::Text => {}
        }
        if line.trim().is_empty() {
            prev = Prev::Blank;
            continue;
        }
        let (columns, offset) = indent(line);
        let rest = &line[offset..];
        if columns >= 4 {
            // A continuation of a paragraph (where comments count), or indented code.
            if matches!(prev, Prev::Paragraph | Prev::QuoteParagraph) {
                if strip_comments(rest, false).1 {
                    state = State::Comment;
                }
            } else {
                prev = Prev::Other;
            }
            continue;
        }
        if rest.starts_with('>') {
            let content = rest.trim_start_matches(['>', ' ', '\t']);
            prev = if content.is_empty() || fence_open(content).is_some() { Prev::Other } else { Prev::QuoteParagraph };
            continue;
        }
        if let Some((ch, len)) = fence_open(rest) {
            state = State::Fence { ch, len };
            prev = Prev::Other;
            continue;
        }
        if rest.starts_with("<!--") {
            if strip_comments(rest, false).1 {
                state = State::Comment;
            }
            prev = Prev::Other;
            continue;
        }
        if let Some(end) = html_block_end(rest) {
            if !contains_ignore_ascii_case(rest, end) {
                state = State::HtmlBlock(end);
            }
            prev = Prev::Other;
            continue;
        }
        let (visible, open) = strip_comments(rest, false);
        if open {
            state = State::Comment;
        }
        if rest.starts_with('/') {
            out.push(SlashLine { number: index + 1, text: visible, lazy_quote: prev == Prev::QuoteParagraph });
        }
        if prev != Prev::QuoteParagraph {
            prev = Prev::Paragraph;
        }
    }
    out
}

/// The first [`MAX_BYTES`] bytes, without a line the limit cuts through.
fn bounded(body: &str) -> &str {
    if body.len() <= MAX_BYTES {
        return body;
    }
    let mut end = MAX_BYTES;
    while !body.is_char_boundary(end) {
        end -= 1;
    }
    let head = &body[..end];
    match head.rfind(['\n', '\r']) {
        Some(newline) => &head[..newline],
        None => "",
    }
}

/// Leading indentation in columns (tab stops of 4) and in bytes.
fn indent(line: &str) -> (usize, usize) {
    let mut columns = 0;
    for (i, b) in line.bytes().enumerate() {
        match b {
            b' ' => columns += 1,
            b'\t' => columns += 4 - columns % 4,
            _ => return (columns, i),
        }
    }
    (columns, line.len())
}

/// An opening code fence (after indentation): its character and length.
fn fence_open(rest: &str) -> Option<(u8, usize)> {
    let ch = *rest.as_bytes().first()?;
    if ch != b'`' && ch != b'~' {
        return None;
    }
    let len = rest.bytes().take_while(|&b| b == ch).count();
    if len < 3 {
        return None;
    }
    // A backtick fence's info string may not contain backticks (that would be inline code).
    if ch == b'`' && rest[len..].contains('`') {
        return None;
    }
    Some((ch, len))
}

fn closes_fence(line: &str, ch: u8, len: usize) -> bool {
    let (columns, offset) = indent(line);
    let rest = &line[offset..];
    let run = rest.bytes().take_while(|&b| b == ch).count();
    columns < 4 && run >= len && rest[run..].trim().is_empty()
}

/// The closing tag of a raw HTML block whose content GitHub shows verbatim.
fn html_block_end(rest: &str) -> Option<&'static str> {
    const BLOCKS: [(&str, &str); 4] =
        [("<pre", "</pre>"), ("<script", "</script>"), ("<style", "</style>"), ("<textarea", "</textarea>")];
    for (open, close) in BLOCKS {
        let Some(head) = rest.get(..open.len()) else { continue };
        if head.eq_ignore_ascii_case(open) {
            match rest.as_bytes().get(open.len()) {
                None | Some(b' ' | b'\t' | b'>') => return Some(close),
                _ => {}
            }
        }
    }
    None
}

fn contains_ignore_ascii_case(haystack: &str, needle: &str) -> bool {
    haystack.as_bytes().windows(needle.len()).any(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
}

/// Removes `<!-- … -->` from a line, ignoring markers inside inline code spans. Returns the
/// visible text and whether a comment is still open at the end of the line.
fn strip_comments(line: &str, mut in_comment: bool) -> (String, bool) {
    let bytes = line.as_bytes();
    let mut out = String::new();
    let mut i = 0;
    while i < bytes.len() {
        if in_comment {
            match line[i..].find("-->") {
                Some(p) => {
                    i += p + 3;
                    in_comment = false;
                }
                None => return (out, true),
            }
        } else if bytes[i] == b'`' {
            let run = bytes[i..].iter().take_while(|&&b| b == b'`').count();
            let end = closing_backticks(bytes, i + run, run).unwrap_or(i + run);
            out.push_str(&line[i..end]);
            i = end;
        } else if line[i..].starts_with("<!--") {
            in_comment = true;
            i += 4;
        } else {
            let ch = line[i..].chars().next().unwrap_or_default();
            out.push(ch);
            i += ch.len_utf8().max(1);
        }
    }
    (out, in_comment)
}

/// The end of a code span opened by `run` backticks: just after a run of exactly `run` backticks.
fn closing_backticks(bytes: &[u8], from: usize, run: usize) -> Option<usize> {
    let mut j = from;
    while j < bytes.len() {
        if bytes[j] == b'`' {
            let n = bytes[j..].iter().take_while(|&&b| b == b'`').count();
            if n == run {
                return Some(j + n);
            }
            j += n;
        } else {
            j += 1;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(body: &str) -> Vec<(usize, String, bool)> {
        candidates(body).into_iter().map(|c| (c.number, c.text, c.lazy_quote)).collect()
    }

    #[test]
    fn plain_lines() {
        assert_eq!(lines("/a\ntext\n  /b\n    /c\n\t/d"), vec![(1, "/a".into(), false), (3, "/b".into(), false)]);
    }

    #[test]
    fn fences() {
        assert!(lines("```\n/a\n```").is_empty());
        assert!(lines("~~~ yaml\n/a\n~~~").is_empty());
        assert_eq!(lines("````\n```\n/a\n```\n````\n/b"), vec![(6, "/b".into(), false)]);
        assert!(lines("~~~\n```\n/a\n~~~~ \n/b").iter().any(|l| l.1 == "/b"));
        assert!(lines("```\n/a").is_empty(), "an unclosed fence runs to the end");
        assert_eq!(lines("``` a`b\n/a").len(), 1, "not a fence: inline code");
        assert!(lines("   ```\n/a\n   ```").is_empty());
        assert_eq!(lines("    ```\n/a").len(), 1, "indented: not a fence");
    }

    #[test]
    fn quotes_and_lazy_lines() {
        assert!(lines("> /a\n>/b\n > > /c").is_empty());
        assert_eq!(lines("> quoted\n/a"), vec![(2, "/a".into(), true)]);
        assert_eq!(lines("> quoted\n>\n/a"), vec![(3, "/a".into(), false)]);
        assert_eq!(lines("> quoted\n\n/a"), vec![(3, "/a".into(), false)]);
        assert_eq!(lines("> quoted\nmore\n/a"), vec![(3, "/a".into(), true)]);
    }

    #[test]
    fn html() {
        assert!(lines("<!--\n/a\n-->").is_empty());
        assert!(lines("<!-- /a -->").is_empty());
        assert_eq!(lines("<!-- x -->\n/a"), vec![(2, "/a".into(), false)]);
        assert!(lines("text <!-- start\n/a\nend -->").is_empty());
        assert_eq!(lines("/a <!-- hidden --> b"), vec![(1, "/a  b".into(), false)]);
        assert_eq!(lines("use `<!--` here\n/a"), vec![(2, "/a".into(), false)]);
        assert!(lines("<pre>\n/a\n</pre>").is_empty());
        assert!(lines("<PRE class=x>\n/a\n</Pre>").is_empty());
        assert_eq!(lines("<prefix>\n/a").len(), 1);
    }

    #[test]
    fn crlf_and_cr() {
        assert_eq!(lines("x\r\n/a b\r\n"), vec![(2, "/a b".into(), false)]);
        assert_eq!(lines("x\r/a"), vec![(2, "/a".into(), false)]);
    }

    #[test]
    fn bounds() {
        let many = "x\n".repeat(MAX_LINES) + "/a";
        assert!(lines(&many).is_empty());
        let long = "x".repeat(MAX_BYTES - 3) + "\n/abcdef";
        assert!(lines(&long).is_empty(), "a line cut by the limit is dropped");
        let multibyte = "é".repeat(MAX_BYTES);
        assert!(lines(&multibyte).is_empty());
    }
}
