//! Which version a promotion or rollback goes to. Pure: the engine reads the registry's tags
//! and the stages' pointer histories; these functions choose.

use std::cmp::Ordering;

use crate::commands::VersionArg;
use crate::pipeline::Artifact;
use crate::types::{StageName, Tag, Version};

/// The newest release tag of `artifact` among `tags`: matching its tag pattern and semver.
pub fn newest_release_tag(artifact: &Artifact, tags: impl IntoIterator<Item = Tag>) -> Option<Tag> {
    tags.into_iter()
        .filter(|t| artifact.tags.is_match(t.as_str()) && t.semver().is_some())
        .max_by(|a, b| a.compare(b).unwrap_or(Ordering::Equal))
}

/// Versions a pointer history names, newest commit first, each once.
pub fn distinct_versions(history: impl IntoIterator<Item = Option<Version>>) -> Vec<Version> {
    let mut out: Vec<Version> = Vec::new();
    for v in history.into_iter().flatten() {
        if !out.contains(&v) {
            out.push(v);
        }
    }
    out
}

/// `/promote <stage>` without a version: the versions the upstream stage ran that were not
/// rolled back here, newest tag first. The first of them verified upstream is the one.
pub fn promotion_order(upstream_history: &[Version], rejected: &[Version]) -> Vec<Version> {
    let mut sorted: Vec<Version> = upstream_history.iter().filter(|v| !rejected.contains(v)).cloned().collect();
    sorted.sort_by(|a, b| b.tag.compare(&a.tag).unwrap_or(Ordering::Equal));
    sorted
}

/// A version argument that names a digest alone: the tag comes from the history.
pub fn version_of_digest(arg: &VersionArg, history: &[Version]) -> Option<Result<Version, String>> {
    match arg {
        VersionArg::Pinned(v) => Some(Ok(v.clone())),
        VersionArg::Digest(d) => Some(
            history
                .iter()
                .find(|v| &v.digest == d)
                .cloned()
                .ok_or_else(|| format!("baton does not know which tag {d} was released as: give it as TAG@{d}")),
        ),
        VersionArg::Tag(_) => None,
    }
}

/// Where `/rollback <stage> [version]` goes: a version the stage ran before (its own history,
/// newest first; the first entry is what it runs now), or why not.
pub fn rollback_target(stage: &StageName, history: &[Version], arg: Option<&VersionArg>) -> Result<Version, String> {
    let Some(current) = history.first() else {
        return Err(format!("{stage} has no version history to roll back to"));
    };
    let ran = || history.iter().take(5).map(|v| format!("`{}`", v.tag)).collect::<Vec<_>>().join(", ");
    let target = match arg {
        None => {
            return history
                .iter()
                .find(|v| *v != current)
                .cloned()
                .ok_or_else(|| format!("{stage} never ran another version than {current}"))
        }
        // A tag is looked up in the stage's own history (with the digest it ran), never
        // re-resolved in the registry.
        Some(VersionArg::Tag(t)) => match history.iter().find(|v| &v.tag == t) {
            Some(v) => v.clone(),
            None => {
                return Err(format!(
                    "{stage} never ran {t}; it can be rolled back to a version it ran before ({})",
                    ran()
                ))
            }
        },
        Some(a) => version_of_digest(a, history).unwrap_or_else(|| Err(String::new()))?,
    };
    if target == *current {
        return Err(format!("{stage} already runs {target}"));
    }
    if !history.contains(&target) {
        return Err(format!(
            "{stage} never ran {target}; it can be rolled back to a version it ran before ({})",
            ran()
        ));
    }
    Ok(target)
}

/// The refusal of `/promote <stage> <version>` for a version its upstream did not verify.
pub fn not_verified_upstream(stage: &StageName, from: &StageName, v: &Version, verified_in: &[StageName]) -> String {
    let where_ = if verified_in.is_empty() {
        "it is not verified in any stage".to_string()
    } else {
        format!("it is verified in {}", verified_in.iter().map(|s| format!("`{s}`")).collect::<Vec<_>>().join(", "))
    };
    format!("{stage} can only receive what {from} verified, and {v} is not verified there ({where_})")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::Digest;

    fn v(tag: &str, d: &str) -> Version {
        Version { tag: tag.parse().unwrap(), digest: format!("sha256:{}", d.repeat(64 / d.len())).parse().unwrap() }
    }

    fn artifact(pattern: &str) -> Artifact {
        let yaml = format!(
            "artifacts:\n  app:\n    image: r.io/app\n    tags: '{pattern}'\n    verify:\n      - key: k.pub\nstages:\n  - name: dev\n    pointers:\n      - {{ file: a.yaml, format: helm-values, artifact: app }}\n"
        );
        crate::pipeline::parse(&yaml).expect("pipeline").artifacts.into_values().next().unwrap()
    }

    #[test]
    fn newest_release_tag_table() {
        let tags = |t: &[&str]| t.iter().map(|t| t.parse::<Tag>().unwrap()).collect::<Vec<_>>();
        let cases: Vec<(&str, Vec<Tag>, Option<&str>)> = vec![
            (".*", tags(&[]), None),
            (".*", tags(&["1.0.0", "1.2.0", "1.10.0"]), Some("1.10.0")),
            (".*", tags(&["latest", "main"]), None),
            (".*", tags(&["1.0.0", "latest"]), Some("1.0.0")),
            ("1\\..*", tags(&["1.4.0", "2.0.0"]), Some("1.4.0")),
            (".*", tags(&["1.0.0-rc.1", "1.0.0"]), Some("1.0.0")),
        ];
        for (pattern, tags, want) in cases {
            let got = newest_release_tag(&artifact(pattern), tags.clone());
            assert_eq!(got.as_ref().map(Tag::as_str), want, "{pattern} {tags:?}");
        }
    }

    #[test]
    fn distinct_versions_keep_order() {
        let got = distinct_versions([Some(v("2.0.0", "b")), None, Some(v("1.0.0", "a")), Some(v("2.0.0", "b"))]);
        assert_eq!(got, vec![v("2.0.0", "b"), v("1.0.0", "a")]);
    }

    #[test]
    fn promotion_order_table() {
        let cases: Vec<(Vec<Version>, Vec<Version>, Vec<Version>)> = vec![
            (vec![], vec![], vec![]),
            (vec![v("1.0.0", "a"), v("1.2.0", "b")], vec![], vec![v("1.2.0", "b"), v("1.0.0", "a")]),
            (vec![v("1.0.0", "a"), v("1.2.0", "b")], vec![v("1.2.0", "b")], vec![v("1.0.0", "a")]),
            (vec![v("1.10.0", "c"), v("1.9.0", "b")], vec![], vec![v("1.10.0", "c"), v("1.9.0", "b")]),
        ];
        for (history, rejected, want) in cases {
            assert_eq!(promotion_order(&history, &rejected), want);
        }
    }

    #[test]
    fn rollback_target_table() {
        let dev: StageName = "dev".parse().unwrap();
        let history = vec![v("1.2.0", "c"), v("1.1.0", "b"), v("1.0.0", "a")];
        let digest_b: Digest = v("1.1.0", "b").digest;
        let tag = |t: &str| VersionArg::Tag(t.parse().unwrap());
        #[rustfmt::skip]
        /// (what, the stage's history newest first, argument, expected target or refusal)
        type Case = (&'static str, Vec<Version>, Option<VersionArg>, Result<Version, String>);
        let cases: Vec<Case> = vec![
            ("no history", vec![], None, Err("dev has no version history to roll back to".into())),
            (
                "only one version",
                vec![v("1.0.0", "a")],
                None,
                Err(format!("dev never ran another version than {}", v("1.0.0", "a"))),
            ),
            ("previous", history.clone(), None, Ok(v("1.1.0", "b"))),
            ("a tag it ran", history.clone(), Some(tag("1.0.0")), Ok(v("1.0.0", "a"))),
            (
                "a tag it never ran",
                history.clone(),
                Some(tag("0.9.0")),
                Err(
                    "dev never ran 0.9.0; it can be rolled back to a version it ran before (`1.2.0`, `1.1.0`, `1.0.0`)"
                        .into(),
                ),
            ),
            (
                "the current tag",
                history.clone(),
                Some(tag("1.2.0")),
                Err(format!("dev already runs {}", v("1.2.0", "c"))),
            ),
            ("a digest it ran", history.clone(), Some(VersionArg::Digest(digest_b.clone())), Ok(v("1.1.0", "b"))),
            (
                "a pinned version it never ran",
                history.clone(),
                Some(VersionArg::Pinned(v("1.1.0", "d"))),
                Err(format!(
                    "dev never ran {}; it can be rolled back to a version it ran before (`1.2.0`, `1.1.0`, `1.0.0`)",
                    v("1.1.0", "d")
                )),
            ),
        ];
        for (what, history, arg, want) in cases {
            assert_eq!(rollback_target(&dev, &history, arg.as_ref()), want, "{what}");
        }
    }

    #[test]
    fn digest_alone_needs_a_known_tag() {
        let history = vec![v("1.0.0", "a")];
        let known = VersionArg::Digest(v("1.0.0", "a").digest);
        assert_eq!(version_of_digest(&known, &history), Some(Ok(v("1.0.0", "a"))));
        let unknown = VersionArg::Digest(v("1.0.0", "e").digest);
        assert!(matches!(version_of_digest(&unknown, &history), Some(Err(m)) if m.contains("give it as TAG@")));
        assert_eq!(version_of_digest(&VersionArg::Tag("1.0.0".parse().unwrap()), &history), None);
    }

    #[test]
    fn not_verified_upstream_names_where_it_is() {
        let (prod, staging) = ("prod".parse().unwrap(), "staging".parse().unwrap());
        let v = v("9.9.9", "f");
        insta::assert_snapshot!(not_verified_upstream(&prod, &staging, &v, &[]));
        insta::assert_snapshot!(not_verified_upstream(&prod, &staging, &v, &["dev".parse().unwrap()]));
    }
}
