//! Whether and how to move a stage to a version: a [`Snapshot`] of the stage's pointer files
//! and open PR plus an [`Offer`] in, a [`Decision`] out (the files to write, the commit
//! message, the PR's title, body and labels).

use std::cmp::Ordering;
use std::collections::BTreeMap;

use crate::forge::{FileContent, FileWrite, PullRequest};
use crate::pipeline::{Artifact, PointerSpec, Stage, WriteMode};
use crate::pointer::{self, Current};
use crate::render::{self, Marker};
use crate::types::{StageName, Version};

/// Why a version is offered to a stage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Intent {
    /// It arrived by itself (a registry push, an upstream verification): never goes back to an
    /// older version, never brings back one that was rolled back.
    Routine,
    /// `/promote` (or the button) by `by`. `pinned`: a human named this exact version, which
    /// may bring back a version that was rolled back earlier.
    Promote { by: String, pinned: bool },
    /// `/rollback` by `by`: goes back to a version the stage ran before.
    Rollback { by: String },
    /// Rewrite the open PR for the same version on the current default branch (its base moved
    /// or it could not merge), keeping what its marker recorded.
    Rebuild { approved_by: Vec<String>, rollback: bool },
}

impl Intent {
    pub fn is_rollback(&self) -> bool {
        matches!(self, Intent::Rollback { .. } | Intent::Rebuild { rollback: true, .. })
    }
    /// Who approved (recorded in the PR's marker; a manual stage merges only with one).
    pub fn approved_by(&self) -> Vec<String> {
        match self {
            Intent::Routine => vec![],
            Intent::Promote { by, .. } | Intent::Rollback { by } => vec![by.clone()],
            Intent::Rebuild { approved_by, .. } => approved_by.clone(),
        }
    }
    /// Whether a version rolled back in the stage or upstream may be written again.
    pub fn may_bring_back_rejected(&self) -> bool {
        !matches!(self, Intent::Routine | Intent::Promote { pinned: false, .. })
    }
    /// Whether the open PR is rewritten even when it already proposes the version.
    pub fn rewrites_open_pr(&self) -> bool {
        matches!(self, Intent::Rebuild { .. })
    }
}

/// A version offered to a stage, with what is known about it and why it is offered.
#[derive(Debug, Clone)]
pub struct Offer {
    pub version: Version,
    pub annotations: BTreeMap<String, String>,
    /// Which key or identity verified its signature.
    pub verified_by: Option<String>,
    /// The stage that verified it (None for the first stage: it comes from the registry).
    pub verified_in: Option<StageName>,
    pub intent: Intent,
}

/// What the engine read for one stage and artifact.
pub struct Snapshot<'a> {
    pub stage: &'a Stage,
    pub artifact: &'a Artifact,
    pub default_branch: &'a str,
    pub default_head: &'a str,
    /// The stage's pointers for this artifact, each with its file at `default_head`.
    pub pointers: Vec<(&'a PointerSpec, &'a FileContent)>,
    /// The open PR on the stage's branch, if any.
    pub open_pr: Option<&'a PullRequest>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Nothing to do, and why (logged; a no-op is a normal outcome).
    Noop(String),
    /// The open PR already proposes exactly this offer: it is the promotion's outcome. A crash
    /// between opening it and labelling it leaves it without some labels: these are added.
    Proposed {
        number: u64,
        missing_labels: Vec<String>,
    },
    Write(Box<WritePlan>),
}

/// The labels a baton PR must carry (from its marker) that it lacks; empty for a PR without a
/// marker. What completes a PR a crash left half-written.
pub fn missing_labels(pr: &PullRequest) -> Vec<String> {
    let Some(m) = render::parse_marker(&pr.body) else { return vec![] };
    render::labels(&m.stage, m.rollback).into_iter().filter(|l| !pr.labels.contains(l)).collect()
}

/// Everything needed to write one promotion, computed up front.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WritePlan {
    pub mode: WriteMode,
    pub branch: String,
    pub base: String,
    pub parent: String,
    pub files: Vec<FileWrite>,
    pub commit_message: String,
    pub title: String,
    pub body: String,
    pub labels: Vec<String>,
    pub existing_pr: Option<u64>,
    pub marker: Marker,
}

/// A pointer could not be edited: the message is for the humans who own the file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}: {reason}")]
pub struct PlanError {
    pub file: String,
    pub reason: String,
}

/// What the stage runs now, according to its first pointer for the artifact.
pub fn current_version(snapshot: &Snapshot) -> Result<Current, PlanError> {
    let (spec, file) = snapshot.pointers.first().ok_or_else(|| PlanError {
        file: String::new(),
        reason: "the stage has no pointer for this artifact".into(),
    })?;
    pointer::get(&file.text, spec.format, &spec.selector)
        .map_err(|e| PlanError { file: spec.file.to_string(), reason: e.to_string() })
}

/// Is `new` newer than what `current` names? `None`: they cannot be compared.
fn newer(new: &Version, current: &Current) -> Option<Ordering> {
    let tag = current.tag.as_deref()?.parse::<crate::types::Tag>().ok()?;
    new.tag.compare(&tag)
}

/// Decides whether and how to move `snapshot.stage` to `offer`.
pub fn plan_promotion(snapshot: &Snapshot, offer: &Offer) -> Result<Decision, PlanError> {
    let stage = &snapshot.stage.name;
    let v = &offer.version;
    let rollback = offer.intent.is_rollback();
    let approved_by = offer.intent.approved_by();
    let current = current_version(snapshot)?;
    // A tracked channel tag's version (#13): every version has the tag `main`; the engine judged
    // it newer (`planner::tracking::decide`), and its name is written beside it.
    let tracked = super::tracking::is_tracked(snapshot.artifact, v);
    let name = super::tracking::version_name(snapshot.artifact, v, &offer.annotations);
    let current = super::tracking::normalize(snapshot.artifact.track.as_ref(), current);

    let same_digest = current.digest.as_deref() == Some(v.digest.as_str());
    if same_digest && current.tag.as_deref() == Some(v.tag.as_str()) {
        return Ok(Decision::Noop(format!("{stage} already runs {v}")));
    }
    if !rollback && !tracked {
        match newer(v, &current) {
            Some(Ordering::Less) => {
                return Ok(Decision::Noop(format!(
                    "{} is older than {} which {stage} runs",
                    v.tag,
                    current.tag.as_deref().unwrap_or_default()
                )))
            }
            Some(Ordering::Equal) => {
                return Ok(Decision::Noop(format!(
                    "{stage} already runs tag {} (pinned to {}); a re-pushed tag is not a new version",
                    v.tag,
                    current.digest.as_deref().unwrap_or("no digest")
                )))
            }
            _ => {}
        }
    }

    // An open PR for the same stage and artifact: leave it if it already proposes this (or, for
    // routine promotions, a newer) version; otherwise it is updated in place.
    let existing = snapshot.open_pr.and_then(|pr| render::parse_marker(&pr.body).map(|m| (pr, m)));
    if let Some((pr, m)) = &existing {
        if !offer.intent.rewrites_open_pr()
            && m.version() == *v
            && m.rollback == rollback
            && m.approved_by == approved_by
        {
            return Ok(Decision::Proposed { number: pr.number, missing_labels: missing_labels(pr) });
        }
        if !rollback && !m.rollback && m.tag.compare(&v.tag) == Some(Ordering::Greater) {
            return Ok(Decision::Noop(format!("pull request #{} already proposes the newer {}", pr.number, m.tag)));
        }
    }

    let mut files = Vec::new();
    for (spec, file) in &snapshot.pointers {
        let base = files
            .iter()
            .find(|f: &&FileWrite| f.path == file.path)
            .map(|f| f.content.clone())
            .unwrap_or_else(|| file.text.clone());
        let edited = pointer::set_tracked(&base, spec.format, &spec.selector, &v.tag, &v.digest, name.as_deref())
            .map_err(|e| PlanError { file: spec.file.to_string(), reason: e.to_string() })?;
        match files.iter_mut().find(|f: &&mut FileWrite| f.path == file.path) {
            Some(f) => f.content = edited,
            None => files.push(FileWrite { path: file.path.clone(), content: edited }),
        }
    }
    files.retain(|f| snapshot.pointers.iter().any(|(_, orig)| orig.path == f.path && orig.text != f.content));
    if files.is_empty() {
        return Ok(Decision::Noop(format!("{stage}'s pointer files already name {v}")));
    }

    let marker = Marker {
        stage: stage.clone(),
        artifact: snapshot.artifact.name.clone(),
        tag: v.tag.clone(),
        digest: v.digest.clone(),
        name,
        from_tag: current.tag.clone(),
        from_digest: current.digest.clone(),
        verified_in: offer.verified_in.clone(),
        approved_by,
        rollback,
        unit: None,
    };
    let image = snapshot.artifact.image.to_string();
    let paths: Vec<String> = files.iter().map(|f| f.path.clone()).collect();
    let text = render::PromotionText {
        marker: &marker,
        image: &image,
        annotations: &offer.annotations,
        files: &paths,
        verified_by: offer.verified_by.as_deref(),
    };
    Ok(Decision::Write(Box::new(WritePlan {
        mode: snapshot.stage.write,
        branch: render::branch(stage, &snapshot.artifact.name),
        base: snapshot.default_branch.to_string(),
        parent: snapshot.default_head.to_string(),
        files,
        commit_message: render::commit_message(&text),
        title: render::title(&text),
        body: render::body(&text),
        labels: render::labels(stage, rollback),
        existing_pr: existing.map(|(pr, _)| pr.number).or(snapshot.open_pr.map(|p| p.number)),
        marker,
    })))
}

/// The open pull request for baton's `branch` among `open` (all of a repository's open PRs): its
/// head is the branch and, when the App's login is known, baton opened it (a fork's PR from a
/// branch of the same name is not baton's).
pub fn open_pr_for<'a>(open: &'a [PullRequest], branch: &str, app_login: Option<&str>) -> Option<&'a PullRequest> {
    open.iter().find(|p| {
        p.state == crate::forge::PrState::Open && p.head_ref == branch && app_login.is_none_or(|me| p.author == me)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{Digest, Tag};

    #[test]
    fn open_pr_for_table() {
        let pr = |number: u64, branch: &str, author: &str, state: crate::forge::PrState| PullRequest {
            number,
            node_id: format!("PR_{number}"),
            title: String::new(),
            body: String::new(),
            head_ref: branch.into(),
            head_sha: "h".into(),
            base_ref: "main".into(),
            state,
            labels: vec![],
            html_url: String::new(),
            author: author.into(),
        };
        use crate::forge::PrState::{Closed, Open};
        let open = [
            pr(1, "baton/dev/app", "mallory", Open),
            pr(2, "feature", "baton[bot]", Open),
            pr(3, "baton/dev/app", "baton[bot]", Closed),
            pr(4, "baton/dev/app", "baton[bot]", Open),
            pr(5, "baton/prod/app", "alice", Open),
        ];
        let rows: [(&str, Option<&str>, Option<u64>); 5] = [
            ("baton/dev/app", Some("baton[bot]"), Some(4)),
            ("baton/dev/app", None, Some(1)),
            ("baton/prod/app", Some("baton[bot]"), None),
            ("baton/prod/app", None, Some(5)),
            ("baton/staging/app", None, None),
        ];
        for (branch, me, want) in rows {
            assert_eq!(open_pr_for(&open, branch, me).map(|p| p.number), want, "{branch} {me:?}");
        }
    }

    fn pipeline(write: &str) -> crate::pipeline::Pipeline {
        let yaml = format!(
            "artifacts:\n  app:\n    image: r.io/app\n    tags: '.*'\n    verify:\n      - key: k.pub\nstages:\n  - name: dev\n    write: {write}\n    pointers:\n      - {{ file: a.yaml, format: helm-values, artifact: app }}\n"
        );
        crate::pipeline::parse(&yaml).expect("pipeline")
    }

    fn digest(c: char) -> Digest {
        format!("sha256:{}", c.to_string().repeat(64)).parse().unwrap()
    }

    fn v(tag: &str, c: char) -> Version {
        Version { tag: tag.parse::<Tag>().unwrap(), digest: digest(c) }
    }

    fn file(v: &Version) -> FileContent {
        FileContent {
            path: "a.yaml".into(),
            sha: "blob".into(),
            text: format!("image:\n  repository: r.io/app\n  tag: \"{}\"\n  digest: {}\n", v.tag, v.digest),
        }
    }

    fn offer(v: Version, intent: Intent) -> Offer {
        Offer {
            version: v,
            annotations: BTreeMap::new(),
            verified_by: Some("key k.pub".into()),
            verified_in: None,
            intent,
        }
    }

    fn pr_proposing(marker: &Marker) -> PullRequest {
        PullRequest {
            number: 7,
            title: String::new(),
            body: render::body(&render::PromotionText {
                marker,
                image: "r.io/app",
                annotations: &BTreeMap::new(),
                files: &[],
                verified_by: None,
            }),
            head_ref: "baton/dev/app".into(),
            head_sha: "h".into(),
            base_ref: "main".into(),
            state: crate::forge::PrState::Open,
            labels: vec![],
            html_url: String::new(),
            author: "baton[bot]".into(),
            node_id: "PR_7".into(),
        }
    }

    fn marker(v: &Version, rollback: bool) -> Marker {
        Marker {
            stage: "dev".parse().unwrap(),
            artifact: "app".parse().unwrap(),
            tag: v.tag.clone(),
            digest: v.digest.clone(),
            name: None,
            from_tag: Some("1.0.0".into()),
            from_digest: Some(digest('a').to_string()),
            verified_in: None,
            approved_by: vec![],
            rollback,
            unit: None,
        }
    }

    /// What a decision is, for the table: the no-op's reason, or the written PR's title.
    fn outcome(d: Result<Decision, PlanError>) -> String {
        match d {
            Ok(Decision::Noop(why)) => format!("noop: {why}"),
            Ok(Decision::Proposed { number, missing_labels }) => {
                format!("proposed: #{number} (missing labels {missing_labels:?})")
            }
            Ok(Decision::Write(p)) => {
                format!("write: {} (existing PR {:?}, labels {:?})", p.title, p.existing_pr, p.labels)
            }
            Err(e) => format!("error: {e}"),
        }
    }

    #[test]
    fn plan_promotion_table() {
        let prs = pipeline("pull-request");
        let (stage, artifact) = (&prs.stages[0], &prs.artifacts.values().next().unwrap().clone());
        let running = v("1.0.0", 'a');
        let current = file(&running);
        let newer = v("1.1.0", 'b');
        let routine = Intent::Routine;
        let rollback = Intent::Rollback { by: "alice".into() };
        let rebuild = Intent::Rebuild { approved_by: vec![], rollback: false };
        let same_pr = pr_proposing(&marker(&newer, false));
        let labelled = PullRequest { labels: vec!["baton".into(), "baton:dev".into()], ..same_pr.clone() };
        let newer_pr = pr_proposing(&marker(&v("1.2.0", 'c'), false));
        #[rustfmt::skip]
        let cases: Vec<(&str, Offer, Option<&PullRequest>, &str)> = vec![
            ("already runs it", offer(running.clone(), routine.clone()), None, "noop: dev already runs 1.0.0@sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"),
            ("older", offer(v("0.9.0", 'c'), routine.clone()), None, "noop: 0.9.0 is older than 1.0.0 which dev runs"),
            ("re-pushed tag", offer(v("1.0.0", 'd'), routine.clone()), None, "noop: dev already runs tag 1.0.0 (pinned to sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa); a re-pushed tag is not a new version"),
            ("newer", offer(newer.clone(), routine.clone()), None, "write: promote app 1.1.0 to dev (existing PR None, labels [\"baton\", \"baton:dev\"])"),
            ("rollback to an older one", offer(v("0.9.0", 'c'), rollback.clone()), None, "write: rollback app to 0.9.0 in dev (existing PR None, labels [\"baton\", \"baton:dev\", \"baton:rollback\"])"),
            ("the open PR proposes it", offer(newer.clone(), routine.clone()), Some(&labelled), "proposed: #7 (missing labels [])"),
            ("the open PR proposes it, a crash left it unlabelled", offer(newer.clone(), routine.clone()), Some(&same_pr), "proposed: #7 (missing labels [\"baton\", \"baton:dev\"])"),
            ("the open PR proposes a newer one", offer(newer.clone(), routine.clone()), Some(&newer_pr), "noop: pull request #7 already proposes the newer 1.2.0"),
            ("a rebuild rewrites the open PR", offer(newer.clone(), rebuild.clone()), Some(&same_pr), "write: promote app 1.1.0 to dev (existing PR Some(7), labels [\"baton\", \"baton:dev\"])"),
            ("an approval updates the open PR", offer(newer.clone(), Intent::Promote { by: "alice".into(), pinned: false }), Some(&same_pr), "write: promote app 1.1.0 to dev (existing PR Some(7), labels [\"baton\", \"baton:dev\"])"),
        ];
        for (what, offer, open_pr, want) in cases {
            let snapshot = Snapshot {
                stage,
                artifact,
                default_branch: "main",
                default_head: "head",
                pointers: vec![(&stage.pointers[0], &current)],
                open_pr,
            };
            assert_eq!(outcome(plan_promotion(&snapshot, &offer)), want, "{what}");
        }
    }

    #[test]
    fn a_plan_edits_the_pointer_and_keys_its_branch() {
        let prs = pipeline("commit");
        let (stage, artifact) = (&prs.stages[0], prs.artifacts.values().next().unwrap());
        let current = file(&v("1.0.0", 'a'));
        let snapshot = Snapshot {
            stage,
            artifact,
            default_branch: "main",
            default_head: "head",
            pointers: vec![(&stage.pointers[0], &current)],
            open_pr: None,
        };
        let Decision::Write(plan) = plan_promotion(&snapshot, &offer(v("1.1.0", 'b'), Intent::Routine)).unwrap() else {
            panic!("expected a write")
        };
        assert_eq!(plan.mode, WriteMode::Commit);
        assert_eq!((plan.branch.as_str(), plan.base.as_str(), plan.parent.as_str()), ("baton/dev/app", "main", "head"));
        assert_eq!(plan.files, vec![FileWrite { path: "a.yaml".into(), content: file(&v("1.1.0", 'b')).text }]);
    }

    #[test]
    fn a_stage_without_a_pointer_is_an_error() {
        let prs = pipeline("pull-request");
        let snapshot = Snapshot {
            stage: &prs.stages[0],
            artifact: prs.artifacts.values().next().unwrap(),
            default_branch: "main",
            default_head: "head",
            pointers: vec![],
            open_pr: None,
        };
        let err = plan_promotion(&snapshot, &offer(v("1.1.0", 'b'), Intent::Routine)).unwrap_err();
        assert_eq!(err.reason, "the stage has no pointer for this artifact");
    }

    #[test]
    fn intents_table() {
        let by = || "alice".to_string();
        #[rustfmt::skip]
        let cases = [
            (Intent::Routine, false, vec![], false, false),
            (Intent::Promote { by: by(), pinned: false }, false, vec![by()], false, false),
            (Intent::Promote { by: by(), pinned: true }, false, vec![by()], true, false),
            (Intent::Rollback { by: by() }, true, vec![by()], true, false),
            (Intent::Rebuild { approved_by: vec![by()], rollback: true }, true, vec![by()], true, true),
            (Intent::Rebuild { approved_by: vec![], rollback: false }, false, vec![], true, true),
        ];
        for (intent, rollback, approved, bring_back, rewrite) in cases {
            assert_eq!(intent.is_rollback(), rollback, "{intent:?}");
            assert_eq!(intent.approved_by(), approved, "{intent:?}");
            assert_eq!(intent.may_bring_back_rejected(), bring_back, "{intent:?}");
            assert_eq!(intent.rewrites_open_pr(), rewrite, "{intent:?}");
        }
    }
}
