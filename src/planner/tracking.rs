//! Tracked channel tags (#13, item 2): an artifact with `track: main` has one version per digest
//! the mutable tag points at. Pure decisions over [`crate::units`]' facts; the engine
//! (`engine/tracked.rs`) reads the registry and the stage's history.
//!
//! How a tracked version travels: its [`Version`] is the channel tag and the digest
//! (`main@sha256:…`), exactly what the pointer says (flux-oci, helm-values and kustomize-image
//! keep `tag: main` beside the digest), so the pointer history, the `baton/verified/<stage>`
//! records and downstream promotions compare versions as before, by digest. Its human name
//! (`main-1a2b3c4`, from the `org.opencontainers.image.revision` annotation read by digest) is
//! [`version_name`]: written in the PR marker (`name`), title, body and commit message, and in
//! yaml-path templates as `{revision}`.

use std::collections::BTreeMap;

use crate::pipeline::Artifact;
use crate::pointer::Current;
use crate::types::{Digest, Tag, Version};
use crate::units::{judge_tracked, newest_observed, tracked_version_name, Observed, TrackedDecision};

/// Whether `version` is a version of `artifact`'s tracked channel tag (its tag is the channel
/// tag) rather than a release tag.
pub fn is_tracked(artifact: &Artifact, version: &Version) -> bool {
    artifact.track.as_ref() == Some(&version.tag)
}

/// The human name of a tracked version (`main-1a2b3c4`); `None` for a release tag, whose name is
/// its tag.
pub fn version_name(artifact: &Artifact, version: &Version, annotations: &BTreeMap<String, String>) -> Option<String> {
    is_tracked(artifact, version)
        .then(|| tracked_version_name(&version.tag, &Observed::from_annotations(version.digest.clone(), annotations)))
}

/// A pointer of a tracked artifact whose text holds no tag (a yaml-path template such as
/// `{repository}:{revision}@{digest}` or `{repository}@{digest}`) names the channel tag's digest:
/// it reads as `main@digest`, like the other formats.
pub fn normalize(track: Option<&Tag>, current: Current) -> Current {
    match (current.tag, track) {
        (None, Some(t)) if current.digest.is_some() => Current { tag: Some(t.to_string()), digest: current.digest },
        (tag, _) => Current { tag, digest: current.digest },
    }
}

/// What to do with the digest the channel tag points at now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// A new version: propose it (open the first stage's PR, or update it in place).
    Propose,
    /// The stage runs or proposes this digest already (logged).
    Current(String),
    /// Not a new version: the tag was moved back to an older digest (logged, no downgrade).
    Older(String),
}

/// Whether the digest `candidate` the channel tag `track` points at is a new version for a stage
/// that runs or proposes `proposed` (its pointer's digest, then its open PR's, with their
/// annotations; the newest of them by [`newest_observed`] is what the stage is at) and whose
/// pointer history named `seen` (newest first). Never a downgrade: a digest seen before, or built
/// before what the stage is at, is not a version.
pub fn decide(track: &Tag, candidate: &Observed, proposed: &[Observed], seen: &[Digest]) -> Step {
    let name = |o: &Observed| tracked_version_name(track, o);
    if proposed.iter().any(|p| p.digest == candidate.digest) {
        return Step::Current(format!("{} ({}) is what the stage runs or proposes", name(candidate), candidate.digest));
    }
    let current = newest_observed(proposed);
    match judge_tracked(candidate, current, seen) {
        TrackedDecision::New => Step::Propose,
        TrackedDecision::Current => {
            Step::Current(format!("{} ({}) is what the stage runs or proposes", name(candidate), candidate.digest))
        }
        TrackedDecision::Older => Step::Older(format!(
            "`{track}` points at {} ({}), which is not newer than {}: a re-push of an older digest is not a new version",
            name(candidate),
            candidate.digest.short(),
            current.map_or_else(|| "a digest the stage ran before".to_string(), name),
        )),
    }
}

/// `baton/policy`'s registry row for a tracked version: the channel tag moves on by design, so
/// what counts is that the pinned digest is in the registry (`now`: the digest read back by
/// digest, or why not).
pub fn registry_text(v: &Version, now: &Result<Digest, String>) -> Result<String, String> {
    match now {
        Ok(d) if *d == v.digest => {
            Ok(format!("{} is a digest of the tracked channel tag {} (pinned; the tag moves on)", d.short(), v.tag))
        }
        Ok(d) => Err(format!("the registry returned {} for {}", d.short(), v.digest.short())),
        Err(e) => Err(e.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    fn digest(c: char) -> Digest {
        format!("sha256:{}", c.to_string().repeat(64)).parse().unwrap()
    }

    fn obs(c: char, minute: Option<u32>, revision: Option<&str>) -> Observed {
        Observed {
            digest: digest(c),
            created: minute.map(|m| Utc.with_ymd_and_hms(2026, 12, 1, 10, m, 0).unwrap()),
            revision: revision.map(str::to_string),
        }
    }

    fn artifact(track: Option<&str>) -> Artifact {
        let key = match track {
            Some(t) => format!("track: {t}"),
            None => r"tags: '^\d+\.\d+\.\d+$'".to_string(),
        };
        let yaml = format!(
            "artifacts:\n  app:\n    image: r.io/app\n    {key}\n    verify:\n      - key: k.pub\nstages:\n  - name: dev\n    pointers:\n      - {{ file: a.yaml, format: helm-values, artifact: app }}\n"
        );
        crate::pipeline::parse(&yaml).expect("pipeline").artifacts.into_values().next().unwrap()
    }

    #[test]
    fn decide_table() {
        let main: Tag = "main".parse().unwrap();
        let (d1, d2, d3) = (obs('1', Some(1), Some("1a2b3c4d")), obs('2', Some(2), None), obs('3', Some(3), None));
        let bare = obs('4', None, None);
        type Case<'a> = (&'a str, &'a Observed, Vec<Observed>, Vec<char>, Option<&'a str>);
        let cases: Vec<Case> = vec![
            ("first digest, nothing pinned", &d1, vec![], vec![], None),
            ("newer than what runs", &d2, vec![d1.clone()], vec!['1'], None),
            ("newer than the open PR's proposal", &d3, vec![d1.clone(), d2.clone()], vec!['1'], None),
            (
                "the open PR proposes it already",
                &d2,
                vec![d1.clone(), d2.clone()],
                vec!['1'],
                Some("is what the stage runs or proposes"),
            ),
            ("the stage runs it", &d1, vec![d1.clone()], vec!['1'], Some("is what the stage runs or proposes")),
            (
                "re-push of a digest the stage ran",
                &d1,
                vec![d3.clone()],
                vec!['3', '1'],
                Some("`main` points at main-1a2b3c4 (sha256:111111111111), which is not newer than main-333333333333"),
            ),
            (
                "re-push of a digest only proposed before: built earlier",
                &d2,
                vec![d1.clone(), d3.clone()],
                vec!['1'],
                Some("not newer than main-333333333333"),
            ),
            ("no created annotation: observation order", &bare, vec![d3.clone()], vec!['3'], None),
        ];
        for (why, candidate, proposed, seen, expected) in cases {
            let seen: Vec<Digest> = seen.into_iter().map(digest).collect();
            let got = decide(&main, candidate, &proposed, &seen);
            match expected {
                None => assert_eq!(got, Step::Propose, "{why}"),
                Some(text) => match got {
                    Step::Current(reason) | Step::Older(reason) => assert!(reason.contains(text), "{why}: {reason}"),
                    Step::Propose => panic!("{why}: proposed"),
                },
            }
        }
    }

    #[test]
    fn names_and_tracked_versions() {
        let tracked = artifact(Some("main"));
        let release = artifact(None);
        let annotations: BTreeMap<String, String> =
            [(crate::units::REVISION_ANNOTATION.to_string(), "1A2B3C4D5E6F".to_string())].into();
        let main = Version { tag: "main".parse().unwrap(), digest: digest('a') };
        let rel = Version { tag: "1.2.3".parse().unwrap(), digest: digest('a') };
        type Row<'a> = (&'a Artifact, &'a Version, &'a BTreeMap<String, String>, Option<&'a str>);
        let rows: [Row; 4] = [
            (&tracked, &main, &annotations, Some("main-1a2b3c4")),
            (&tracked, &main, &BTreeMap::new(), Some("main-aaaaaaaaaaaa")),
            (&tracked, &rel, &annotations, None),
            (&release, &main, &annotations, None),
        ];
        for (a, v, ann, want) in rows {
            assert_eq!(version_name(a, v, ann).as_deref(), want, "{v} of {:?}", a.track);
        }
    }

    #[test]
    fn normalize_table() {
        let main: Tag = "main".parse().unwrap();
        let d = digest('5').to_string();
        let cur = |t: Option<&str>, d: Option<&str>| Current { tag: t.map(Into::into), digest: d.map(Into::into) };
        let rows = [
            (Some(&main), cur(None, Some(&d)), cur(Some("main"), Some(&d))),
            (Some(&main), cur(Some("main"), Some(&d)), cur(Some("main"), Some(&d))),
            (Some(&main), cur(None, None), cur(None, None)),
            (None, cur(None, Some(&d)), cur(None, Some(&d))),
        ];
        for (track, input, want) in rows {
            assert_eq!(normalize(track, input.clone()), want, "{input:?}");
        }
    }

    /// `plan_promotion` with tracked offers: every version is tagged `main`, so the release-tag
    /// order ("a re-pushed tag is not a new version") does not apply; the name is written.
    #[test]
    fn plan_promotion_of_tracked_versions() {
        use crate::forge::FileContent;
        use crate::planner::{plan_promotion, Decision, Intent, Offer, Snapshot};
        let yaml = "artifacts:\n  app:\n    image: r.io/app\n    track: main\n    verify:\n      - key: k.pub\nstages:\n  - name: dev\n    pointers:\n      - { file: a.yaml, format: yaml-path, artifact: app, field: image, template: '{repository}:{revision}@{digest}' }\n";
        let pipeline = crate::pipeline::parse(yaml).expect("pipeline");
        let (stage, artifact) = (&pipeline.stages[0], pipeline.artifacts.values().next().unwrap());
        let file = |d: &Digest| FileContent {
            path: "a.yaml".into(),
            sha: "blob".into(),
            text: format!("image: r.io/app:main-0000000@{d}\n"),
        };
        let annotations: BTreeMap<String, String> =
            [(crate::units::REVISION_ANNOTATION.to_string(), "1a2b3c4d5e".to_string())].into();
        let offer = |c: char| Offer {
            version: Version { tag: "main".parse().unwrap(), digest: digest(c) },
            annotations: annotations.clone(),
            verified_by: Some("key k.pub".into()),
            verified_in: None,
            intent: Intent::Routine,
        };
        let rows: [(char, char, Option<&str>); 2] =
            [('1', '2', Some("image: r.io/app:main-1a2b3c4@sha256:2222")), ('2', '2', None)];
        for (running, offered, want) in rows {
            let f = file(&digest(running));
            let snapshot = Snapshot {
                stage,
                artifact,
                default_branch: "main",
                default_head: "h",
                pointers: vec![(&stage.pointers[0], &f)],
                open_pr: None,
            };
            match (plan_promotion(&snapshot, &offer(offered)).unwrap(), want) {
                (Decision::Write(plan), Some(text)) => {
                    assert!(plan.files[0].content.starts_with(text), "{}", plan.files[0].content);
                    assert_eq!(plan.title, "promote app main-1a2b3c4 to dev");
                    assert_eq!(plan.marker.name.as_deref(), Some("main-1a2b3c4"));
                    assert_eq!(plan.marker.from_tag.as_deref(), Some("main"), "a tagless pointer reads as main");
                }
                (Decision::Noop(why), None) => assert!(why.contains("already runs main@"), "{why}"),
                (other, _) => panic!("{running} → {offered}: {other:?}"),
            }
        }
    }

    #[test]
    fn registry_text_table() {
        let v = Version { tag: "main".parse().unwrap(), digest: digest('6') };
        assert_eq!(
            registry_text(&v, &Ok(digest('6'))).unwrap(),
            "sha256:666666666666 is a digest of the tracked channel tag main (pinned; the tag moves on)"
        );
        assert!(registry_text(&v, &Ok(digest('7'))).is_err());
        assert_eq!(registry_text(&v, &Err("gone".into())), Err("gone".to_string()));
    }
}
