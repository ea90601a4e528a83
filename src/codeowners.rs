//! GitHub CODEOWNERS files: parse tolerantly, and find the owners of a path.
//!
//! Semantics follow GitHub's documentation ("About code owners"), which are gitignore-like
//! with GitHub's own differences:
//!
//! - Each line is a pattern followed by owners (`@user`, `@org/team`, `user@example.com`),
//!   separated by white space. `#` starts a comment, at the start of a line or as a separate
//!   word after the pattern. A line starting with `#` is always a comment: GitHub does not
//!   support `\#` to escape it (such lines are reported as errors).
//! - The **last** matching line wins. A matching line without owners means "no owners" (it
//!   takes the path away from earlier, broader lines).
//! - `*` matches within a path segment, `?` one character, `**` any number of segments
//!   (a trailing `/**` matches everything inside, not the directory itself).
//! - A leading `/` anchors the pattern to the repository root; so does a `/` in the middle.
//!   A pattern without a slash (other than a trailing one) matches at any depth.
//! - A pattern that matches a directory matches everything under it (`apps/`, `/docs/`,
//!   `**/logs`); a trailing `/` matches directories only. Exception: a pattern whose last
//!   segment is a lone `*` (`docs/*`) matches direct children only.
//! - `\` escapes the next character (`\ ` for a space in a path, `\*` for a literal `*`).
//! - Not supported by GitHub, so reported as errors and skipped: `!` negation and `[ ]`
//!   character ranges. Lines with an invalid owner are skipped as a whole, as GitHub does.
//!
//! Paths are case-sensitive and relative to the repository root (a leading `/` is ignored).

use std::fmt;

/// GitHub's search order; the first file that exists is used.
pub const LOCATIONS: [&str; 3] = [".github/CODEOWNERS", "CODEOWNERS", "docs/CODEOWNERS"];

/// An owner named in a CODEOWNERS file.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Owner {
    /// `@login` (stored without `@`).
    User(String),
    /// `@org/team-slug`.
    Team { org: String, slug: String },
    /// `someone@example.com`.
    Email(String),
}

impl fmt::Display for Owner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Owner::User(login) => write!(f, "@{login}"),
            Owner::Team { org, slug } => write!(f, "@{org}/{slug}"),
            Owner::Email(email) => f.write_str(email),
        }
    }
}

impl Owner {
    /// Parses one owner word; `None` if it is not a valid owner.
    pub fn parse(word: &str) -> Option<Owner> {
        fn login(s: &str) -> bool {
            // GitHub logins: letters, digits, `-`; managed users add `_shortcode`.
            !s.is_empty()
                && s.len() <= 39 + 20
                && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        }
        fn slug(s: &str) -> bool {
            !s.is_empty()
                && s.len() <= 255
                && s.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        }
        if let Some(name) = word.strip_prefix('@') {
            return match name.split_once('/') {
                Some((org, team)) if login(org) && slug(team) => {
                    Some(Owner::Team { org: org.to_string(), slug: team.to_string() })
                }
                Some(_) => None,
                None if login(name) => Some(Owner::User(name.to_string())),
                None => None,
            };
        }
        let (local, domain) = word.split_once('@')?;
        let ok = !local.is_empty()
            && !domain.is_empty()
            && !domain.contains('@')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && word.len() <= 254
            && !word.chars().any(|c| c.is_control() || c.is_whitespace() || matches!(c, '<' | '>' | '"'));
        ok.then(|| Owner::Email(word.to_string()))
    }
}

/// A parsed CODEOWNERS file.
#[derive(Debug, Clone, Default)]
pub struct CodeOwners {
    rules: Vec<Rule>,
    errors: Vec<(usize, String)>,
}

#[derive(Debug, Clone)]
struct Rule {
    line: usize,
    pattern: Pattern,
    owners: Vec<Owner>,
}

impl CodeOwners {
    /// Parses a CODEOWNERS file. Bad lines are skipped and recorded in [`CodeOwners::errors`].
    pub fn parse(text: &str) -> CodeOwners {
        let mut out = CodeOwners::default();
        for (index, line) in text.lines().enumerate() {
            let number = index + 1;
            match parse_line(line) {
                Ok(Some((pattern, owners))) => out.rules.push(Rule { line: number, pattern, owners }),
                Ok(None) => {}
                Err(message) => out.errors.push((number, message)),
            }
        }
        out
    }

    /// The skipped lines: 1-based line number and why.
    pub fn errors(&self) -> &[(usize, String)] {
        &self.errors
    }

    /// The owners of a file (path relative to the repository root). Empty if no line
    /// matches, or if the last matching line names no owners.
    pub fn owners(&self, path: &str) -> Vec<Owner> {
        self.rule_for(path).map(|r| r.owners.clone()).unwrap_or_default()
    }

    /// The 1-based number of the line that decides a path's owners, if any matches.
    pub fn matching_line(&self, path: &str) -> Option<usize> {
        self.rule_for(path).map(|r| r.line)
    }

    fn rule_for(&self, path: &str) -> Option<&Rule> {
        let path = path.trim_start_matches('/');
        if path.is_empty() {
            return None;
        }
        let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        self.rules.iter().rev().find(|r| r.pattern.matches(&segments))
    }
}

/// One line: `Ok(None)` for blank lines and comments.
fn parse_line(line: &str) -> Result<Option<(Pattern, Vec<Owner>)>, String> {
    let line = line.trim_start();
    if line.is_empty() || line.starts_with('#') {
        return Ok(None);
    }
    let words = split_words(line)?;
    let Some((first, rest)) = words.split_first() else { return Ok(None) };
    let pattern = Pattern::parse(first)?;
    let mut owners = Vec::new();
    for word in rest {
        let text: String = word.iter().map(|(c, _)| *c).collect();
        if text.starts_with('#') && !word[0].1 {
            break; // a comment to the end of the line
        }
        match Owner::parse(&text) {
            Some(owner) => owners.push(owner),
            None => return Err(format!("{text:?} is not an owner (expected @user, @org/team or an email address)")),
        }
    }
    Ok(Some((pattern, owners)))
}

/// A character of a line and whether it was escaped with `\`.
type Word = Vec<(char, bool)>;

/// Splits on unescaped white space, resolving `\` escapes.
fn split_words(line: &str) -> Result<Vec<Word>, String> {
    let mut words = Vec::new();
    let mut word: Word = Vec::new();
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some(next) => word.push((next, true)),
                None => return Err("the line ends with a lone `\\`".into()),
            }
        } else if c.is_whitespace() {
            if !word.is_empty() {
                words.push(std::mem::take(&mut word));
            }
        } else {
            word.push((c, false));
        }
    }
    if !word.is_empty() {
        words.push(word);
    }
    Ok(words)
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Char(char),
    Star,
    Question,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    /// `**`: any number of segments.
    Any,
    Glob(Vec<Token>),
}

#[derive(Debug, Clone)]
struct Pattern {
    /// Matched against the path's segments from the root (unanchored patterns start with `Any`).
    segments: Vec<Segment>,
    /// A trailing `/`: matches directories only.
    dir_only: bool,
}

impl Pattern {
    fn parse(word: &[(char, bool)]) -> Result<Pattern, String> {
        let text: String = word.iter().map(|(c, _)| *c).collect();
        match word.first() {
            Some(('!', false)) => {
                return Err(format!("{text:?}: GitHub does not support `!` (negation) in CODEOWNERS"))
            }
            Some(('#', true)) => {
                return Err(format!("{text:?}: GitHub does not support escaping a leading `#` in CODEOWNERS"))
            }
            _ => {}
        }
        if word.iter().any(|&(c, escaped)| c == '[' && !escaped) {
            return Err(format!("{text:?}: GitHub does not support `[ ]` character ranges in CODEOWNERS"));
        }
        // Split on unescaped `/`.
        let mut raw: Vec<Vec<(char, bool)>> = vec![Vec::new()];
        for &(c, escaped) in word {
            if c == '/' && !escaped {
                raw.push(Vec::new());
            } else if let Some(last) = raw.last_mut() {
                last.push((c, escaped));
            }
        }
        let anchored_at_root = raw.first().is_some_and(Vec::is_empty);
        let mut dir_only = raw.len() > 1 && raw.last().is_some_and(Vec::is_empty);
        let raw: Vec<_> = raw.into_iter().filter(|s| !s.is_empty()).collect();
        // A slash other than a trailing one anchors the pattern.
        let anchored = anchored_at_root || raw.len() > 1;
        let mut segments: Vec<Segment> = raw.iter().map(|s| Segment::parse(s)).collect();
        // A trailing `**` matches everything inside: the same as a trailing `/`.
        if segments.len() > 1 && segments.last() == Some(&Segment::Any) {
            segments.pop();
            dir_only = true;
        }
        if segments.is_empty() {
            return Err(format!("{text:?} is not a pattern"));
        }
        if !anchored && segments[0] != Segment::Any {
            segments.insert(0, Segment::Any);
        }
        segments.dedup_by(|a, b| *a == Segment::Any && *b == Segment::Any);
        Ok(Pattern { segments, dir_only })
    }

    fn matches(&self, path: &[&str]) -> bool {
        if path.is_empty() {
            return false;
        }
        if self.segments == [Segment::Any] {
            return true; // `**`
        }
        // reach[j]: the pattern so far matches path[..j].
        let mut reach = vec![false; path.len() + 1];
        reach[0] = true;
        for segment in &self.segments {
            let mut next = vec![false; path.len() + 1];
            match segment {
                Segment::Any => {
                    let mut seen = false;
                    for j in 0..=path.len() {
                        seen |= reach[j];
                        next[j] = seen;
                    }
                }
                Segment::Glob(tokens) => {
                    for j in 0..path.len() {
                        next[j + 1] = reach[j] && glob(tokens, path[j]);
                    }
                }
            }
            reach = next;
        }
        // A lone `*` at the end matches direct children only; anything else that matches a
        // directory matches what is inside it.
        let lone_star = matches!(self.segments.last(), Some(Segment::Glob(t)) if t == &[Token::Star]);
        let whole = !self.dir_only && reach[path.len()];
        let directory = (self.dir_only || !lone_star) && reach[1..path.len()].iter().any(|&r| r);
        whole || directory
    }
}

impl Segment {
    fn parse(chars: &[(char, bool)]) -> Segment {
        if chars == [('*', false), ('*', false)] {
            return Segment::Any;
        }
        let mut tokens = Vec::new();
        for &(c, escaped) in chars {
            let token = match (c, escaped) {
                ('*', false) => Token::Star,
                ('?', false) => Token::Question,
                _ => Token::Char(c),
            };
            if !(token == Token::Star && tokens.last() == Some(&Token::Star)) {
                tokens.push(token);
            }
        }
        Segment::Glob(tokens)
    }
}

/// Wildcard match of one path segment (iterative, backtracking to the last `*`).
fn glob(tokens: &[Token], text: &str) -> bool {
    let text: Vec<char> = text.chars().collect();
    let (mut t, mut s) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while s < text.len() {
        match tokens.get(t) {
            Some(Token::Star) => {
                star = Some((t, s));
                t += 1;
            }
            Some(Token::Question) => {
                t += 1;
                s += 1;
            }
            Some(Token::Char(c)) if *c == text[s] => {
                t += 1;
                s += 1;
            }
            _ => match star {
                Some((st, ss)) => {
                    t = st + 1;
                    s = ss + 1;
                    star = Some((st, ss + 1));
                }
                None => return false,
            },
        }
    }
    tokens[t.min(tokens.len())..].iter().all(|tk| *tk == Token::Star)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(s: &str) -> Owner {
        Owner::User(s.into())
    }

    /// Whether `pattern` (a one-rule file) matches each path.
    fn check(pattern: &str, cases: &[(&str, bool)]) {
        let owners = CodeOwners::parse(&format!("{pattern} @o"));
        assert!(owners.errors().is_empty(), "{pattern}: {:?}", owners.errors());
        for (path, expected) in cases {
            assert_eq!(!owners.owners(path).is_empty(), *expected, "pattern {pattern:?} on path {path:?}");
        }
    }

    /// The example file of GitHub's "About code owners" documentation.
    const GITHUB_EXAMPLE: &str = r#"# This is a comment.
# Each line is a file pattern followed by one or more owners.

# These owners will be the default owners for everything in
# the repo. Unless a later match takes precedence,
# @global-owner1 and @global-owner2 will be requested for
# review when someone opens a pull request.
*       @global-owner1 @global-owner2

# Order is important; the last matching pattern takes the most
# precedence. When someone opens a pull request that only
# modifies JS files, only @js-owner and not the global
# owner(s) will be requested for a review.
*.js    @js-owner #This is an inline comment.

# You can also use email addresses if you prefer. They'll be
# used to look up users just like we do for commit author
# emails.
*.go docs@example.com

# Teams can be specified as code owners as well. Teams should
# be identified in the format @org/team-name. Teams must have
# explicit write access to the repository. In this example,
# the octocats team in the octo-org organization owns all .txt files.
*.txt @octo-org/octocats

# In this example, @doctocat owns any files in the build/logs
# directory at the root of the repository and any of its
# subdirectories.
/build/logs/ @doctocat

# The `docs/*` pattern will match files like
# `docs/getting-started.md` but not further nested files like
# `docs/build-app/troubleshooting.md`.
docs/*  docs@example.com

# In this example, @octocat owns any file in an apps directory
# anywhere in your repository.
apps/ @octocat

# In this example, @doctocat owns any file in the `/docs`
# directory in the root of your repository and any of its
# subdirectories.
/docs/ @doctocat

# In this example, any change inside the `/scripts` directory
# will require approval from @doctocat or @octocat.
/scripts/ @doctocat @octocat

# In this example, @octocat owns any file in a `/logs` directory such as
# `/build/logs`, `/scripts/logs`, and `/deeply/nested/logs`. Any changes
# in a `/logs` directory will require approval from @octocat.
**/logs @octocat

# In this example, @octocat owns any file in the `/apps`
# directory in the root of your repository except for the `/apps/github`
# subdirectory, as its owners are left empty. Without an owner, changes
# to `apps/github` can be made with the approval of any user who has
# write access to the repository.
/apps/ @octocat
/apps/github

# In this example, @octocat owns any file in the `/apps`
# directory in the root of your repository except for the `/apps/github`
# subdirectory, as this subdirectory has its own owner @doctocat
/apps/ @octocat
/apps/github @doctocat
"#;

    #[test]
    fn github_documentation_example() {
        let co = CodeOwners::parse(GITHUB_EXAMPLE);
        assert!(co.errors().is_empty(), "{:?}", co.errors());
        let email = |s: &str| vec![Owner::Email(s.into())];
        let table: Vec<(&str, Vec<Owner>)> = vec![
            ("README.md", vec![user("global-owner1"), user("global-owner2")]),
            ("src/app.js", vec![user("js-owner")]),
            ("main.go", email("docs@example.com")),
            ("notes/a.txt", vec![Owner::Team { org: "octo-org".into(), slug: "octocats".into() }]),
            ("build/logs/today.log", vec![user("octocat")]), // `**/logs` comes later and wins
            ("build/logs/deep/x.bin", vec![user("octocat")]),
            ("docs/getting-started.md", vec![user("doctocat")]), // `/docs/` comes later
            ("docs/build-app/troubleshooting.md", vec![user("doctocat")]),
            ("web/apps/index.html", vec![user("octocat")]),
            ("scripts/deploy.sh", vec![user("doctocat"), user("octocat")]),
            ("scripts/logs/x", vec![user("octocat")]),
            ("deeply/nested/logs/x", vec![user("octocat")]),
            ("apps/main.rs", vec![user("octocat")]),
            ("apps/github/x.rs", vec![user("doctocat")]),
            ("apps/github", vec![user("doctocat")]),
        ];
        for (path, expected) in table {
            assert_eq!(co.owners(path), expected, "{path}");
        }
        assert_eq!(co.matching_line("apps/github/x.rs"), Some(GITHUB_EXAMPLE.lines().count()));
    }

    #[test]
    fn a_rule_without_owners_removes_owners() {
        let co = CodeOwners::parse("/apps/ @octocat\n/apps/github\n");
        assert_eq!(co.owners("apps/web/x"), vec![user("octocat")]);
        assert_eq!(co.owners("apps/github/x"), vec![]);
        assert_eq!(co.matching_line("apps/github/x"), Some(2));
        assert_eq!(co.owners("elsewhere"), vec![]);
        assert_eq!(co.matching_line("elsewhere"), None);
    }

    #[test]
    fn docs_star_matches_direct_children_only() {
        check(
            "docs/*",
            &[
                ("docs/getting-started.md", true),
                ("docs/build-app/troubleshooting.md", false),
                ("docs", false),
                ("x/docs/a.md", false),
            ],
        );
        check("/*", &[("README.md", true), ("src/main.rs", false)]);
        check("/*/", &[("README.md", false), ("src/main.rs", true), ("src/a/b", true)]);
    }

    #[test]
    fn patterns() {
        check("apps", &[("apps", true), ("apps/x", true), ("a/apps", true), ("a/apps/x/y", true), ("apps.txt", false)]);
        check("apps/", &[("apps", false), ("apps/x", true), ("a/apps/x", true), ("a/b/apps/x/y", true)]);
        check("/apps/", &[("apps/x", true), ("apps/x/y", true), ("a/apps/x", false), ("apps", false)]);
        check("/apps", &[("apps", true), ("apps/x", true), ("a/apps", false)]);
        check("apps/web", &[("apps/web", true), ("apps/web/x", true), ("x/apps/web", false), ("apps/webby", false)]);
        check("apps/web/", &[("apps/web", false), ("apps/web/x", true), ("x/apps/web/y", false)]);
        check("*", &[("a", true), ("a/b/c", true)]);
        check("**", &[("a", true), ("a/b/c", true)]);
        check("*.js", &[("a.js", true), ("x/y/a.js", true), ("a.jsx", false), ("x.js/inner", true)]);
        check("/*.js", &[("a.js", true), ("x/a.js", false)]);
        check("f*", &[("foo", true), ("foo/bar", true), ("bar/foo", true), ("bar/baz", false)]);
        check("f?o", &[("foo", true), ("fo", false), ("fooo", false)]);
        check(
            "**/logs",
            &[("logs", true), ("logs/x", true), ("build/logs/x", true), ("a/b/logs/c/d", true), ("catalogs/x", false)],
        );
        check("**/foo/bar", &[("foo/bar", true), ("x/foo/bar/y", true), ("foo/x/bar", false)]);
        check("foo/**/bar", &[("foo/bar", true), ("foo/a/b/bar", true), ("foo/a/bar/z", true), ("x/foo/bar", false)]);
        check("foo/**", &[("foo", false), ("foo/a", true), ("foo/a/b", true), ("x/foo/a", false)]);
        check("foo/**/", &[("foo", false), ("foo/a", true)]);
        check("foo/*/baz", &[("foo/bar/baz", true), ("foo/bar/baz/q", true), ("foo/baz", false)]);
        check("foo/*.txt", &[("foo/a.txt", true), ("foo/b/a.txt", false), ("q/foo/a.txt", false)]);
        check("*bar*", &[("bar", true), ("x/rebar", true), ("barrio/x", true), ("baz", false)]);
        check("a*b*c", &[("abc", true), ("aXbYc", true), ("aXbY", false), ("acb", false)]);
    }

    #[test]
    fn case_and_leading_slash_in_paths() {
        check("/Docs/", &[("Docs/a", true), ("docs/a", false), ("/Docs/a", true)]);
        let co = CodeOwners::parse("* @o");
        assert!(co.owners("").is_empty());
        assert!(co.owners("/").is_empty());
    }

    #[test]
    fn escapes() {
        check(r"path\ with\ spaces/", &[("path with spaces/a", true), ("path/a", false)]);
        check(r"f\*o", &[("f*o", true), ("foo", false)]);
        check(r"f\?o", &[("f?o", true), ("foo", false)]);
        check(r"a\[b", &[("a[b", true)]);
    }

    #[test]
    fn owners_and_comments() {
        let co = CodeOwners::parse("* @user @org/team-a me@example.com # trailing comment @ignored\n");
        assert!(co.errors().is_empty());
        assert_eq!(
            co.owners("x"),
            vec![
                user("user"),
                Owner::Team { org: "org".into(), slug: "team-a".into() },
                Owner::Email("me@example.com".into())
            ]
        );
        assert_eq!(
            co.owners("x").iter().map(ToString::to_string).collect::<Vec<_>>(),
            ["@user", "@org/team-a", "me@example.com"]
        );
        assert_eq!(Owner::parse("@user_acme"), Some(user("user_acme")));
        for bad in ["@", "@a/b/c", "@a/", "@/b", "user", "a@", "@a@b", "@a!b", "x@y@z"] {
            assert_eq!(Owner::parse(bad), None, "{bad}");
        }
        // An escaped `#` is an ordinary character in an owner word; then it's not an owner.
        assert_eq!(CodeOwners::parse("* @a \\#b").errors().len(), 1);
    }

    #[test]
    fn bad_lines_are_skipped_with_errors() {
        let text = "* @all\n!secret @x\nsrc/[ab].rs @x\n\\#notes @x\ndocs/ @bad!owner\n  # indented comment\n\nok/ @ok\ntrail\\";
        let co = CodeOwners::parse(text);
        let lines: Vec<usize> = co.errors().iter().map(|(n, _)| *n).collect();
        assert_eq!(lines, [2, 3, 4, 5, 9]);
        assert!(co.errors()[0].1.contains("negation"));
        assert!(co.errors()[1].1.contains("character ranges"));
        assert!(co.errors()[2].1.contains("leading `#`"));
        assert!(co.errors()[3].1.contains("not an owner"));
        // Skipped lines do not take effect: earlier rules still apply.
        assert_eq!(co.owners("secret"), vec![user("all")]);
        assert_eq!(co.owners("docs/a"), vec![user("all")]);
        assert_eq!(co.owners("ok/a"), vec![user("ok")]);
    }

    #[test]
    fn crlf_and_tabs() {
        let co = CodeOwners::parse("*.rs\t@rust\r\n/docs/ @docs\r\n");
        assert!(co.errors().is_empty());
        assert_eq!(co.owners("src/main.rs"), vec![user("rust")]);
        assert_eq!(co.owners("docs/a"), vec![user("docs")]);
    }

    #[test]
    fn locations_in_github_order() {
        assert_eq!(LOCATIONS, [".github/CODEOWNERS", "CODEOWNERS", "docs/CODEOWNERS"]);
    }

    #[test]
    fn glob_does_not_blow_up() {
        let pattern = "a*".repeat(30) + "b";
        let path = "a".repeat(200);
        check(&pattern, &[(&path, false)]);
        let deep = "**/".repeat(50) + "x";
        check(&deep, &[(&"d/".repeat(200).to_string(), false), (&("d/".repeat(200) + "x"), true)]);
    }
}

#[cfg(test)]
mod example_file {
    use super::*;

    /// The repository's CODEOWNERS.example parses cleanly and says what its comments say.
    #[test]
    fn codeowners_example_is_valid_and_means_what_it_says() {
        let owners = CodeOwners::parse(include_str!("../CODEOWNERS.example"));
        assert!(owners.errors().is_empty(), "{:?}", owners.errors());
        let names = |p: &str| owners.owners(p).iter().map(|o| o.to_string()).collect::<Vec<_>>();
        assert_eq!(names("clusters/prod/myapp.yaml"), ["@org/platform", "@org/sre"]);
        assert_eq!(names("clusters/dev/myapp.yaml"), ["@org/platform"]);
        assert_eq!(names("apps/checkout/deploy/values.yaml"), ["@org/checkout"]);
        assert_eq!(names(".baton/keys/deploy.pub"), ["@org/platform", "@org/security"]);
        assert_eq!(names("clusters/prod/flux-system/gotk-sync.yaml"), ["@org/platform"]);
        assert_eq!(names("README.md"), ["@org/platform"]);
    }
}
