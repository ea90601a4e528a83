//! "What it brings": the commits between the source revisions of two versions, from their
//! OCI annotations `org.opencontainers.image.source` (a GitHub repository) and
//! `org.opencontainers.image.revision` (a commit; Flux writes `<branch>@sha1:<sha>`).
//! Pure: planning the one compare request, and rendering its answer.

use std::collections::BTreeMap;

use crate::github::Comparison;
use crate::types::RepoName;

pub const SOURCE: &str = "org.opencontainers.image.source";
pub const REVISION: &str = "org.opencontainers.image.revision";
/// Lines of commits shown at most.
pub const MAX_LINES: usize = 30;

/// The compare request to make.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompareRequest {
    pub repo: RepoName,
    pub base: String,
    pub head: String,
}

/// The GitHub repository a source annotation names: `https://github.com/org/app(.git)`,
/// `git@github.com:org/app.git`, `ssh://git@github.com/org/app`.
pub fn source_repo(source: &str) -> Option<RepoName> {
    let s = source.trim();
    let rest = s
        .strip_prefix("https://github.com/")
        .or_else(|| s.strip_prefix("http://github.com/"))
        .or_else(|| s.strip_prefix("git@github.com:"))
        .or_else(|| s.strip_prefix("ssh://git@github.com/"))
        .or_else(|| s.strip_prefix("git+https://github.com/"))?;
    let mut parts = rest.trim_end_matches('/').splitn(3, '/');
    let owner = parts.next()?;
    let name = parts.next()?.trim_end_matches(".git");
    format!("{owner}/{name}").parse().ok()
}

/// The commit a revision annotation names: a hex sha, `sha1:<sha>` or `<ref>@sha1:<sha>`.
pub fn revision_sha(revision: &str) -> Option<String> {
    let r = revision.trim();
    let r = r.rsplit_once('@').map_or(r, |(_, sha)| sha);
    let r = r.strip_prefix("sha1:").unwrap_or(r);
    (r.len() >= 7 && r.len() <= 40 && r.bytes().all(|b| b.is_ascii_hexdigit())).then(|| r.to_ascii_lowercase())
}

/// The commit a version was built from, as a link: (`1234567890ab`, its GitHub URL), when
/// its annotations name a GitHub source and a commit revision.
pub fn revision_link(annotations: &BTreeMap<String, String>) -> Option<(String, String)> {
    let repo = source_repo(annotations.get(SOURCE)?)?;
    let sha = revision_sha(annotations.get(REVISION)?)?;
    Some((sha.chars().take(12).collect(), format!("https://github.com/{repo}/commit/{sha}")))
}

/// Plans the compare request from both versions' annotations, or says why there is none.
pub fn plan(old: &BTreeMap<String, String>, new: &BTreeMap<String, String>) -> Result<CompareRequest, String> {
    let missing = || format!("the versions do not both carry `{SOURCE}` and `{REVISION}`");
    let (Some(os), Some(ns), Some(or), Some(nr)) =
        (old.get(SOURCE), new.get(SOURCE), old.get(REVISION), new.get(REVISION))
    else {
        return Err(missing());
    };
    let (Some(orepo), Some(nrepo)) = (source_repo(os), source_repo(ns)) else {
        return Err("the source is not a GitHub repository".into());
    };
    if orepo != nrepo {
        return Err(format!("the versions come from different repositories ({orepo}, {nrepo})"));
    }
    let (Some(base), Some(head)) = (revision_sha(or), revision_sha(nr)) else {
        return Err("a revision is not a commit sha".into());
    };
    if base == head {
        return Err(format!("both versions were built from commit {}", &base[..7]));
    }
    Ok(CompareRequest { repo: nrepo, base, head })
}

/// Neutralizes text from commits for a Markdown list item: no HTML, no @-mentions that would
/// notify people, one line.
fn inline(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('@', "@\u{200b}")
}

/// The subject and the PR number when the subject ends in `(#123)`.
pub fn subject_and_pr(message: &str) -> (&str, Option<u64>) {
    let subject = message.lines().next().unwrap_or_default().trim();
    if let Some(open) = subject.rfind("(#") {
        if let Some(n) = subject[open + 2..].strip_suffix(')').and_then(|n| n.parse::<u64>().ok()) {
            return (subject[..open].trim_end(), Some(n));
        }
    }
    (subject, None)
}

fn short(sha: &str) -> &str {
    &sha[..sha.len().min(7)]
}

/// The "what it brings" section: the compare link and the commits, capped at [`MAX_LINES`].
pub fn markdown(req: &CompareRequest, cmp: &Comparison) -> String {
    let link = format!("https://github.com/{}/compare/{}...{}", req.repo, req.base, req.head);
    let mut s = format!(
        "**Commits** in {} [`{}...{}`]({link}): ",
        crate::manifest_diff::render::code(req.repo.as_str()),
        short(&req.base),
        short(&req.head)
    );
    match cmp.status.as_str() {
        "behind" => {
            s.push_str(&format!("the new version is {} older (a rollback).\n", plural(cmp.behind_by)));
            return s;
        }
        "identical" => {
            s.push_str("none (identical).\n");
            return s;
        }
        _ => {}
    }
    s.push_str(&format!("{}.\n\n", plural(cmp.total_commits)));
    let total = cmp.commits.len();
    let shown = if total > MAX_LINES { MAX_LINES - 1 } else { total };
    for c in cmp.commits.iter().take(shown) {
        let (subject, pr) = subject_and_pr(&c.message);
        let pr = pr.map(|n| format!(" ({}#{n})", req.repo)).unwrap_or_default();
        let author = if c.author.is_empty() { String::new() } else { format!(" — {}", inline(&c.author)) };
        s.push_str(&format!("- `{}` {}{pr}{author}\n", short(&c.sha), inline(subject)));
    }
    let rest = cmp.total_commits.saturating_sub(shown as u64);
    if rest > 0 {
        s.push_str(&format!("- … {} more, see the compare link\n", rest));
    }
    s
}

fn plural(n: u64) -> String {
    format!("{n} commit{}", if n == 1 { "" } else { "s" })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::github::ComparedCommit;

    fn ann(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    const A: &str = "1111111111111111111111111111111111111111";
    const B: &str = "2222222222222222222222222222222222222222";

    #[test]
    fn sources_and_revisions() {
        for (s, want) in [
            ("https://github.com/org/app", Some("org/app")),
            ("https://github.com/org/app.git", Some("org/app")),
            ("git@github.com:org/app.git", Some("org/app")),
            ("https://github.com/org/app/tree/main", Some("org/app")),
            ("https://gitlab.com/org/app", None),
            ("https://github.com/org", None),
        ] {
            assert_eq!(source_repo(s).map(|r| r.to_string()), want.map(str::to_string), "{s}");
        }
        for (r, want) in [
            (A, Some(A)),
            ("main@sha1:ABCDEF1234567", Some("abcdef1234567")),
            ("sha1:abcdef1", Some("abcdef1")),
            ("v1.2.3", None),
            ("main", None),
        ] {
            assert_eq!(revision_sha(r).as_deref(), want, "{r}");
        }
    }

    #[test]
    fn plans() {
        let src = ("org.opencontainers.image.source", "https://github.com/org/app");
        type Row<'a> = (BTreeMap<String, String>, BTreeMap<String, String>, Result<(&'a str, &'a str), &'a str>);
        let rows: Vec<Row> = vec![
            (ann(&[src, (REVISION, A)]), ann(&[src, (REVISION, &format!("main@sha1:{B}"))]), Ok((A, B))),
            (ann(&[src]), ann(&[src, (REVISION, B)]), Err("the versions do not both carry `org.opencontainers.image.source` and `org.opencontainers.image.revision`")),
            (ann(&[src, (REVISION, A)]), ann(&[(SOURCE, "https://github.com/org/other"), (REVISION, B)]), Err("the versions come from different repositories (org/app, org/other)")),
            (ann(&[src, (REVISION, A)]), ann(&[src, (REVISION, A)]), Err("both versions were built from commit 1111111")),
            (ann(&[(SOURCE, "https://example.com/x"), (REVISION, A)]), ann(&[(SOURCE, "https://example.com/x"), (REVISION, B)]), Err("the source is not a GitHub repository")),
        ];
        for (old, new, want) in rows {
            let got = plan(&old, &new);
            match want {
                Ok((base, head)) => {
                    let got = got.unwrap();
                    assert_eq!((got.repo.as_str(), got.base.as_str(), got.head.as_str()), ("org/app", base, head));
                }
                Err(reason) => assert_eq!(got.unwrap_err(), reason),
            }
        }
    }

    #[test]
    fn revision_links() {
        let flux = ann(&[(SOURCE, "git@github.com:org/app.git"), (REVISION, &format!("main@sha1:{A}"))]);
        assert_eq!(
            revision_link(&flux),
            Some(("111111111111".into(), format!("https://github.com/org/app/commit/{A}")))
        );
        assert_eq!(revision_link(&ann(&[(SOURCE, "https://gitlab.com/x/y"), (REVISION, A)])), None);
        assert_eq!(revision_link(&ann(&[(REVISION, A)])), None);
    }

    #[test]
    fn subjects() {
        assert_eq!(subject_and_pr("Fix retries (#123)\n\nbody"), ("Fix retries", Some(123)));
        assert_eq!(subject_and_pr("Fix (#12) things"), ("Fix (#12) things", None));
        assert_eq!(subject_and_pr("Plain"), ("Plain", None));
    }

    fn commit(i: usize, msg: &str) -> ComparedCommit {
        ComparedCommit {
            sha: format!("{i:07}aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"),
            message: msg.into(),
            author: "Alice Example".into(),
        }
    }

    #[test]
    fn rendering() {
        let req = CompareRequest { repo: "org/app".parse().unwrap(), base: A.into(), head: B.into() };
        let few = Comparison {
            status: "ahead".into(),
            total_commits: 3,
            behind_by: 0,
            commits: vec![
                commit(1, "Bump the chart (#41)"),
                commit(2, "Ping @bob about <b>this</b>\n\nlong body"),
                commit(3, "Release 1.4.3 (#43)"),
            ],
        };
        let many = Comparison {
            status: "ahead".into(),
            total_commits: 40,
            behind_by: 0,
            commits: (0..40).map(|i| commit(i, &format!("Change {i}"))).collect(),
        };
        let behind = Comparison { status: "behind".into(), total_commits: 0, behind_by: 2, commits: vec![] };
        let text = [markdown(&req, &few), markdown(&req, &many), markdown(&req, &behind)].join("\n---\n");
        assert_eq!(markdown(&req, &many).lines().filter(|l| l.starts_with("- ")).count(), MAX_LINES);
        insta::assert_snapshot!(text);
    }
}
