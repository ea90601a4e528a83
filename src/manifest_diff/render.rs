//! The Markdown of a manifest diff (pure, snapshot-tested): a summary, then one collapsed
//! `<details>` block per changed file, within a character budget (a PR body is limited to
//! 65,536 characters by GitHub, and must keep room for the rest of the body).

use super::compare::{Change, ContentDiff, FileDiff, FilesDiff, ImageChange, LabelChange};
use super::yaml;
use super::Unavailable;

/// GitHub's limit on a PR body or comment, in characters.
pub const GITHUB_BODY_LIMIT: usize = 65_536;
/// The budget of the diff in a PR body (the rest of the body stays well under the remainder).
pub const PR_BODY_BUDGET: usize = 50_000;
/// The budget of the diff in a `/diff` reply.
pub const REPLY_BUDGET: usize = 60_000;
/// One file's diff is cut beyond this many characters.
const FILE_BUDGET: usize = 20_000;

/// What is being compared, for the heading.
#[derive(Debug, Clone)]
pub struct Heading<'a> {
    pub artifact: &'a str,
    pub old: &'a str,
    pub new: &'a str,
    /// Where the rest can be seen when the budget runs out (`/diff prod` in a PR body).
    pub more: Option<&'a str>,
}

/// A Markdown inline code span holding `s` (backticks in `s` get a longer fence).
pub fn code(s: &str) -> String {
    let s = s.replace(['\n', '\r'], " ");
    let longest = longest_run(&s, '`');
    let fence = "`".repeat(longest + 1);
    if longest > 0 || s.starts_with(' ') || s.ends_with(' ') {
        format!("{fence} {s} {fence}")
    } else {
        format!("{fence}{s}{fence}")
    }
}

fn longest_run(s: &str, c: char) -> usize {
    let (mut best, mut run) = (0, 0);
    for ch in s.chars() {
        run = if ch == c { run + 1 } else { 0 };
        best = best.max(run);
    }
    best
}

/// Text safe inside `<summary>` (HTML).
fn html(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// `ghcr.io/org/myapp:1.4.2` → `1.4.3`; several references are listed.
fn image_line(i: &ImageChange) -> String {
    match (i.old.as_slice(), i.new.as_slice()) {
        ([], new) => format!("{} (new)", new.iter().map(|r| code(r)).collect::<Vec<_>>().join(", ")),
        (old, []) => format!("{} (no longer used)", old.iter().map(|r| code(r)).collect::<Vec<_>>().join(", ")),
        ([old], [new]) => format!("{} → {}", code(old), code(yaml::split_image(new).1.trim_start_matches(':'))),
        (old, new) => format!(
            "{} → {}",
            old.iter().map(|r| code(r)).collect::<Vec<_>>().join(", "),
            new.iter().map(|r| code(r)).collect::<Vec<_>>().join(", ")
        ),
    }
}

/// Objects listed in a summary line at most.
const MAX_OBJECTS: usize = 20;

/// `` `NetworkPolicy/allow-egress` (shop), `Deployment/myapp` ``, capped.
fn objects(list: &[yaml::ObjectId]) -> String {
    let mut parts: Vec<String> = list
        .iter()
        .take(MAX_OBJECTS)
        .map(|o| match &o.namespace {
            Some(ns) => format!("{} ({})", code(&o.to_string()), html(ns)),
            None => code(&o.to_string()),
        })
        .collect();
    if list.len() > MAX_OBJECTS {
        parts.push(format!("… {} more", list.len() - MAX_OBJECTS));
    }
    parts.join(", ")
}

fn summary(d: &FilesDiff) -> String {
    let mut parts = Vec::new();
    for (change, word) in [(Change::Modified, "changed"), (Change::Added, "added"), (Change::Removed, "removed")] {
        let n = d.count(change);
        if n > 0 {
            parts.push(format!("{} {word}", plural(n, "file", "files")));
        }
    }
    let mut s = if parts.is_empty() {
        "No file changes".to_string()
    } else {
        // "1 file changed, 2 files added" reads better than repeating the noun.
        parts.join(", ")
    };
    if d.unchanged > 0 {
        s.push_str(&format!(" ({} unchanged)", d.unchanged));
    }
    s.push('\n');
    if !d.images.is_empty() {
        s.push_str(&format!("- Images: {}\n", d.images.iter().map(image_line).collect::<Vec<_>>().join("; ")));
    }
    for (word, list) in [("Added", &d.objects_added), ("Removed", &d.objects_removed)] {
        if !list.is_empty() {
            s.push_str(&format!("- {word}: {}\n", objects(list)));
        }
    }
    s
}

fn file_block(f: &FileDiff) -> String {
    let what = match f.change {
        Change::Added => "added",
        Change::Removed => "removed",
        Change::Modified => "changed",
    };
    let mut body = f.unified.clone();
    if body.len() > FILE_BUDGET {
        let mut cut = FILE_BUDGET;
        while !body.is_char_boundary(cut) {
            cut -= 1;
        }
        let cut = body[..cut].rfind('\n').map_or(cut, |i| i + 1);
        let rest = body[cut..].lines().count();
        body.truncate(cut);
        body.push_str(&format!("… {} not shown\n", plural(rest, "more line", "more lines")));
    }
    let fence = "`".repeat(longest_run(&body, '`').max(2) + 1);
    format!(
        "<details><summary><code>{}</code> {what} (+{} −{})</summary>\n\n{fence}diff\n{body}{fence}\n\n</details>\n",
        html(&f.path),
        f.lines_added,
        f.lines_removed
    )
}

fn heading(h: &Heading) -> String {
    format!("**Manifest diff** of {}: {} → {}\n\n", code(h.artifact), code(h.old), code(h.new))
}

fn label_value(v: &Option<String>) -> String {
    v.as_deref().map(code).unwrap_or_else(|| "(none)".into())
}

/// Renders a diff (or why there is none) within `budget` characters.
pub fn markdown(h: &Heading, diff: &Result<std::sync::Arc<ContentDiff>, Unavailable>, budget: usize) -> String {
    let d = match diff {
        Err(u) => {
            return format!("**Manifest diff** of {}: not available: {}.\n", code(h.artifact), u.reason);
        }
        Ok(d) => d,
    };
    match &**d {
        ContentDiff::KindChanged { old, new } => format!(
            "**Manifest diff** of {}: not available: {} was {old}, {} is {new}.\n",
            code(h.artifact),
            code(h.old),
            code(h.new)
        ),
        ContentDiff::Image { labels, layers } => {
            let mut s = format!(
                "**Manifest diff** of {}: {} → {} is a container image: no manifest diff. Layers: {} → {}.\n",
                code(h.artifact),
                code(h.old),
                code(h.new),
                layers.0,
                layers.1
            );
            if !labels.is_empty() {
                s.push_str("\n| label | before | after |\n|---|---|---|\n");
                for LabelChange { key, old, new } in labels {
                    s.push_str(&format!(
                        "| {} | {} | {} |\n",
                        code(key).replace('|', "\\|"),
                        label_value(old).replace('|', "\\|"),
                        label_value(new).replace('|', "\\|")
                    ));
                }
            }
            s
        }
        ContentDiff::Files(f) => {
            let mut s = heading(h);
            s.push_str(&summary(f));
            let mut shown = 0;
            for file in &f.files {
                let block = file_block(file);
                // Room for the closing note.
                if s.len() + block.len() + 200 > budget {
                    break;
                }
                s.push('\n');
                s.push_str(&block);
                shown += 1;
            }
            let rest = f.files.len() - shown;
            if rest > 0 {
                let more = plural(rest, "more file", "more files");
                match h.more {
                    Some(hint) => s.push_str(&format!("\n… {more}, see {}\n", code(hint))),
                    None => s.push_str(&format!("\n… {more} not shown (GitHub limits a comment's length)\n")),
                }
            }
            s
        }
    }
}

/// Inserts the "What changes" section into a promotion PR body, before baton's footer (and
/// so before the hidden marker); at the end when the body has no footer.
pub fn insert_into_body(body: &str, section: &str) -> String {
    let section = format!("\n### What changes\n\n{}", section.trim_end());
    let at = body.find("\n<sub>Opened by baton").or_else(|| body.find("\n<!-- baton:")).unwrap_or(body.len());
    let mut out = String::with_capacity(body.len() + section.len() + 2);
    out.push_str(&body[..at]);
    out.push_str(&section);
    out.push('\n');
    out.push_str(&body[at..]);
    out
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::manifest_diff::archive::FileBody;
    use crate::manifest_diff::compare::{compare, Content};

    fn files(list: &[(&str, String)]) -> Content {
        Content::Files(list.iter().map(|(p, t)| (p.to_string(), FileBody::Text(t.clone()))).collect())
    }

    fn heading() -> Heading<'static> {
        Heading { artifact: "myapp", old: "0.5.122", new: "0.5.123", more: Some("/diff prod") }
    }

    pub(crate) fn sample() -> (Content, Content) {
        let deploy = |tag: &str| {
            format!("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: myapp\n  namespace: shop\nspec:\n  replicas: 2\n  template:\n    spec:\n      containers:\n        - name: app\n          image: ghcr.io/org/myapp:{tag}\n          ports: [{{containerPort: 8080}}]\n")
        };
        let secret = |v: &str| {
            format!("apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\n  namespace: shop\ntype: Opaque\ndata:\n  password: {v}\n")
        };
        let np = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: allow-egress\n  namespace: shop\nspec:\n  podSelector: {}\n  policyTypes: [Egress]\n".to_string();
        let old = files(&[("deployment.yaml", deploy("1.4.2")), ("secret.yaml", secret("aHVudGVyMg=="))]);
        let new = files(&[
            ("deployment.yaml", deploy("1.4.3")),
            ("secret.yaml", secret("c3VwZXJzZWNyZXQ=")),
            ("networkpolicy.yaml", np),
        ]);
        (old, new)
    }

    #[test]
    fn pr_body_diff() {
        let (old, new) = sample();
        let text = markdown(&heading(), &Ok(Arc::new(compare(&old, &new))), PR_BODY_BUDGET);
        assert!(!text.contains("aHVudGVyMg") && !text.contains("c3VwZXJzZWNyZXQ"));
        insta::assert_snapshot!(text);
    }

    #[test]
    fn budget_cuts_with_a_note() {
        let many: Vec<(String, String)> = (0..40)
            .map(|i| {
                (format!("cm-{i:02}.yaml"), format!("kind: ConfigMap\nmetadata: {{name: cm{i}}}\ndata: {{k: v{i}}}\n"))
            })
            .collect();
        let old: Vec<(&str, String)> = vec![];
        let new: Vec<(&str, String)> = many.iter().map(|(p, t)| (p.as_str(), t.clone())).collect();
        let text = markdown(&heading(), &Ok(Arc::new(compare(&files(&old), &files(&new)))), 2_000);
        assert!(text.len() <= 2_000, "{}", text.len());
        insta::assert_snapshot!(text);
    }

    #[test]
    fn one_line_outcomes() {
        let img = |l: &[(&str, &str)], n| Content::Image {
            labels: l.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            layers: n,
        };
        let cases = [
            markdown(
                &heading(),
                &Ok(Arc::new(compare(
                    &img(&[("org.opencontainers.image.version", "1.4.2")], 5),
                    &img(&[("org.opencontainers.image.version", "1.4.3")], 6),
                ))),
                PR_BODY_BUDGET,
            ),
            markdown(&heading(), &Ok(Arc::new(compare(&img(&[], 5), &files(&[])))), PR_BODY_BUDGET),
            markdown(
                &heading(),
                &Err(Unavailable {
                    reason: "version sha256:abc was not read: it has more than 5000 entries".into(),
                    permanent: true,
                }),
                PR_BODY_BUDGET,
            ),
        ];
        insta::assert_snapshot!(cases.join("\n---\n"));
    }

    #[test]
    fn the_section_goes_before_the_footer_and_marker() {
        let body = "Promotes **myapp**.\n\n| | |\n|---|---|\n\n<sub>Opened by baton. A newer version updates this pull request in place.</sub>\n\n<!-- baton:{} -->\n";
        let out = insert_into_body(body, "**Manifest diff** of `myapp`: not available: x.\n");
        insta::assert_snapshot!(out);
        assert!(crate::render::parse_marker(&out).is_none() == crate::render::parse_marker(body).is_none());
        assert!(insert_into_body("plain", "s").ends_with("### What changes\n\ns\n"));
    }

    #[test]
    fn code_spans() {
        assert_eq!(code("a"), "`a`");
        assert_eq!(code("a`b"), "`` a`b ``");
        assert_eq!(code("x\ny"), "`x y`");
    }
}
