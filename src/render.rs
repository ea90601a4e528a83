//! Every text baton writes to GitHub: pull request titles and bodies (with the hidden
//! machine-readable marker), commit messages with trailers (and the parser of the one trailer
//! baton reads back), branch names, labels, the verification gate's summary. Pure functions;
//! snapshot-tested.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::types::{ArtifactName, Digest, GroupName, StageName, Tag, Version};

/// The facts of one promotion, as written into the PR body marker (`<!-- baton:{json} -->`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Marker {
    pub stage: StageName,
    pub artifact: ArtifactName,
    pub tag: Tag,
    pub digest: Digest,
    /// A tracked channel tag's version (#13): its human name, `main-1a2b3c4` (`tag` is the
    /// channel tag, `main`). None for a release tag, whose name is its tag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_tag: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_digest: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verified_in: Option<StageName>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub approved_by: Vec<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub rollback: bool,
    /// A release unit's PR (#13): every member it moves. `artifact`, `tag` and `digest` above
    /// then name the group's first member.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<UnitMarker>,
}

/// The release unit a PR moves: its group, its id (`units::UnitId` of the members' digests)
/// and each member, from → to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnitMarker {
    pub group: GroupName,
    pub id: String,
    pub members: Vec<UnitMember>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnitMember {
    pub artifact: ArtifactName,
    pub tag: Tag,
    pub digest: Digest,
    /// A tracked channel tag's version name (`main-1a2b3c4`); None for a release tag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_tag: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_digest: Option<String>,
}

impl UnitMember {
    pub fn version(&self) -> Version {
        Version { tag: self.tag.clone(), digest: self.digest.clone() }
    }
    fn moves(&self) -> bool {
        self.from_digest.as_deref() != Some(self.digest.as_str())
    }
    /// How the version reads: its name when tracked, else its tag.
    pub fn shown(&self) -> String {
        self.name.clone().unwrap_or_else(|| self.tag.to_string())
    }
}

impl Marker {
    pub fn version(&self) -> Version {
        Version { tag: self.tag.clone(), digest: self.digest.clone() }
    }
    /// How the version reads for humans: its tracked name (`main-1a2b3c4`), else its tag.
    pub fn shown(&self) -> &str {
        self.name.as_deref().unwrap_or(self.tag.as_str())
    }
}

const MARKER_START: &str = "<!-- baton:";

/// Extracts the marker from a PR body, if there is a well-formed one.
pub fn parse_marker(body: &str) -> Option<Marker> {
    let start = body.find(MARKER_START)? + MARKER_START.len();
    let end = body[start..].find(" -->")? + start;
    serde_json::from_str(&body[start..end]).ok()
}

/// What a promotion PR or commit describes.
#[derive(Debug, Clone)]
pub struct PromotionText<'a> {
    pub marker: &'a Marker,
    pub image: &'a str,
    /// The artifact's OCI annotations.
    pub annotations: &'a BTreeMap<String, String>,
    /// Files changed, for the body.
    pub files: &'a [String],
    /// Which key or identity verified the signature.
    pub verified_by: Option<&'a str>,
}

pub fn branch(stage: &StageName, artifact: &ArtifactName) -> String {
    format!("baton/{stage}/{artifact}")
}

pub fn labels(stage: &StageName, rollback: bool) -> Vec<String> {
    let mut l = vec!["baton".to_string(), format!("baton:{stage}")];
    if rollback {
        l.push("baton:rollback".to_string());
    }
    l
}

pub fn title(p: &PromotionText) -> String {
    let m = p.marker;
    if m.rollback {
        format!("rollback {} to {} in {}", m.artifact, m.shown(), m.stage)
    } else {
        format!("promote {} {} to {}", m.artifact, m.shown(), m.stage)
    }
}

pub fn commit_message(p: &PromotionText) -> String {
    let m = p.marker;
    let verb = if m.rollback { "rollback" } else { "promote" };
    let mut msg = format!(
        "{verb}({}): {} {}\n\nBaton-Stage: {}\nBaton-Artifact: {}\nBaton-Version: {}\nBaton-Digest: {}\n",
        m.stage,
        m.artifact,
        m.shown(),
        m.stage,
        m.artifact,
        m.shown(),
        m.digest
    );
    if m.name.is_some() {
        msg.push_str(&format!("Baton-Track: {}\n", m.tag));
    }
    for a in &m.approved_by {
        msg.push_str(&format!("Baton-Approved-By: {a}\n"));
    }
    if m.rollback {
        if let (Some(t), Some(d)) = (&m.from_tag, &m.from_digest) {
            // Recorded in Git: auto-promotion never brings the rolled-back version back here or
            // downstream.
            msg.push_str(&format!("Baton-Rejected: {t}@{d}\n"));
        }
    }
    msg
}

/// The versions a commit message's `Baton-Rejected:` trailers name (written by
/// [`commit_message`] for a rollback): auto-promotion never brings them back.
pub fn parse_rejected_trailers(message: &str) -> Vec<Version> {
    message
        .lines()
        .filter_map(|line| line.strip_prefix("Baton-Rejected:"))
        .filter_map(|v| v.trim().split_once('@'))
        .filter_map(|(t, d)| Some(Version { tag: t.parse::<Tag>().ok()?, digest: d.parse::<Digest>().ok()? }))
        .collect()
}

/// The name of the check run that records a stage's verification of its bump commit.
pub fn verified_check_name(stage: &StageName) -> String {
    format!("baton/verified/{stage}")
}

/// The identifier of the `Promote to <stage>` button (GitHub allows 20 characters).
pub fn promote_action_id(stage: &StageName) -> String {
    format!("promote:{stage}").chars().take(20).collect()
}

/// The Markdown summary of a stage's verification gate.
pub fn gate_summary(r: &crate::planner::gate::GateReport) -> String {
    use crate::planner::gate::{Signal, SignalKind, SignalState, Soak, Wanted};
    let short = |c: &str| c.chars().take(7).collect::<String>();
    let what = |s: &Signal| {
        let what = match (s.kind, s.state) {
            (SignalKind::CheckRun, SignalState::Passed) => "check run succeeded".to_string(),
            (SignalKind::CheckRun, _) => format!("check run {}", s.detail),
            (SignalKind::Status, _) => format!("status {}", s.detail),
            (SignalKind::WorkflowRun, _) => format!("workflow run {}", s.detail),
        };
        let on = if s.commit == r.commit { String::new() } else { format!(" on `{}`", short(&s.commit)) };
        format!("{what}{on}")
    };
    let mark_of = |state: SignalState| match state {
        SignalState::Passed => "✅",
        SignalState::Failed => "❌",
        SignalState::Pending => "⏳",
    };
    let lines: Vec<String> = r
        .requirements
        .iter()
        .map(|q| {
            let mark = mark_of(q.state());
            let label = q.wanted.label().replace('|', "\\|");
            let min = if q.wanted.min() > 1 { format!(" (at least {})", q.wanted.min()) } else { String::new() };
            let own_name = matches!(q.matched.as_slice(), [one] if one.name == q.wanted.label() || matches!(q.wanted, Wanted::Workflow(_)));
            let mut parts: Vec<String> = match q.matched.as_slice() {
                [one] if own_name => vec![what(one)],
                [one] => vec![format!("`{}`: {}", one.name.replace('|', "\\|"), what(one))],
                many => many
                    .iter()
                    .map(|s| format!("{} `{}`: {}", mark_of(s.state), s.name.replace('|', "\\|"), what(s)))
                    .collect(),
            };
            match (q.matched.is_empty(), q.missing()) {
                (true, _) => parts.push(format!("waiting for {label}")),
                (false, n) if n > 0 => parts.push(format!("waiting for {n} more")),
                _ => {}
            }
            format!("| `{label}`{min} | {mark} {} |", parts.join("<br>"))
        })
        .collect();
    let mut summary = format!(
        "Verification of `{}` in **{}** on this commit.\n\n| check | result |\n|---|---|\n{}\n",
        r.tag,
        r.stage,
        if lines.is_empty() { "| (none configured) | ✅ |".to_string() } else { lines.join("\n") }
    );
    if let Some(t) = r.timed_out {
        let silent: Vec<String> =
            r.requirements.iter().filter(|q| q.state() == SignalState::Pending).map(|q| q.wanted.label()).collect();
        summary.push_str(&format!(
            "\nNo result from {} within {}.\n",
            silent.join(", "),
            crate::planner::signals::duration_text(t)
        ));
    }
    match r.soak {
        Some(Soak::Until { until, secs }) => {
            summary.push_str(&format!("\nSoaking until {} ({secs}s soak).\n", until.to_rfc3339()))
        }
        Some(Soak::Done { since, secs }) => {
            summary.push_str(&format!("\nSoaked {secs}s since {}.\n", since.to_rfc3339()))
        }
        None => {}
    }
    summary
}

/// `baton/policy`'s title for a pull request that changes no pointer and not `.baton.yaml`.
pub const POLICY_NOTHING_TITLE: &str = "No pointer changed";

/// Its summary.
pub fn policy_nothing_to_check() -> String {
    "This pull request changes no pointer file and not `.baton.yaml`: there is nothing for baton to check.\n"
        .to_string()
}

/// The squash-merge commit message of a baton PR: the title line GitHub would use, and the
/// same trailers as the PR's commit, so that the default branch carries them.
pub fn merge_message(number: u64, m: &Marker) -> String {
    let annotations = BTreeMap::new();
    let p = PromotionText { marker: m, image: "", annotations: &annotations, files: &[], verified_by: None };
    // A unit's squash commit keeps the unit's trailers (its members, what a rollback rejects).
    let msg = match &m.unit {
        Some(u) => unit_commit_message(m, u),
        None => commit_message(&p),
    };
    let (first, rest) = msg.split_once('\n').unwrap_or((&msg, ""));
    format!("{first} (#{number})\n{rest}")
}

/// A reply to a command that was carried out.
pub fn command_reply(user: &str, text: &str) -> String {
    if text.contains('\n') {
        format!("@{user}\n\n{}\n", text.trim_end())
    } else {
        format!("@{user} {text}\n")
    }
}

/// A reply to a command that was refused or failed: what happened, in plain words.
pub fn command_refusal(user: &str, text: &str) -> String {
    format!("@{user} 😕 {text}\n")
}

/// What a user sees instead of an internal error: a plain sentence and the delivery ID under
/// which the operators find the error chain in baton's log.
pub fn internal_error(delivery: &str) -> String {
    format!(
        "baton hit an internal error and did not finish this. Try again in a few minutes; if it keeps \
         happening, ask baton's operators to look up delivery `{delivery}` in its log."
    )
}

/// A reply to a comment whose command could not be parsed.
pub fn command_error(user: &str, message: &str, usage: Option<&str>) -> String {
    let mut s = format!("@{user} 😕 {message}\n");
    if let Some(u) = usage {
        s.push_str(&format!("\nUsage:\n\n```\n{}\n```\n", u.trim_end()));
    }
    s.push_str("\n`/help` lists every command.\n");
    s
}

/// The content of a stage's freeze file.
pub fn freeze_file(user: &str, when: &str, reason: Option<&str>) -> String {
    format!(
        "frozen by @{user} at {when}: {}\n\n# Written by baton (/freeze). While this file exists on the default branch,\n# promotions to this stage fail baton/policy; rollbacks are exempt. /unfreeze removes it.\n",
        reason.unwrap_or("no reason given").replace(['\n', '\r'], " ")
    )
}

/// One line of `/status`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusRow {
    pub stage: String,
    pub from: Option<String>,
    pub artifact: String,
    pub version: Option<String>,
    pub digest: Option<String>,
    pub since: Option<String>,
    /// The `baton/verified/<stage>` conclusion (or status) on the bump commit.
    pub verified: Option<String>,
    /// The open PR on baton's branch, with the version it proposes.
    pub pr: Option<(u64, Option<String>)>,
    pub frozen: bool,
    /// The stage's closed promotion window, in words ("closed until Mon 08:00 Europe/Berlin").
    pub window: Option<String>,
    /// The source commit the running version was built from: (short sha, URL).
    pub revision: Option<(String, String)>,
}

/// The `/status` reply: a table and a Mermaid flowchart of the stages.
pub fn status(rows: &[StatusRow]) -> String {
    let mut s = String::from(
        "| stage | artifact | version | digest | since | verified | open PR |\n|---|---|---|---|---|---|---|\n",
    );
    for r in rows {
        let verified = match r.verified.as_deref() {
            Some("success") => "✅".to_string(),
            Some("failure") => "❌".to_string(),
            Some(other) => format!("⏳ {other}"),
            None => "—".to_string(),
        };
        let pr = match &r.pr {
            Some((n, Some(t))) => format!("#{n} (`{}`)", cell(t)),
            Some((n, None)) => format!("#{n}"),
            None => "—".to_string(),
        };
        s.push_str(&format!(
            "| `{}`{}{} | `{}` | {} | {} | {} | {verified} | {pr} |\n",
            cell(&r.stage),
            if r.frozen { " 🧊 frozen" } else { "" },
            r.window.as_deref().map(|w| format!(" 🚧 {}", cell(w))).unwrap_or_default(),
            cell(&r.artifact),
            match (r.version.as_deref(), &r.revision) {
                (Some(v), Some((label, url))) => format!("`{}` ([`{}`]({}))", cell(v), cell(label), cell(url)),
                (Some(v), None) => format!("`{}`", cell(v)),
                (None, _) => "—".into(),
            },
            r.digest.as_deref().map(|v| format!("`{}`", cell(v))).unwrap_or_else(|| "—".into()),
            r.since.as_deref().map(cell).unwrap_or_else(|| "—".into()),
        ));
    }
    s.push_str("\n```mermaid\nflowchart LR\n");
    let id = |name: &str| name.replace(|c: char| !c.is_ascii_alphanumeric(), "_");
    let mut seen = Vec::new();
    for r in rows {
        if seen.contains(&r.stage) {
            continue;
        }
        seen.push(r.stage.clone());
        let versions: Vec<String> = rows
            .iter()
            .filter(|x| x.stage == r.stage)
            .map(|x| format!("{} {}", x.artifact, x.version.as_deref().unwrap_or("?")))
            .collect();
        s.push_str(&format!(
            "  {}[\"{}{}{}<br/>{}\"]\n",
            id(&r.stage),
            r.stage,
            if r.frozen { " 🧊" } else { "" },
            if r.window.is_some() { " 🚧" } else { "" },
            versions.join("<br/>").replace('"', "'")
        ));
    }
    for r in rows {
        if let Some(f) = &r.from {
            let edge = format!("  {} --> {}\n", id(f), id(&r.stage));
            if !s.contains(&edge) {
                s.push_str(&edge);
            }
        }
    }
    s.push_str("```\n");
    s
}

/// Markdown cell text from untrusted input: no table breaks, no HTML, bounded length.
fn cell(s: &str) -> String {
    let s: String = s.chars().take(200).collect();
    s.replace('|', "\\|").replace(['\n', '\r'], " ").replace('<', "&lt;").replace('>', "&gt;")
}

pub fn body(p: &PromotionText) -> String {
    let m = p.marker;
    let mut b = String::new();
    let from = match (&m.from_tag, &m.from_digest) {
        (Some(t), Some(d)) => format!("`{}` (`{}`)", cell(t), short(d)),
        (Some(t), None) => format!("`{}` (no digest pinned)", cell(t)),
        (None, Some(d)) => format!("`{}`", short(d)),
        (None, None) => "nothing pinned yet".to_string(),
    };
    if m.rollback {
        b.push_str(&format!("Rolls **{}** in **{}** back to `{}`.\n\n", m.artifact, m.stage, m.shown()));
    } else {
        b.push_str(&format!("Promotes **{}** `{}` to **{}**.\n\n", m.artifact, m.shown(), m.stage));
    }
    b.push_str("| | |\n|---|---|\n");
    b.push_str(&format!("| Stage | `{}` |\n", m.stage));
    b.push_str(&format!("| Artifact | `{}` |\n", cell(p.image)));
    b.push_str(&format!("| Version | {from} → `{}` |\n", m.shown()));
    b.push_str(&format!("| Digest | `{}` |\n", m.digest));
    if m.name.is_some() {
        b.push_str(&format!("| Channel tag | `{}` (tracked: this digest is pinned, the tag moves on) |\n", m.tag));
    }
    if let Some(rev) = p.annotations.get("org.opencontainers.image.revision") {
        // Flux writes `<branch>@sha1:<sha>`: the link needs the sha alone.
        match crate::manifest_diff::commits::revision_link(p.annotations) {
            Some((label, url)) => b.push_str(&format!("| Revision | [`{}`]({}) |\n", cell(&label), cell(&url))),
            None => b.push_str(&format!("| Revision | `{}` |\n", cell(rev))),
        }
    }
    if let Some(src) = p.annotations.get("org.opencontainers.image.source") {
        b.push_str(&format!("| Source | {} |\n", cell(src)));
    }
    if let Some(created) = p.annotations.get("org.opencontainers.image.created") {
        b.push_str(&format!("| Built | {} |\n", cell(created)));
    }
    match p.verified_by {
        Some(v) => b.push_str(&format!("| Signature | verified ({}) |\n", cell(v))),
        None => b.push_str("| Signature | not verified |\n"),
    }
    match &m.verified_in {
        Some(s) => b.push_str(&format!("| Verified in | `{s}` |\n")),
        None if !m.rollback => b.push_str("| Verified in | new from the registry (first stage) |\n"),
        None => {}
    }
    if !m.approved_by.is_empty() {
        let who: Vec<String> = m.approved_by.iter().map(|a| format!("@{}", cell(a))).collect();
        b.push_str(&format!("| Approved by | {} |\n", who.join(", ")));
    }
    if !p.files.is_empty() {
        b.push_str("\nFiles: ");
        let files: Vec<String> = p.files.iter().map(|f| format!("`{}`", cell(f))).collect();
        b.push_str(&files.join(", "));
        b.push('\n');
    }
    b.push_str("\n<sub>Opened by baton. A newer version updates this pull request in place.</sub>\n\n");
    b.push_str(MARKER_START);
    b.push_str(&serde_json::to_string(m).unwrap_or_default().replace("--", "\\u002d\\u002d"));
    b.push_str(" -->\n");
    b
}

/// The comment on the PR whose merge a stage then failed to verify.
/// `headline`: what failed, in Markdown (`**myapp** \`0.5.1\``, or a unit
/// `**platform (api 1.4.3, web 2.0.1)**`).
pub fn verification_failed_comment(stage: &StageName, headline: &str, summary: &str, key: &str) -> String {
    format!(
        "❌ {headline} failed verification in **{stage}**; baton will not promote it further.\n\n{summary}\n\
         Fix the failure and re-run the checks (baton re-evaluates when they complete), or roll back with \
         `/rollback {stage}`.\n\n{key}\n"
    )
}

pub const REJECTED_LABEL: &str = "baton:rejected";

/// The hidden key that identifies a rejected version's issue.
pub fn rejected_key(artifact: &ArtifactName, v: &Version) -> String {
    format!("<!-- baton-rejected:{artifact}@{} -->", v.digest)
}

pub fn rejected_title(artifact: &ArtifactName, v: &Version) -> String {
    format!("baton did not promote {artifact} {}: signature not verified", v.tag)
}

pub fn rejected_body(artifact: &ArtifactName, image: &str, v: &Version, reason: &str) -> String {
    let reason = reason.replace("```", "'''");
    format!(
        "baton did not promote **{artifact}** `{}` because its signature could not be verified.\n\n\
         | | |\n|---|---|\n| Artifact | `{}` |\n| Version | `{}` |\n| Digest | `{}` |\n\n\
         **Why**\n\n```\n{reason}\n```\n\n\
         **What to do**: sign this digest with a key or identity listed under `artifacts.{artifact}.verify` in \
         `.baton.yaml` (for example `cosign sign --key … {image}@{}`), then push the tag again or wait for \
         `baton reconcile`. If the version should never run, nothing needs doing: close this issue.\n\n{}\n",
        v.tag,
        cell(image),
        v.tag,
        v.digest,
        v.digest,
        rejected_key(artifact, v)
    )
}

// ------------------------------------------------------------------ release units (#13)

/// The branch of a release unit's PR in a stage (group names are never artifact names).
pub fn unit_branch(stage: &StageName, group: &GroupName) -> String {
    format!("baton/{stage}/{group}")
}

/// `/promote` or `/rollback` with a version on a stage that runs a release unit.
pub fn unit_version_refusal(verb: &str, stage: &StageName, group: &GroupName) -> String {
    format!(
        "{stage} runs release unit `{group}`, which moves as one: a version names one artifact. \
         Use `/{verb} {stage}` without a version to {} the whole unit.",
        match verb {
            "rollback" => "roll back",
            "diff" => "compare",
            _ => "promote",
        }
    )
}

/// A unit in one line: `platform (api 1.4.3, web 2.0.1, worker 0.9.0)`.
pub fn unit_label(group: &GroupName, members: &[(ArtifactName, Version)]) -> String {
    let list: Vec<String> = members.iter().map(|(a, v)| format!("{a} {}", v.tag)).collect();
    format!("{group} ({})", list.join(", "))
}

/// `platform (api 1.4.3, worker main-1a2b3c4)`.
pub fn unit_title_members(u: &UnitMarker) -> String {
    format!("{} ({})", u.group, unit_members_list(u))
}

fn unit_members_list(u: &UnitMarker) -> String {
    u.members.iter().map(|m| format!("{} {}", m.artifact, m.shown())).collect::<Vec<_>>().join(", ")
}

/// `promote platform (api 1.4.3, web 2.0.1, worker 0.9.0) to staging`, or
/// `rollback platform to (api 1.4.2, web 2.0.1, worker 0.9.0) in staging`.
pub fn unit_title(m: &Marker, u: &UnitMarker) -> String {
    if m.rollback {
        format!("rollback {} to ({}) in {}", u.group, unit_members_list(u), m.stage)
    } else {
        format!("promote {} ({}) to {}", u.group, unit_members_list(u), m.stage)
    }
}

/// A unit's bump commit: the `Baton-Unit:` trailer (group and id) and one `Baton-Member:` per
/// member; a rollback rejects each member version it moves away from.
pub fn unit_commit_message(m: &Marker, u: &UnitMarker) -> String {
    let verb = if m.rollback { "rollback" } else { "promote" };
    let mut msg = format!(
        "{verb}({}): {} ({})\n\nBaton-Stage: {}\nBaton-Unit: {}/{}\n",
        m.stage,
        u.group,
        unit_members_list(u),
        m.stage,
        u.group,
        u.id
    );
    for member in &u.members {
        msg.push_str(&format!("Baton-Member: {} {}@{}\n", member.artifact, member.shown(), member.digest));
    }
    for a in &m.approved_by {
        msg.push_str(&format!("Baton-Approved-By: {a}\n"));
    }
    if m.rollback {
        for member in u.members.iter().filter(|x| x.moves()) {
            if let (Some(t), Some(d)) = (&member.from_tag, &member.from_digest) {
                msg.push_str(&format!("Baton-Rejected: {t}@{d}\n"));
            }
        }
    }
    msg
}

/// What a unit's PR body shows besides its marker.
#[derive(Debug, Clone)]
pub struct UnitText<'a> {
    pub marker: &'a Marker,
    pub unit: &'a UnitMarker,
    /// Each member's image, by artifact.
    pub images: &'a BTreeMap<ArtifactName, String>,
    /// Which key or identity verified each member's signature.
    pub verified_by: &'a BTreeMap<ArtifactName, String>,
    pub files: &'a [String],
}

pub fn unit_body(t: &UnitText) -> String {
    let (m, u) = (t.marker, t.unit);
    let mut b = String::new();
    if m.rollback {
        b.push_str(&format!("Rolls release unit **{}** in **{}** back to unit `{}`.\n\n", u.group, m.stage, u.id));
    } else {
        b.push_str(&format!("Promotes release unit **{}** (`{}`) to **{}**, as one.\n\n", u.group, u.id, m.stage));
    }
    b.push_str("| member | image | version | digest | signature |\n|---|---|---|---|---|\n");
    for member in &u.members {
        let version = if member.moves() {
            match &member.from_tag {
                Some(from) => format!("`{}` → `{}`", cell(from), cell(&member.shown())),
                None => format!("nothing pinned → `{}`", cell(&member.shown())),
            }
        } else {
            format!("`{}` (unchanged)", cell(&member.shown()))
        };
        let signature = match t.verified_by.get(&member.artifact) {
            Some(by) => format!("verified ({})", cell(by)),
            None => "not verified".to_string(),
        };
        b.push_str(&format!(
            "| `{}` | `{}` | {version} | `{}` | {signature} |\n",
            member.artifact,
            cell(t.images.get(&member.artifact).map(String::as_str).unwrap_or_default()),
            short(member.digest.as_str()),
        ));
    }
    b.push('\n');
    match &m.verified_in {
        Some(s) => b.push_str(&format!("Verified in `{s}` as this exact set of digests.\n")),
        None if !m.rollback => b.push_str("New from the registry (first stage).\n"),
        None => {}
    }
    if !m.approved_by.is_empty() {
        let who: Vec<String> = m.approved_by.iter().map(|a| format!("@{}", cell(a))).collect();
        b.push_str(&format!("Approved by {}.\n", who.join(", ")));
    }
    if !t.files.is_empty() {
        let files: Vec<String> = t.files.iter().map(|f| format!("`{}`", cell(f))).collect();
        b.push_str(&format!("\nFiles: {}\n", files.join(", ")));
    }
    b.push_str("\n<sub>Opened by baton. A newer unit updates this pull request in place.</sub>\n\n");
    b.push_str(MARKER_START);
    b.push_str(&serde_json::to_string(m).unwrap_or_default().replace("--", "\\u002d\\u002d"));
    b.push_str(" -->\n");
    b
}

fn short(d: &str) -> String {
    d.chars().take("sha256:".len() + 12).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn marker() -> Marker {
        Marker {
            stage: "staging".parse().unwrap(),
            artifact: "myapp".parse().unwrap(),
            tag: "0.5.123".parse().unwrap(),
            digest: format!("sha256:{}", "ab".repeat(32)).parse().unwrap(),
            name: None,
            from_tag: Some("0.5.122".into()),
            from_digest: Some(format!("sha256:{}", "cd".repeat(32))),
            verified_in: Some("dev".parse().unwrap()),
            approved_by: vec![],
            rollback: false,
            unit: None,
        }
    }

    fn annotations() -> BTreeMap<String, String> {
        [
            ("org.opencontainers.image.revision", "0123456789abcdef0123456789abcdef01234567"),
            ("org.opencontainers.image.source", "https://github.com/org/app"),
            ("org.opencontainers.image.created", "2026-11-20T10:00:00Z"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    #[test]
    fn verification_failed_comments() {
        let stage: StageName = "dev".parse().unwrap();
        let key = "<!-- baton-verification-failed:dev:abc -->";
        insta::assert_snapshot!(
            "verification_failed_comment",
            verification_failed_comment(&stage, "**myapp** `0.5.1`", "summary of the gate\n", key)
        );
        insta::assert_snapshot!(
            "verification_failed_comment_unit",
            verification_failed_comment(&stage, "**platform (api 1.1.0, worker main-1a2b3c4)**", "summary\n", key)
        );
    }

    #[test]
    fn promotion_texts() {
        let m = marker();
        let ann = annotations();
        let files = vec!["clusters/staging/myapp.yaml".to_string()];
        let p = PromotionText {
            marker: &m,
            image: "registry.internal/deployments/myapp",
            annotations: &ann,
            files: &files,
            verified_by: Some("key .baton/keys/deploy.pub"),
        };
        assert_eq!(title(&p), "promote myapp 0.5.123 to staging");
        insta::assert_snapshot!("commit_message", commit_message(&p));
        insta::assert_snapshot!("pr_body", body(&p));
        assert_eq!(parse_marker(&body(&p)).as_ref(), Some(&m));
        assert_eq!(branch(&p.marker.stage, &p.marker.artifact), "baton/staging/myapp");
    }

    #[test]
    fn tracked_promotion_texts() {
        let mut m = marker();
        m.tag = "main".parse().unwrap();
        m.name = Some("main-0123456".into());
        m.from_tag = Some("main".into());
        let ann = annotations();
        let files = vec!["clusters/staging/myapp.yaml".to_string()];
        let p = PromotionText {
            marker: &m,
            image: "registry.internal/deployments/myapp",
            annotations: &ann,
            files: &files,
            verified_by: Some("key .baton/keys/deploy.pub"),
        };
        assert_eq!(title(&p), "promote myapp main-0123456 to staging");
        insta::assert_snapshot!("tracked_commit_message", commit_message(&p));
        insta::assert_snapshot!("tracked_pr_body", body(&p));
        assert_eq!(parse_marker(&body(&p)).as_ref(), Some(&m));
    }

    #[test]
    fn rollback_with_approver() {
        let mut m = marker();
        m.rollback = true;
        m.verified_in = None;
        m.approved_by = vec!["alice".into()];
        let ann = BTreeMap::new();
        let p = PromotionText { marker: &m, image: "r.io/x", annotations: &ann, files: &[], verified_by: None };
        assert_eq!(title(&p), "rollback myapp to 0.5.123 in staging");
        insta::assert_snapshot!("rollback_commit_message", commit_message(&p));
        insta::assert_snapshot!("rollback_pr_body", body(&p));
        assert_eq!(labels(&m.stage, true), ["baton", "baton:staging", "baton:rollback"]);
    }

    #[test]
    fn rejected_issue() {
        let m = marker();
        let b = rejected_body(&m.artifact, "r.io/deployments/myapp", &m.version(), "no signature found for r.io/x");
        assert!(b.contains(&rejected_key(&m.artifact, &m.version())));
        insta::assert_snapshot!(format!("{}\n\n{b}", rejected_title(&m.artifact, &m.version())));
    }

    #[test]
    fn command_texts() {
        insta::assert_snapshot!("reply", command_reply("alice", "#12 moves prod to `0.5.123` (`sha256:abababababab`)"));
        insta::assert_snapshot!(
            "refusal",
            command_refusal("bob", "@bob is not an approver of prod (approvers: @org/sre)")
        );
        insta::assert_snapshot!(
            "parse_error",
            command_error(
                "bob",
                "unknown command /promot: did you mean /promote?",
                Some("/promote <stage> [<version>]")
            )
        );
        insta::assert_snapshot!("freeze_file", freeze_file("alice", "2026-11-21T08:00:00Z", Some("incident 42")));
        let rows = vec![
            StatusRow {
                stage: "dev".into(),
                from: None,
                artifact: "myapp".into(),
                version: Some("0.5.2".into()),
                digest: Some("sha256:abababababab".into()),
                since: Some("2026-11-21 08:00 UTC".into()),
                verified: Some("success".into()),
                pr: None,
                frozen: false,
                window: None,
                revision: Some((
                    "0123456789ab".into(),
                    "https://github.com/org/myapp/commit/0123456789abcdef0123456789abcdef01234567".into(),
                )),
            },
            StatusRow {
                stage: "prod".into(),
                from: Some("dev".into()),
                artifact: "myapp".into(),
                version: Some("0.5.1".into()),
                digest: Some("sha256:cdcdcdcdcdcd".into()),
                since: None,
                verified: Some("in_progress".into()),
                pr: Some((7, Some("0.5.2".into()))),
                frozen: true,
                window: None,
                revision: None,
            },
            StatusRow {
                stage: "prod-eu".into(),
                from: Some("dev".into()),
                artifact: "myapp".into(),
                version: Some("0.5.1".into()),
                digest: Some("sha256:cdcdcdcdcdcd".into()),
                since: None,
                verified: Some("success".into()),
                pr: Some((8, Some("0.5.2".into()))),
                frozen: false,
                window: Some("closed until Mon 08:00 Europe/Berlin".into()),
                revision: None,
            },
        ];
        insta::assert_snapshot!("status", status(&rows));
    }

    #[test]
    fn hostile_annotations_cannot_break_out() {
        let m = marker();
        let mut ann = BTreeMap::new();
        ann.insert("org.opencontainers.image.source".to_string(), "x | <script> -->\n# hi".to_string());
        let p = PromotionText { marker: &m, image: "r.io/x", annotations: &ann, files: &[], verified_by: None };
        let b = body(&p);
        assert!(!b.contains("<script>"));
        assert_eq!(parse_marker(&b).as_ref(), Some(&m));
        assert_eq!(parse_marker("no marker"), None);
        assert_eq!(parse_marker("<!-- baton:{broken -->"), None);
    }

    /// Signals as deployers report them: a pattern still silent, two clusters of which one
    /// reported (on the artifact's source commit), an exact check, a workflow; then a timeout.
    #[test]
    fn gate_summary_lists_each_matched_context() {
        use crate::pipeline::{CheckPattern, CheckRequirement};
        use crate::planner::gate::{GateReport, GateVerdict, Requirement, Signal, SignalKind, SignalState, Wanted};
        let req =
            |p: &str, min: u32| Wanted::Checks(CheckRequirement { pattern: CheckPattern::parse(p).unwrap(), min });
        let sig = |name: &str, kind: SignalKind, state: SignalState, detail: &str, commit: &str| Signal {
            name: name.into(),
            kind,
            state,
            detail: detail.into(),
            commit: commit.into(),
            at: None,
            id: 1,
        };
        let bump = "b".repeat(40);
        let source = "5394cb7f48332b2de7c17dd8b8384bbc84b7e738";
        let mut report = GateReport {
            stage: "dev".parse().unwrap(),
            tag: "0.5.120".parse().unwrap(),
            commit: bump.clone(),
            verdict: GateVerdict::Pending,
            requirements: vec![
                Requirement {
                    wanted: req("kustomization/myapp-dev/*", 1),
                    matched: vec![],
                    state: SignalState::Pending,
                },
                Requirement {
                    wanted: req("kustomization/myapp-*/*", 2),
                    matched: vec![sig(
                        "kustomization/myapp-dev/0c9c2e41",
                        SignalKind::Status,
                        SignalState::Passed,
                        "success",
                        source,
                    )],
                    state: SignalState::Pending,
                },
                Requirement {
                    wanted: req("continuous-delivery/*", 1),
                    matched: vec![
                        sig("continuous-delivery/myapp-eu", SignalKind::Status, SignalState::Passed, "success", &bump),
                        sig("continuous-delivery/myapp-us", SignalKind::Status, SignalState::Failed, "failure", &bump),
                    ],
                    state: SignalState::Failed,
                },
                Requirement {
                    wanted: req("smoke / dev", 1),
                    matched: vec![sig("smoke / dev", SignalKind::CheckRun, SignalState::Passed, "success", &bump)],
                    state: SignalState::Passed,
                },
                Requirement {
                    wanted: Wanted::Workflow("e2e.yml".into()),
                    matched: vec![sig("e2e.yml", SignalKind::WorkflowRun, SignalState::Pending, "queued", &bump)],
                    state: SignalState::Pending,
                },
            ],
            soak: None,
            timed_out: None,
        };
        insta::assert_snapshot!("gate_summary_signals", gate_summary(&report));
        report.requirements.retain(|r| r.state != SignalState::Failed);
        report.verdict = GateVerdict::Failed;
        report.timed_out = Some(std::time::Duration::from_secs(1800));
        insta::assert_snapshot!("gate_summary_timeout", gate_summary(&report));
    }
}
