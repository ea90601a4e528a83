//! Turns the YAML tree into a [`Pipeline`], collecting every problem with its line.
//!
//! Two passes: first each artifact and stage is checked on its own (shape, types, values),
//! then the cross references (stage `from`, cycles, pointer artifacts, duplicate pointers).
//!
//! Which keys a mapping may and must have, how messages name it, the words of enumerations and
//! the per-format pointer rules come from the tables in `spec.rs`, which `baton schema` renders
//! as a JSON Schema.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Display;
use std::time::Duration;

use super::spec::{self, MapSpec, Need, SELECTOR_KEYS};
use super::yaml::{Kind, Node};
use super::{
    shorten, Approver, Artifact, CheckPattern, CheckRequirement, Group, GroupWhen, PartialGroups, Pipeline,
    PointerSpec, Problem, Promotion, RepoPath, SignalSource, Stage, Verification, VerifyEntry, WorkflowGate, WriteMode,
    NO_RELEASE_TAGS, WORKFLOW_INPUTS,
};
use crate::pointer::{Format, Selector};
use crate::types::{ArtifactName, GroupName, ImageName, StageName, Tag};
use crate::windows::{self, Windows};

/// The template a yaml-path pointer uses when it has none.
pub const DEFAULT_TEMPLATE: &str = "{tag}@{digest}";
/// The mapping a helm-values pointer edits when it has no `field`.
pub const DEFAULT_HELM_FIELD: &str = "image";
/// The longest soak accepted (a typo like `100h` is more likely than a real 30-day soak).
const MAX_SOAK: Duration = Duration::from_secs(30 * 24 * 3600);

struct Ctx<'p> {
    problems: &'p mut Vec<Problem>,
}

/// A value under a key (or a list item): the key's line is where problems about a missing or
/// collection value are reported.
#[derive(Clone, Copy)]
struct Field<'a> {
    key_line: usize,
    node: &'a Node,
}

impl<'a> Field<'a> {
    fn item(node: &'a Node) -> Self {
        Field { key_line: node.line, node }
    }
    /// The line for a problem about this value: the scalar's own line, else the key's line
    /// (a block collection starts on the line after its key).
    fn line(&self) -> usize {
        match self.node.kind {
            Kind::Scalar { .. } if !self.node.is_null() => self.node.line,
            _ => self.key_line,
        }
    }
}

struct Fields<'a> {
    spec: &'static MapSpec,
    entries: Vec<(&'a str, Field<'a>)>,
    /// Keys suggested for misspelt ones ("did you mean"): not to be reported missing too.
    suggested: Vec<&'a str>,
}

impl<'a> Fields<'a> {
    fn get(&self, key: &str) -> Option<Field<'a>> {
        debug_assert!(self.spec.key(key).is_some(), "`{key}` is not in the table of {}", self.spec.what);
        self.entries.iter().find(|(k, _)| *k == key).map(|(_, f)| *f)
    }
    /// The words of an enumeration key, from the table.
    fn words(&self, key: &str) -> &'static [&'static str] {
        self.spec.words(key)
    }
    fn has(&self, key: &str) -> bool {
        self.get(key).is_some()
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// Edit distance with transpositions (optimal string alignment), for "did you mean".
fn distance(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (d[i - 1][j] + 1).min(d[i][j - 1] + 1).min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = v;
        }
    }
    d[a.len()][b.len()]
}

/// The closest candidate, if it is close enough to be a likely typo.
pub(crate) fn suggest<'c>(word: &str, candidates: impl IntoIterator<Item = &'c str>) -> Option<&'c str> {
    if word.chars().count() > 100 {
        return None;
    }
    let limit = (word.chars().count() / 3).max(1);
    candidates
        .into_iter()
        .map(|c| (distance(word, c), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

fn did_you_mean<'c>(word: &str, candidates: impl IntoIterator<Item = &'c str>) -> String {
    match suggest(word, candidates) {
        Some(s) => format!(" (did you mean `{s}`?)"),
        None => String::new(),
    }
}

impl Ctx<'_> {
    fn err(&mut self, line: usize, path: &str, message: impl Display) {
        let message = if path.is_empty() { message.to_string() } else { format!("{path}: {message}") };
        self.problems.push(Problem { line: Some(line), message });
    }

    /// A mapping with only the keys of `spec`, all its required ones present (those whose
    /// absence has a message of its own are left to the caller).
    fn mapping<'a>(&mut self, f: Field<'a>, path: &str, spec: &'static MapSpec) -> Option<Fields<'a>> {
        let what = spec.what;
        let allowed: Vec<&str> = spec.key_names().collect();
        let Kind::Map(entries) = &f.node.kind else {
            self.err(f.line(), path, format!("expected {what} (a mapping), found {}", f.node.describe()));
            return None;
        };
        let mut fields = Fields { spec, entries: Vec::new(), suggested: Vec::new() };
        // A misspelt key is reported once, as unknown with a suggestion, not also as missing.
        let mut suggested: Vec<&str> = Vec::new();
        for (k, v) in entries {
            let key = k.as_scalar().unwrap_or_default();
            if allowed.contains(&key) {
                fields.entries.push((key, Field { key_line: k.line, node: v }));
            } else {
                let hint = match suggest(key, allowed.iter().copied()) {
                    Some(s) => {
                        suggested.push(s);
                        format!("did you mean `{s}`?")
                    }
                    None => format!("expected one of: {}", allowed.join(", ")),
                };
                self.err(k.line, path, format!("unknown key `{}` in {what} ({hint})", shorten(key)));
            }
        }
        for r in spec.keys.iter().filter(|k| k.need == Need::Required).map(|k| k.name) {
            if !fields.has(r) && !suggested.contains(&r) {
                self.err(f.node.line, path, format!("missing required key `{r}` in {what}"));
            }
        }
        fields.suggested = suggested;
        Some(fields)
    }

    /// A non-empty string.
    fn string<'a>(&mut self, f: Field<'a>, path: &str) -> Option<&'a str> {
        match f.node.as_scalar() {
            Some(_) if f.node.is_null() => {
                self.err(f.line(), path, "expected a string, found nothing");
                None
            }
            Some("") => {
                self.err(f.line(), path, "must not be empty");
                None
            }
            Some(s) if s.chars().any(char::is_control) => {
                self.err(f.line(), path, "must be on one line, without control characters");
                None
            }
            Some(s) => Some(s),
            None => {
                self.err(f.line(), path, format!("expected a string, found {}", f.node.describe()));
                None
            }
        }
    }

    fn list<'a>(&mut self, f: Field<'a>, path: &str) -> Option<&'a [Node]> {
        match &f.node.kind {
            Kind::Seq(items) => Some(items),
            _ => {
                self.err(f.line(), path, format!("expected a list, found {}", f.node.describe()));
                None
            }
        }
    }

    fn parsed<T, E: Display>(
        &mut self,
        f: Field<'_>,
        path: &str,
        parse: impl FnOnce(&str) -> Result<T, E>,
    ) -> Option<T> {
        let s = self.string(f, path)?;
        match parse(s) {
            Ok(v) => Some(v),
            Err(e) => {
                self.err(f.line(), path, e);
                None
            }
        }
    }

    fn repo_path(&mut self, f: Field<'_>, path: &str) -> Option<RepoPath> {
        self.parsed(f, path, |s| s.parse::<RepoPath>())
    }

    /// One of the `words` of an enumeration (from the table); `value` maps each word to its value.
    fn choice<T>(
        &mut self,
        f: Field<'_>,
        path: &str,
        words: &[&str],
        value: impl FnOnce(&str) -> Option<T>,
    ) -> Option<T> {
        let s = self.string(f, path)?;
        if words.contains(&s) {
            let v = value(s);
            debug_assert!(v.is_some(), "{path}: no value for the word `{s}` of the table");
            return v;
        }
        let hint = did_you_mean(s, words.iter().copied());
        self.err(f.line(), path, format!("unknown value `{}`{hint}: expected one of {}", shorten(s), words.join(", ")));
        None
    }

    /// A regular expression, anchored as `^(?:…)$`.
    fn regex(&mut self, f: Field<'_>, path: &str) -> Option<regex::Regex> {
        self.parsed(f, path, anchored_regex)
    }

    // ---------------------------------------------------------------- artifacts

    fn artifacts(&mut self, f: Field<'_>) -> BTreeMap<String, Option<Artifact>> {
        let path = "artifacts";
        let mut out = BTreeMap::new();
        let Kind::Map(entries) = &f.node.kind else {
            self.err(f.line(), path, format!("expected a mapping of artifact names, found {}", f.node.describe()));
            return out;
        };
        if entries.is_empty() {
            self.err(f.line(), path, "at least one artifact is required");
        }
        for (k, v) in entries {
            let raw = k.as_scalar().unwrap_or_default();
            let apath = format!("artifacts.{}", shorten(raw));
            let name = match raw.parse::<ArtifactName>() {
                Ok(n) => Some(n),
                Err(e) => {
                    self.err(k.line, path, e);
                    None
                }
            };
            let artifact = self.artifact(Field { key_line: k.line, node: v }, &apath);
            out.insert(
                raw.to_string(),
                name.zip(artifact).map(|(name, (image, tags, track, verify))| Artifact {
                    name,
                    image,
                    tags,
                    track,
                    verify,
                }),
            );
        }
        out
    }

    #[allow(clippy::type_complexity)]
    fn artifact(
        &mut self,
        f: Field<'_>,
        path: &str,
    ) -> Option<(ImageName, regex::Regex, Option<Tag>, Vec<VerifyEntry>)> {
        let fields = self.mapping(f, path, &spec::ARTIFACT)?;
        let image = fields.get("image").and_then(|f| self.parsed(f, &join(path, "image"), |s| s.parse::<ImageName>()));
        let (tags, track) = self.tags_and_track(&fields, f, path);
        let verify = match fields.get("verify") {
            None => {
                self.err(
                    f.node.line,
                    path,
                    "missing `verify`: baton fails closed: at least one verify entry is required",
                );
                None
            }
            Some(vf) => self.verify(vf, &join(path, "verify")),
        };
        Some((image?, tags?, track?, verify?))
    }

    /// `tags`, `track` or both (#13): without `tags` the release pattern matches no tag.
    fn tags_and_track(
        &mut self,
        fields: &Fields<'_>,
        f: Field<'_>,
        path: &str,
    ) -> (Option<regex::Regex>, Option<Option<Tag>>) {
        let tags = match fields.get("tags") {
            Some(tf) => self.regex(tf, &join(path, "tags")),
            None => Some(regex::Regex::new(NO_RELEASE_TAGS).expect("the never-matching pattern")),
        };
        let track = match fields.get("track") {
            Some(tf) => self.parsed(tf, &join(path, "track"), |s| s.parse::<Tag>()).map(Some),
            None => Some(None),
        };
        let named = |k: &str| fields.has(k) || fields.suggested.contains(&k);
        if !named("tags") && !named("track") {
            self.err(
                f.node.line,
                path,
                "missing `tags` (a pattern of release tags) or `track` (a channel tag such as main): one is required",
            );
            return (None, None);
        }
        if !fields.has("tags") && !fields.has("track") {
            return (None, None);
        }
        if let (Some(re), Some(Some(t)), Some(tf)) = (&tags, &track, fields.get("track")) {
            if re.is_match(t.as_str()) {
                self.err(
                    tf.line(),
                    &join(path, "track"),
                    format!("the channel tag `{t}` also matches `tags`: a tag is either a release or a channel"),
                );
                return (None, None);
            }
        }
        (tags, track)
    }

    fn verify(&mut self, f: Field<'_>, path: &str) -> Option<Vec<VerifyEntry>> {
        let items = self.list(f, path)?;
        if items.is_empty() {
            self.err(f.line(), path, "baton fails closed: at least one verify entry is required");
            return None;
        }
        let entries: Vec<Option<VerifyEntry>> = items
            .iter()
            .enumerate()
            .map(|(i, item)| self.verify_entry(Field::item(item), &format!("{path}[{i}]")))
            .collect();
        entries.into_iter().collect()
    }

    fn verify_entry(&mut self, f: Field<'_>, path: &str) -> Option<VerifyEntry> {
        let fields = self.mapping(f, path, &spec::VERIFY_ENTRY)?;
        let (key, issuer, subject) = (fields.get("key"), fields.get("issuer"), fields.get("subject"));
        match (key, issuer, subject) {
            (Some(key), None, None) => {
                let path = self.repo_path(key, &join(path, "key"))?;
                Some(VerifyEntry::Key { path })
            }
            (Some(_), _, _) => {
                self.err(
                    f.node.line,
                    path,
                    "a verify entry has either `key` (a public key) or `issuer` and `subject` (keyless), not both",
                );
                None
            }
            (None, Some(i), Some(s)) => {
                let issuer = self.parsed(i, &join(path, "issuer"), parse_issuer);
                let subject = self.regex(s, &join(path, "subject"));
                Some(VerifyEntry::Keyless { issuer: issuer?, subject: subject? })
            }
            (None, Some(_), None) | (None, None, Some(_)) => {
                let missing = if issuer.is_none() { "issuer" } else { "subject" };
                self.err(
                    f.node.line,
                    path,
                    format!("a keyless verify entry needs both `issuer` and `subject`; `{missing}` is missing"),
                );
                None
            }
            (None, None, None) => {
                self.err(f.node.line, path, "a verify entry needs `key`, or `issuer` and `subject`");
                None
            }
        }
    }

    // ---------------------------------------------------------------- stages

    fn stage(&mut self, f: Field<'_>, path: &str, artifacts: &BTreeMap<String, Option<Artifact>>) -> StageDraft {
        let mut d = StageDraft::default();
        let Some(fields) = self.mapping(f, path, &spec::STAGE) else {
            return d;
        };
        if let Some(nf) = fields.get("name") {
            d.name_line = nf.line();
            if let Some(raw) = self.string(nf, &join(path, "name")) {
                d.raw_name = Some(raw.to_string());
                match raw.parse::<StageName>() {
                    Ok(n) => d.name = Some(n),
                    Err(e) => self.err(nf.line(), &join(path, "name"), e),
                }
            }
        }
        if let Some(ff) = fields.get("from") {
            d.from_line = ff.line();
            if let Some(raw) = self.string(ff, &join(path, "from")) {
                match raw.parse::<StageName>() {
                    Ok(n) => d.from = Some(Ok(n)),
                    Err(e) => {
                        self.err(ff.line(), &join(path, "from"), e);
                        d.from = Some(Err(()));
                    }
                }
            } else {
                d.from = Some(Err(()));
            }
        }
        let mut ok = d.name.is_some() && !matches!(d.from, Some(Err(())));

        let mut pointers = Vec::new();
        if let Some(pf) = fields.get("pointers") {
            let ppath = join(path, "pointers");
            match self.list(pf, &ppath) {
                Some([]) => {
                    self.err(pf.line(), &ppath, "at least one pointer is required");
                    ok = false;
                }
                Some(items) => {
                    for (i, item) in items.iter().enumerate() {
                        let draft = self.pointer(Field::item(item), &format!("{ppath}[{i}]"), artifacts);
                        ok &= draft.spec.is_some();
                        pointers.push(draft);
                    }
                }
                None => ok = false,
            }
        }

        let approvers = match fields.get("approvers") {
            Some(af) => self.approvers(af, &join(path, "approvers")),
            None => Some(Vec::new()),
        };
        let default_promotion = match &approvers {
            Some(a) if !a.is_empty() => Promotion::Manual,
            _ => Promotion::Auto,
        };
        let promotion = match fields.get("promotion") {
            Some(pf) => self.choice(pf, &join(path, "promotion"), fields.words("promotion"), |w| match w {
                "auto" => Some(Promotion::Auto),
                "manual" => Some(Promotion::Manual),
                _ => None,
            }),
            None => Some(default_promotion),
        };
        let write = match fields.get("write") {
            Some(wf) => self.choice(wf, &join(path, "write"), fields.words("write"), |w| match w {
                "pull-request" => Some(WriteMode::PullRequest),
                "commit" => Some(WriteMode::Commit),
                _ => None,
            }),
            None => Some(WriteMode::PullRequest),
        };
        let verification = match fields.get("verification") {
            Some(vf) => self.verification(vf, &join(path, "verification")),
            None => Some(Verification::default()),
        };
        let freeze = match fields.get("freeze") {
            Some(ff) => {
                let fpath = join(path, "freeze");
                let file = self.mapping(ff, &fpath, &spec::FREEZE).and_then(|fields| fields.get("file")).map(|file| {
                    d.freeze_line = file.line();
                    self.repo_path(file, &join(&fpath, "file"))
                });
                match file {
                    Some(Some(p)) => Some(Some(p)),
                    _ => None,
                }
            }
            None => Some(None),
        };

        let windows = match fields.get("windows") {
            Some(wf) => self.windows(wf, &join(path, "windows")).map(Some),
            None => Some(None),
        };
        let partial_groups = match fields.get("groups") {
            Some(gf) => self.stage_groups(gf, &join(path, "groups")),
            None => Some(PartialGroups::default()),
        };
        ok &= windows.is_some() && partial_groups.is_some();

        d.pointers = pointers;
        if let (true, Some(name), Some(promotion), Some(write), Some(verification), Some(approvers), Some(freeze)) =
            (ok, d.name.clone(), promotion, write, verification, approvers, freeze)
        {
            d.stage = Some(Stage {
                name,
                from: d.from.clone().and_then(Result::ok),
                pointers: d.pointers.iter().filter_map(|p| p.spec.clone()).collect(),
                promotion,
                write,
                verification,
                approvers,
                freeze,
                windows: windows.flatten(),
                partial_groups: partial_groups.unwrap_or_default(),
            });
        }
        d
    }

    fn pointer(&mut self, f: Field<'_>, path: &str, artifacts: &BTreeMap<String, Option<Artifact>>) -> PointerDraft {
        let mut d = PointerDraft { line: f.node.line, artifact: None, spec: None };
        let Some(fields) = self.mapping(f, path, &spec::POINTER) else {
            return d;
        };
        let file = fields.get("file").and_then(|ff| self.repo_path(ff, &join(path, "file")));
        let format =
            fields.get("format").and_then(|ff| self.parsed(ff, &join(path, "format"), |s| s.parse::<Format>()));
        let artifact = fields.get("artifact").and_then(|af| {
            let raw = self.string(af, &join(path, "artifact"))?;
            d.artifact = Some((raw.to_string(), af.line()));
            raw.parse::<ArtifactName>().ok()
        });

        let mut strings: HashMap<&str, (String, usize)> = HashMap::new();
        let mut ok = true;
        for key in SELECTOR_KEYS {
            if let Some(sf) = fields.get(key) {
                match self.string(sf, &join(path, key)) {
                    Some(s) => {
                        strings.insert(key, (s.to_string(), sf.line()));
                    }
                    None => ok = false,
                }
            }
        }
        let Some(format) = format else {
            return d;
        };
        let rule = spec::format_rule(format.as_str());
        let takes = rule.takes;
        for key in SELECTOR_KEYS {
            if let Some((_, line)) = strings.get(key) {
                if !takes.contains(key) {
                    self.err(
                        *line,
                        &join(path, key),
                        format!("`{key}` does not apply to format {format} (it takes: {})", takes.join(", ")),
                    );
                    ok = false;
                }
            }
        }
        let take = |k: &str| strings.get(k).cloned();

        if let Some((field, line)) = take("field") {
            if let Err(e) = check_field_path(&field) {
                self.err(line, &join(path, "field"), e);
                ok = false;
            }
        }
        for (key, what) in rule.requires {
            if !strings.contains_key(key) {
                self.err(d.line, path, format!("format {format} requires `{key}` ({what})"));
                ok = false;
            }
        }
        if let Some((name, line)) = take("name") {
            if name.chars().any(|c| c.is_whitespace() || c.is_control()) {
                self.err(line, &join(path, "name"), "must be a Kubernetes object name (no spaces)");
                ok = false;
            }
        }
        if let Some((image, line)) = take("image") {
            if image.chars().any(|c| c.is_whitespace() || c.is_control()) {
                self.err(line, &join(path, "image"), "must be an image name (no spaces)");
                ok = false;
            }
        }
        if let Some((template, line)) = take("template") {
            if let Err(e) = check_template(&template) {
                self.err(line, &join(path, "template"), e);
                ok = false;
            }
        }

        let art = artifact.as_ref().and_then(|a| artifacts.get(a.as_str())).and_then(Option::as_ref);
        let default_image = art.map(|a| a.image.to_string());
        let value = |k: &str| take(k).map(|(v, _)| v);
        let selector = match format {
            Format::FluxOci => Selector { name: value("name"), ..Selector::default() },
            Format::HelmValues => Selector {
                field: Some(value("field").unwrap_or_else(|| DEFAULT_HELM_FIELD.into())),
                ..Selector::default()
            },
            Format::KustomizeImage => Selector { image: value("image").or(default_image), ..Selector::default() },
            Format::YamlPath => Selector {
                field: value("field"),
                image: value("image").or(default_image),
                template: Some(value("template").unwrap_or_else(|| DEFAULT_TEMPLATE.into())),
                name: None,
            },
        };
        if let (true, Some(file), Some(artifact), Some(_)) = (ok, file, artifact, art) {
            d.spec = Some(PointerSpec { file, format, artifact, selector });
        }
        d
    }

    fn verification(&mut self, f: Field<'_>, path: &str) -> Option<Verification> {
        let fields = self.mapping(f, path, &spec::VERIFICATION)?;
        let checks = match fields.get("checks") {
            None => Some(Vec::new()),
            Some(cf) => {
                let cpath = join(path, "checks");
                let items = self.list(cf, &cpath)?;
                let mut checks: Vec<CheckRequirement> = Vec::new();
                let mut ok = true;
                for (i, item) in items.iter().enumerate() {
                    let ipath = format!("{cpath}[{i}]");
                    match self.check(Field::item(item), &ipath) {
                        Some(c) if checks.iter().any(|o| o.pattern == c.pattern) => {
                            self.err(
                                item.line,
                                &ipath,
                                format!("check `{}` is listed twice", shorten(c.pattern.as_str())),
                            );
                            ok = false;
                        }
                        Some(c) => checks.push(c),
                        None => ok = false,
                    }
                }
                ok.then_some(checks)
            }
        };
        let soak = match fields.get("soak") {
            None => Some(None),
            Some(sf) => self.parsed(sf, &join(path, "soak"), parse_duration).map(Some),
        };
        let timeout = match fields.get("timeout") {
            None => Some(None),
            Some(tf) => self.parsed(tf, &join(path, "timeout"), parse_duration).map(Some),
        };
        let source = match fields.get("source") {
            None => Some(SignalSource::default()),
            Some(sf) => self.choice(sf, &join(path, "source"), fields.words("source"), |w| match w {
                "commit-of-artifact" => Some(SignalSource::CommitOfArtifact),
                _ => None,
            }),
        };
        let workflows = match fields.get("workflows") {
            None => Some(Vec::new()),
            Some(wf) => self.workflows(wf, &join(path, "workflows")),
        };
        Some(Verification { checks: checks?, soak: soak?, timeout: timeout?, source: source?, workflows: workflows? })
    }

    /// A check: `name` (an exact name or a pattern) or `{ name, min }`.
    fn check(&mut self, f: Field<'_>, path: &str) -> Option<CheckRequirement> {
        let pattern = |s: &str| CheckPattern::parse(s).map_err(|e| e.to_string());
        if !matches!(f.node.kind, Kind::Map(_)) {
            return self.parsed(f, path, pattern).map(CheckRequirement::new);
        }
        let fields = self.mapping(f, path, &spec::CHECK)?;
        let name = fields.get("name").and_then(|nf| self.parsed(nf, &join(path, "name"), pattern));
        let min = match fields.get("min") {
            None => Some(1),
            Some(mf) => self.parsed(mf, &join(path, "min"), |s| match s.parse::<u32>() {
                Ok(n) if n >= 1 => Ok(n),
                _ => Err(format!("invalid min {:?}: expected a whole number, at least 1", shorten(s))),
            }),
        };
        Some(CheckRequirement { pattern: name?, min: min? })
    }

    fn workflows(&mut self, f: Field<'_>, path: &str) -> Option<Vec<WorkflowGate>> {
        let items = self.list(f, path)?;
        if items.is_empty() {
            self.err(f.line(), path, "empty list: remove `workflows` or name a workflow file");
            return None;
        }
        let mut out: Vec<WorkflowGate> = Vec::new();
        let mut ok = true;
        for (i, item) in items.iter().enumerate() {
            let ipath = format!("{path}[{i}]");
            let Some(fields) = self.mapping(Field::item(item), &ipath, &spec::WORKFLOW) else {
                ok = false;
                continue;
            };
            let file = fields.get("file").and_then(|ff| self.parsed(ff, &join(&ipath, "file"), parse_workflow_file));
            if let Some(file) = &file {
                if out.iter().any(|w| &w.file == file) {
                    self.err(item.line, &ipath, format!("workflow `{}` is listed twice", shorten(file)));
                    ok = false;
                }
            }
            let inputs = match fields.get("inputs") {
                None => Some(BTreeMap::new()),
                Some(inf) => self.inputs(inf, &join(&ipath, "inputs")),
            };
            match (file, inputs) {
                (Some(file), Some(inputs)) => out.push(WorkflowGate { file, inputs }),
                _ => ok = false,
            }
        }
        ok.then_some(out)
    }

    /// Workflow inputs: names of GitHub's kind, scalar values, none of baton's own.
    fn inputs(&mut self, f: Field<'_>, path: &str) -> Option<BTreeMap<String, String>> {
        let Kind::Map(entries) = &f.node.kind else {
            self.err(
                f.line(),
                path,
                format!("expected a mapping of input names to values, found {}", f.node.describe()),
            );
            return None;
        };
        let mut out = BTreeMap::new();
        let mut ok = true;
        for (k, v) in entries {
            let key = k.as_scalar().unwrap_or_default();
            let kpath = join(path, key);
            let name_ok = !key.is_empty()
                && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
                && key.bytes().next().is_some_and(|b| b.is_ascii_alphabetic() || b == b'_');
            if !name_ok {
                self.err(
                    k.line,
                    path,
                    format!(
                        "invalid input name `{}`: letters, digits, `-` and `_`, starting with a letter or `_`",
                        shorten(key)
                    ),
                );
                ok = false;
                continue;
            }
            if WORKFLOW_INPUTS.contains(&key) {
                self.err(k.line, &kpath, "baton sets this input itself (stage, version and digest of the bump)");
                ok = false;
                continue;
            }
            match v.as_scalar() {
                Some(s) if !v.is_null() && !s.chars().any(char::is_control) => {
                    out.insert(key.to_string(), s.to_string());
                }
                _ => {
                    self.err(
                        Field { key_line: k.line, node: v }.line(),
                        &kpath,
                        format!("expected a string, found {}", v.describe()),
                    );
                    ok = false;
                }
            }
        }
        ok.then_some(out)
    }

    // ---------------------------------------------------------------- release units, windows (#13)

    fn windows(&mut self, f: Field<'_>, path: &str) -> Option<Windows> {
        let fields = self.mapping(f, path, &spec::WINDOWS)?;
        let timezone =
            fields.get("timezone").and_then(|tf| self.parsed(tf, &join(path, "timezone"), windows::parse_timezone));
        let allow = self.spans(fields.get("allow"), &join(path, "allow"));
        let deny = self.spans(fields.get("deny"), &join(path, "deny"));
        if !fields.has("allow") && !fields.has("deny") {
            self.err(f.node.line, path, "windows need `allow`, `deny` or both (without them, remove `windows`)");
            return None;
        }
        Some(Windows { timezone: timezone?, allow: allow?, deny: deny? })
    }

    fn spans(&mut self, f: Option<Field<'_>>, path: &str) -> Option<Vec<windows::Span>> {
        let Some(f) = f else { return Some(Vec::new()) };
        let items = self.list(f, path)?;
        if items.is_empty() {
            self.err(f.line(), path, "empty list: remove it, or name at least one window");
            return None;
        }
        let mut out: Vec<windows::Span> = Vec::new();
        let mut ok = true;
        for (i, item) in items.iter().enumerate() {
            let ipath = format!("{path}[{i}]");
            match self.parsed(Field::item(item), &ipath, |s| s.parse::<windows::Span>()) {
                Some(sp) if out.iter().any(|o| o.kind == sp.kind) => {
                    self.err(item.line, &ipath, format!("window {:?} is listed twice", shorten(&sp.text)));
                    ok = false;
                }
                Some(sp) => out.push(sp),
                None => ok = false,
            }
        }
        ok.then_some(out)
    }

    fn stage_groups(&mut self, f: Field<'_>, path: &str) -> Option<PartialGroups> {
        let fields = self.mapping(f, path, &spec::STAGE_GROUPS)?;
        match fields.get("partial") {
            Some(pf) => self.choice(pf, &join(path, "partial"), fields.words("partial"), |w| match w {
                "deny" => Some(PartialGroups::Deny),
                "allow" => Some(PartialGroups::Allow),
                _ => None,
            }),
            None => Some(PartialGroups::default()),
        }
    }

    /// `groups:` at the top: members are defined artifacts, each in one group; a group is not
    /// named like an artifact (both name branches).
    fn groups(&mut self, f: Field<'_>, artifacts: &BTreeMap<String, Option<Artifact>>) -> Option<Vec<GroupDraft>> {
        let path = "groups";
        let Kind::Map(entries) = &f.node.kind else {
            self.err(f.line(), path, format!("expected a mapping of group names, found {}", f.node.describe()));
            return None;
        };
        if entries.is_empty() {
            self.err(f.line(), path, "empty: remove `groups`, or name at least one group");
            return None;
        }
        let artifact_names: Vec<&str> = artifacts.keys().map(String::as_str).collect();
        let mut out = Vec::new();
        let mut member_of: HashMap<String, (String, usize)> = HashMap::new();
        let mut ok = true;
        for (k, v) in entries {
            let raw = k.as_scalar().unwrap_or_default();
            let gpath = format!("groups.{}", shorten(raw));
            let name = match raw.parse::<GroupName>() {
                Ok(n) if artifacts.contains_key(raw) => {
                    self.err(
                        k.line,
                        &gpath,
                        format!(
                            "`{n}` is also an artifact's name: a group needs a name of its own (both name branches)"
                        ),
                    );
                    None
                }
                Ok(n) => Some(n),
                Err(e) => {
                    self.err(k.line, path, e);
                    None
                }
            };
            let Some(fields) = self.mapping(Field { key_line: k.line, node: v }, &gpath, &spec::GROUP) else {
                ok = false;
                continue;
            };
            let when = match fields.get("when") {
                Some(wf) => self.choice(wf, &join(&gpath, "when"), fields.words("when"), |w| match w {
                    "any" => Some(GroupWhen::Any),
                    "all" => Some(GroupWhen::All),
                    _ => None,
                }),
                None => Some(GroupWhen::Any),
            };
            let mut members: Vec<(ArtifactName, usize)> = Vec::new();
            let mut members_ok = fields.has("artifacts");
            if let Some(af) = fields.get("artifacts") {
                let apath = join(&gpath, "artifacts");
                match self.list(af, &apath) {
                    Some(items) => {
                        if items.len() < 2 {
                            self.err(af.line(), &apath, "a group needs at least two artifacts");
                            members_ok = false;
                        }
                        for (i, item) in items.iter().enumerate() {
                            let ipath = format!("{apath}[{i}]");
                            let Some(m) = self.string(Field::item(item), &ipath) else {
                                members_ok = false;
                                continue;
                            };
                            if !artifacts.contains_key(m) {
                                let hint = did_you_mean(m, artifact_names.iter().copied());
                                self.err(item.line, &ipath, format!("unknown artifact `{}`{hint}", shorten(m)));
                                members_ok = false;
                            } else if members.iter().any(|(a, _)| a.as_str() == m) {
                                self.err(item.line, &ipath, format!("`{m}` is listed twice"));
                                members_ok = false;
                            } else if let Some((other, line)) = member_of.get(m) {
                                self.err(
                                    item.line,
                                    &ipath,
                                    format!("`{m}` is already in group `{other}` (line {line}); an artifact belongs to one group"),
                                );
                                members_ok = false;
                            } else if let Ok(a) = m.parse::<ArtifactName>() {
                                member_of.insert(m.to_string(), (raw.to_string(), item.line));
                                members.push((a, item.line));
                            }
                        }
                    }
                    None => members_ok = false,
                }
            }
            match (name, when, members_ok) {
                (Some(name), Some(when), true) => out.push(GroupDraft {
                    group: Group { name, artifacts: members.into_iter().map(|(a, _)| a).collect(), when },
                }),
                _ => ok = false,
            }
        }
        ok.then_some(out)
    }

    fn approvers(&mut self, f: Field<'_>, path: &str) -> Option<Vec<Approver>> {
        let items = self.list(f, path)?;
        if items.is_empty() {
            self.err(
                f.line(),
                path,
                "empty list: remove `approvers` to let anyone with write permission promote, or name who may",
            );
            return None;
        }
        let mut out = Vec::new();
        let mut ok = true;
        for (i, item) in items.iter().enumerate() {
            let ipath = format!("{path}[{i}]");
            match self.parsed(Field::item(item), &ipath, parse_approver) {
                Some(a) if out.contains(&a) => {
                    self.err(item.line, &ipath, "listed twice");
                    ok = false;
                }
                Some(a) => out.push(a),
                None => ok = false,
            }
        }
        ok.then_some(out)
    }
}

#[derive(Default)]
struct StageDraft {
    raw_name: Option<String>,
    name: Option<StageName>,
    name_line: usize,
    /// `Some(Err)`: present but invalid (already reported).
    from: Option<Result<StageName, ()>>,
    from_line: usize,
    freeze_line: usize,
    /// Line, artifact named (raw, line), and the spec if valid.
    pointers: Vec<PointerDraft>,
    stage: Option<Stage>,
}

struct GroupDraft {
    group: Group,
}

#[derive(Default)]
struct PointerDraft {
    line: usize,
    artifact: Option<(String, usize)>,
    spec: Option<PointerSpec>,
}

/// Validates the whole file. `None` when any problem was found.
pub(super) fn pipeline(root: &Node, problems: &mut Vec<Problem>) -> Option<Pipeline> {
    let start = problems.len();
    let mut cx = Ctx { problems };
    let top = cx.mapping(Field::item(root), "", &spec::TOP)?;
    let artifacts = top.get("artifacts").map(|f| cx.artifacts(f)).unwrap_or_default();

    let mut drafts = Vec::new();
    let stages_field = top.get("stages");
    if let Some(sf) = stages_field {
        if let Some(items) = cx.list(sf, "stages") {
            if items.is_empty() {
                cx.err(sf.line(), "stages", "at least one stage is required");
            }
            for (i, item) in items.iter().enumerate() {
                drafts.push(cx.stage(Field::item(item), &stage_label(i, peek_name(item)), &artifacts));
            }
        }
    }
    let groups = match top.get("groups") {
        Some(gf) => cx.groups(gf, &artifacts),
        None => Some(Vec::new()),
    };
    cross_check(&mut cx, &drafts, &artifacts, stages_field.map_or(1, |f| f.line()));
    if let Some(groups) = &groups {
        check_stage_groups(&mut cx, &drafts, groups);
    }

    if cx.problems.len() > start {
        return None;
    }
    let artifacts = artifacts.into_values().collect::<Option<Vec<_>>>()?;
    let stages = drafts.into_iter().map(|d| d.stage).collect::<Option<Vec<_>>>()?;
    let groups = groups?.into_iter().map(|g| (g.group.name.clone(), g.group)).collect();
    Some(Pipeline { artifacts: artifacts.into_iter().map(|a| (a.name.clone(), a)).collect(), stages, groups })
}

/// `stages[2] (prod)`: the index finds the entry, the name makes the message readable.
fn stage_label(i: usize, name: Option<&str>) -> String {
    match name {
        Some(n) if !n.is_empty() => format!("stages[{i}] ({})", shorten(n)),
        _ => format!("stages[{i}]"),
    }
}

/// The `name:` of a stage mapping, before the stage is validated.
fn peek_name(node: &Node) -> Option<&str> {
    let Kind::Map(entries) = &node.kind else {
        return None;
    };
    entries
        .iter()
        .find(|(k, _)| k.as_scalar() == Some("name"))
        .and_then(|(_, v)| if v.is_null() { None } else { v.as_scalar() })
}

fn cross_check(
    cx: &mut Ctx<'_>,
    drafts: &[StageDraft],
    artifacts: &BTreeMap<String, Option<Artifact>>,
    stages_line: usize,
) {
    let label = |i: usize, d: &StageDraft| stage_label(i, d.raw_name.as_deref());

    // Unique names.
    let mut index: HashMap<&StageName, usize> = HashMap::new();
    for (i, d) in drafts.iter().enumerate() {
        if let Some(name) = &d.name {
            if let Some(&first) = index.get(name) {
                cx.err(
                    d.name_line,
                    &label(i, d),
                    format!("duplicate stage name `{name}` (first on line {})", drafts[first].name_line),
                );
            } else {
                index.insert(name, i);
            }
        }
    }

    // `from`: exists, not itself.
    let mut parent: Vec<Option<usize>> = vec![None; drafts.len()];
    for (i, d) in drafts.iter().enumerate() {
        let Some(Ok(from)) = &d.from else { continue };
        let path = format!("{}.from", label(i, d));
        if d.name.as_ref() == Some(from) {
            cx.err(d.from_line, &path, "a stage cannot come from itself");
        } else if let Some(&p) = index.get(from) {
            parent[i] = Some(p);
        } else {
            let hint = did_you_mean(from.as_str(), index.keys().map(|n| n.as_str()));
            cx.err(d.from_line, &path, format!("unknown stage `{from}`{hint}"));
        }
    }

    // Cycles: follow `from` links; every stage has at most one, so a walk either ends at a first
    // stage or loops. Report each loop once, at the `from` of its member that comes first.
    let mut reported = vec![false; drafts.len()];
    for start in 0..drafts.len() {
        let mut seen = vec![false; drafts.len()];
        seen[start] = true;
        let mut at = start;
        let mut looped = false;
        while let Some(p) = parent[at] {
            if seen[p] {
                looped = p == start;
                break;
            }
            seen[p] = true;
            at = p;
        }
        if looped && !reported[start] {
            let mut members = vec![start];
            let mut at = parent[start].unwrap_or(start);
            while at != start {
                members.push(at);
                at = parent[at].unwrap_or(start);
            }
            for &m in &members {
                reported[m] = true;
            }
            let first = *members.iter().min().unwrap_or(&start);
            let mut chain: Vec<String> = Vec::new();
            let mut at = first;
            loop {
                chain.push(drafts[at].raw_name.clone().unwrap_or_default());
                at = parent[at].unwrap_or(first);
                if at == first {
                    break;
                }
            }
            chain.push(drafts[first].raw_name.clone().unwrap_or_default());
            chain.reverse();
            let d = &drafts[first];
            cx.err(
                d.from_line,
                &format!("{}.from", label(first, d)),
                format!(
                    "`from` links form a cycle: {} (a stage promotes what the one before it verified)",
                    chain.join(" → ")
                ),
            );
        }
    }

    if !drafts.is_empty() && drafts.iter().all(|d| d.from.is_some()) {
        cx.err(
            stages_line,
            "stages",
            "no first stage: at least one stage must have no `from` (it receives new versions from the registry)",
        );
    }

    // Pointers: artifact exists; no pointer shared between stages; downstream artifacts.
    type Key = (String, Format, Selector);
    let mut owners: Vec<(Key, usize, usize)> = Vec::new();
    let artifact_names: Vec<&str> = artifacts.keys().map(String::as_str).collect();
    for (i, d) in drafts.iter().enumerate() {
        for (j, PointerDraft { line, artifact, spec }) in d.pointers.iter().enumerate() {
            let path = format!("{}.pointers[{j}]", label(i, d));
            if let Some((raw, aline)) = artifact {
                if !artifacts.contains_key(raw) {
                    let hint = did_you_mean(raw, artifact_names.iter().copied());
                    cx.err(*aline, &format!("{path}.artifact"), format!("unknown artifact `{}`{hint}", shorten(raw)));
                } else if let Some(p) = parent[i] {
                    let covered = drafts[p].pointers.iter().any(|p| p.artifact.as_ref().map(|a| &a.0) == Some(raw));
                    if !covered {
                        let from = drafts[p].raw_name.as_deref().unwrap_or_default();
                        cx.err(
                            *aline,
                            &format!("{path}.artifact"),
                            format!("stage `{from}` has no pointer for artifact `{}`, so there is nothing to promote from it", shorten(raw)),
                        );
                    }
                }
            }
            let Some(spec) = spec else { continue };
            let key = (spec.file.as_str().to_string(), spec.format, spec.selector.clone());
            if let Some((_, oi, oline)) = owners.iter().find(|(k, _, _)| *k == key) {
                let other = drafts[*oi].raw_name.as_deref().unwrap_or_default();
                let msg = if *oi == i {
                    format!("the same pointer ({} {}) is listed twice (first on line {oline})", spec.format, spec.file)
                } else {
                    format!(
                        "pointer ({} {}) is already used by stage `{other}` (line {oline}); a pointer belongs to one stage",
                        spec.format, spec.file
                    )
                };
                cx.err(*line, &path, msg);
            } else {
                owners.push((key, i, *line));
            }
        }
    }
    for (i, d) in drafts.iter().enumerate() {
        let Some(freeze) = d.stage.as_ref().and_then(|s| s.freeze.as_ref()) else {
            continue;
        };
        if owners.iter().any(|((file, _, _), _, _)| file == freeze.as_str()) {
            cx.err(
                d.freeze_line,
                &format!("{}.freeze.file", label(i, d)),
                format!("`{freeze}` is a pointer file; the freeze file must be a separate file (its presence freezes the stage)"),
            );
        }
    }
}

/// A stage holds all members of a group or none: a unit moves as one.
fn check_stage_groups(cx: &mut Ctx<'_>, drafts: &[StageDraft], groups: &[GroupDraft]) {
    for (i, d) in drafts.iter().enumerate() {
        let held: Vec<&str> = d.pointers.iter().filter_map(|p| p.artifact.as_ref().map(|a| a.0.as_str())).collect();
        for GroupDraft { group } in groups {
            let (inside, missing): (Vec<&ArtifactName>, Vec<&ArtifactName>) =
                group.artifacts.iter().partition(|a| held.contains(&a.as_str()));
            if !inside.is_empty() && !missing.is_empty() {
                let names = |v: &[&ArtifactName]| v.iter().map(|a| format!("`{a}`")).collect::<Vec<_>>().join(", ");
                cx.err(
                    d.name_line,
                    &stage_label(i, d.raw_name.as_deref()),
                    format!(
                        "holds {} of group `{}` but not {}: a group moves as one, so a stage points at all its artifacts or none",
                        names(&inside),
                        group.name,
                        names(&missing)
                    ),
                );
            }
        }
    }
}

// -------------------------------------------------------------------- value parsers

/// Compiles `pattern` anchored as `^(?:pattern)$`. The pattern must compile on its own first, so
/// that wrapping cannot change its meaning (`a)|(b` is refused, not turned into `^(?:a)|(b)$`),
/// and must be on one line (an `(?x)` comment cannot swallow the closing `)$`).
pub(super) fn anchored_regex(pattern: &str) -> Result<regex::Regex, String> {
    if pattern.contains(['\n', '\r']) {
        return Err("a regular expression must be on one line".into());
    }
    let build = |p: &str| regex::RegexBuilder::new(p).size_limit(1 << 20).build();
    build(pattern).map_err(|e| format!("invalid regular expression: {}", regex_message(&e)))?;
    build(&format!("^(?:{pattern})$")).map_err(|e| format!("invalid regular expression: {}", regex_message(&e)))
}

fn regex_message(e: &regex::Error) -> String {
    match e {
        regex::Error::Syntax(s) => s
            .lines()
            .rev()
            .find_map(|l| l.strip_prefix("error: "))
            .map(str::to_string)
            .unwrap_or_else(|| s.split_whitespace().collect::<Vec<_>>().join(" ")),
        regex::Error::CompiledTooBig(_) => "the expression is too big".into(),
        other => other.to_string(),
    }
}

fn parse_issuer(s: &str) -> Result<String, String> {
    match url::Url::parse(s) {
        Ok(u) if matches!(u.scheme(), "https" | "http") && u.host_str().is_some() => Ok(s.to_string()),
        _ => {
            Err(format!("issuer {:?} must be an https:// URL (the OIDC issuer of the signing certificate)", shorten(s)))
        }
    }
}

/// `10m`, `30m`, `1h30m`, `45s`, `2h`, `1d`: units d, h, m, s, each at most once, largest first.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let bad = || format!("invalid duration {:?}: expected e.g. 45s, 10m, 1h30m, 2h", shorten(s));
    let units = [('d', 86_400u64), ('h', 3_600), ('m', 60), ('s', 1)];
    let mut rest = s;
    let mut next_unit = 0;
    let mut total: u64 = 0;
    if s.is_empty() {
        return Err(bad());
    }
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 || digits > 9 {
            return Err(bad());
        }
        let n: u64 = rest[..digits].parse().map_err(|_| bad())?;
        let unit = rest[digits..].chars().next().ok_or_else(bad)?;
        let pos = units[next_unit..].iter().position(|(u, _)| *u == unit).ok_or_else(bad)? + next_unit;
        total = total.checked_add(n.checked_mul(units[pos].1).ok_or_else(bad)?).ok_or_else(bad)?;
        next_unit = pos + 1;
        rest = &rest[digits + 1..];
    }
    let d = Duration::from_secs(total);
    if d > MAX_SOAK {
        return Err(format!("duration {s:?} is longer than 30 days"));
    }
    Ok(d)
}

/// A workflow file name: no `/`, ends in `.yml` or `.yaml`.
fn parse_workflow_file(s: &str) -> Result<String, String> {
    let ok = !s.contains(['/', '\\']) && (s.ends_with(".yml") || s.ends_with(".yaml")) && s.len() > 4;
    if ok {
        Ok(s.to_string())
    } else {
        Err(format!("invalid workflow {:?}: expected a file name in .github/workflows/, such as e2e.yml", shorten(s)))
    }
}

/// `codeowners`, `@org/team`, `@user` or `user`.
pub fn parse_approver(s: &str) -> Result<Approver, String> {
    let login_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 39
            && l.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-')
            && !l.starts_with('-')
    };
    let slug_ok = |t: &str| {
        !t.is_empty()
            && t.len() <= 100
            && t.bytes().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
    };
    if s == "codeowners" {
        return Ok(Approver::Codeowners);
    }
    let bare = s.strip_prefix('@').unwrap_or(s);
    match bare.split_once('/') {
        Some((org, slug)) if s.starts_with('@') && login_ok(org) && slug_ok(slug) => {
            Ok(Approver::Team { org: org.to_string(), slug: slug.to_string() })
        }
        None if login_ok(bare) => Ok(Approver::User(bare.to_string())),
        _ => {
            Err(format!("invalid approver {:?}: expected `codeowners`, `@org/team`, or a user (`@alice`)", shorten(s)))
        }
    }
}

/// A dotted path of mapping keys: `image`, `app.image.ref`.
fn check_field_path(field: &str) -> Result<(), String> {
    let ok = field.split('.').all(|seg| !seg.is_empty() && !seg.chars().any(|c| c.is_whitespace() || c.is_control()));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "invalid field {:?}: expected a dotted path of keys such as `image` or `app.image.ref`",
            shorten(field)
        ))
    }
}

/// Placeholders `{tag}`, `{digest}`, `{repository}`; `{digest}` required (digests, always).
fn check_template(template: &str) -> Result<(), String> {
    let mut rest = template;
    let mut has_digest = false;
    while let Some(i) = rest.find(['{', '}']) {
        if rest[i..].starts_with('}') {
            return Err("unbalanced `}` in template".into());
        }
        let after = &rest[i + 1..];
        let end = after.find('}').ok_or("unclosed `{` in template")?;
        match &after[..end] {
            "digest" => has_digest = true,
            "tag" | "repository" | "revision" => {}
            other => {
                return Err(format!(
                    "unknown placeholder `{{{}}}` in template: expected {{tag}}, {{digest}}, {{repository}} or {{revision}}",
                    shorten(other)
                ))
            }
        }
        rest = &after[end + 1..];
    }
    if has_digest {
        Ok(())
    } else {
        Err("template must contain {digest}: baton always pins digests".into())
    }
}
