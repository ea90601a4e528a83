//! The in-memory model of GitHub: repositories with git objects and refs, issues and pull
//! requests, comments, reactions, labels, check runs and suites, statuses, permissions, teams,
//! installations and tokens. Every state change that GitHub would announce pushes an event onto
//! `outbox`; the server flushes it to the webhook dispatcher while still holding the lock, so
//! deliveries are in the order of the changes.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::payloads as p;
use super::sha1::{blob_sha, sha1_hex};

pub const ZERO_SHA: &str = "0000000000000000000000000000000000000000";

#[derive(Debug, Clone)]
pub struct GitUser {
    pub name: String,
    pub email: String,
    pub date: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct CommitRec {
    pub sha: String,
    pub tree: String,
    pub parents: Vec<String>,
    pub message: String,
    pub author: GitUser,
    pub committer: GitUser,
    /// GitHub login associated with the author, if any.
    pub login: Option<String>,
    /// Creation order (a valid topological order: parents always exist first).
    pub seq: u64,
}

#[derive(Debug, Clone)]
pub struct PrRec {
    pub head_ref: String,
    pub head_sha: String,
    pub base_ref: String,
    pub base_sha: String,
    pub merged: bool,
    pub merged_at: Option<DateTime<Utc>>,
    pub merged_by: Option<String>,
    pub merge_commit_sha: Option<String>,
    pub draft: bool,
}

#[derive(Debug, Clone)]
pub struct IssueRec {
    pub id: u64,
    pub number: u64,
    pub title: String,
    pub body: Option<String>,
    pub state: String,
    pub state_reason: Option<String>,
    pub author: String,
    pub labels: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
    pub pr: Option<PrRec>,
}

#[derive(Debug, Clone)]
pub struct LabelRec {
    pub id: u64,
    pub name: String,
    pub color: String,
    pub description: Option<String>,
}

#[derive(Debug, Clone)]
pub struct CommentRec {
    pub id: u64,
    pub repo: String,
    pub issue: u64,
    pub body: String,
    pub author: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// (content, login)
    pub reactions: Vec<(u64, String, String)>,
}

#[derive(Debug, Clone)]
pub struct StatusRec {
    pub id: u64,
    pub sha: String,
    pub state: String,
    pub context: String,
    pub description: Option<String>,
    pub target_url: Option<String>,
    pub creator: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct CheckAction {
    pub label: String,
    pub description: String,
    pub identifier: String,
}

#[derive(Debug, Clone)]
pub struct CheckRunRec {
    pub id: u64,
    pub repo: String,
    pub suite_id: u64,
    pub name: String,
    pub head_sha: String,
    pub status: String,
    pub conclusion: Option<String>,
    pub app_slug: String,
    pub external_id: Option<String>,
    pub details_url: Option<String>,
    pub title: Option<String>,
    pub summary: Option<String>,
    pub text: Option<String>,
    pub actions: Vec<CheckAction>,
    pub started_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone)]
pub struct SuiteRec {
    pub id: u64,
    pub repo: String,
    pub head_sha: String,
    pub head_branch: Option<String>,
    pub app_slug: String,
    pub status: String,
    pub conclusion: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct Repo {
    pub id: u64,
    pub owner: String,
    pub name: String,
    pub default_branch: String,
    pub created_at: DateTime<Utc>,
    pub commits: HashMap<String, CommitRec>,
    pub blobs: HashMap<String, String>,
    /// tree sha → (path → blob sha), flat.
    pub trees: HashMap<String, BTreeMap<String, String>>,
    /// full ref name ("refs/heads/main") → sha
    pub refs: BTreeMap<String, String>,
    pub issues: BTreeMap<u64, IssueRec>,
    pub labels: BTreeMap<String, LabelRec>,
    pub statuses: Vec<StatusRec>,
    pub permissions: BTreeMap<String, String>,
    pub delete_branch_on_merge: bool,
}

impl Repo {
    pub fn full_name(&self) -> String {
        format!("{}/{}", self.owner, self.name)
    }
}

#[derive(Debug, Clone)]
pub struct UserRec {
    pub id: u64,
    pub login: String,
    pub bot: bool,
}

#[derive(Debug, Clone)]
pub struct TokenRec {
    pub installation: u64,
    pub expires_at: DateTime<Utc>,
}

pub use super::faults::{Fault, FaultMode, PathMatch};

/// An event waiting to be handed to the webhook dispatcher.
#[derive(Debug, Clone)]
pub struct OutEvent {
    pub repo: String,
    pub event: String,
    pub action: Option<String>,
    pub payload: Value,
}

#[derive(Debug, Clone)]
pub struct RecordedRequestRec {
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    pub body: Option<Value>,
    pub status: u16,
    /// The injected fault that shaped this answer, if any.
    pub fault: Option<FaultMode>,
}

pub struct State {
    pub base_url: String,
    pub app_id: u64,
    pub app_slug: String,
    pub users: BTreeMap<String, UserRec>,
    pub apps: BTreeMap<String, u64>,
    pub repos: BTreeMap<String, Repo>,
    /// owner login → installation id
    pub installations: BTreeMap<String, u64>,
    pub tokens: HashMap<String, TokenRec>,
    pub teams: BTreeMap<(String, String), Vec<String>>,
    pub comments: BTreeMap<u64, CommentRec>,
    pub check_runs: BTreeMap<u64, CheckRunRec>,
    pub suites: BTreeMap<u64, SuiteRec>,
    pub next_id: u64,
    pub seq: u64,
    pub clock_offset: chrono::Duration,
    pub requests: Vec<RecordedRequestRec>,
    pub violations: Vec<String>,
    pub faults: Vec<Fault>,
    pub outbox: Vec<OutEvent>,
    /// Every API request (304s and injected faults included).
    pub api_calls: u64,
    /// Requests that count against the rate limit (GitHub does not count a 304).
    pub counted_calls: u64,
    /// Answered 304 Not Modified.
    pub not_modified: u64,
    /// When the rate-limit window resets (unix seconds).
    pub rate_reset: i64,
    pub rate_limit: u64,
    pub workflow_runs: BTreeMap<u64, super::actions::WorkflowRunRec>,
    /// (repository, branch) whose rules require a merge queue.
    pub merge_queue_branches: std::collections::BTreeSet<(String, String)>,
    /// Pull requests in a merge queue, by (repository, number), oldest first per repository.
    pub queue_entries: BTreeMap<(String, u64), super::actions::QueueEntry>,
    /// Of those branches, the ones whose queue comes from classic branch protection: the rules
    /// endpoint does not list it (it lists rulesets only); merges are refused all the same.
    pub merge_queue_unlisted: std::collections::BTreeSet<(String, String)>,
    /// Installations on selected repositories (`repository_selection: selected`): owner → the
    /// repositories selected. An owner not here is installed on all its repositories.
    pub selected: BTreeMap<String, std::collections::BTreeSet<String>>,
}

/// An error answered to an API caller: HTTP status and GitHub's `message`.
#[derive(Debug, Clone)]
pub struct ApiError(pub u16, pub String);

pub type ApiResult<T> = Result<T, ApiError>;

pub fn err<T>(status: u16, msg: impl Into<String>) -> ApiResult<T> {
    Err(ApiError(status, msg.into()))
}

impl State {
    pub fn new(base_url: String) -> State {
        let mut s = State {
            base_url,
            app_id: 1,
            app_slug: "baton".into(),
            users: BTreeMap::new(),
            apps: BTreeMap::new(),
            repos: BTreeMap::new(),
            installations: BTreeMap::new(),
            tokens: HashMap::new(),
            teams: BTreeMap::new(),
            comments: BTreeMap::new(),
            check_runs: BTreeMap::new(),
            suites: BTreeMap::new(),
            next_id: 1000,
            seq: 0,
            clock_offset: chrono::Duration::zero(),
            requests: Vec::new(),
            violations: Vec::new(),
            faults: Vec::new(),
            outbox: Vec::new(),
            api_calls: 0,
            counted_calls: 0,
            not_modified: 0,
            rate_reset: chrono::Utc::now().timestamp() + 3600,
            rate_limit: 5000,
            workflow_runs: BTreeMap::new(),
            merge_queue_branches: Default::default(),
            queue_entries: Default::default(),
            merge_queue_unlisted: Default::default(),
            selected: BTreeMap::new(),
        };
        s.apps.insert("baton".into(), 1);
        s.apps.insert("github-actions".into(), 15368);
        s.ensure_user("baton[bot]");
        s
    }

    pub fn now(&self) -> DateTime<Utc> {
        Utc::now() + self.clock_offset
    }

    pub fn next_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    pub fn bot_login(&self) -> String {
        format!("{}[bot]", self.app_slug)
    }

    pub fn ensure_user(&mut self, login: &str) -> u64 {
        if let Some(u) = self.users.get(login) {
            return u.id;
        }
        let id = 5_000_000 + self.users.len() as u64 + 1;
        self.users.insert(login.to_string(), UserRec { id, login: login.to_string(), bot: login.ends_with("[bot]") });
        id
    }

    pub fn app_id_for(&mut self, slug: &str) -> u64 {
        if let Some(id) = self.apps.get(slug) {
            return *id;
        }
        let id = 900_000 + self.apps.len() as u64;
        self.apps.insert(slug.to_string(), id);
        id
    }

    pub fn user_json(&mut self, login: &str) -> Value {
        let id = self.ensure_user(login);
        p::user(&self.base_url, login, id)
    }

    pub fn repo(&self, full: &str) -> ApiResult<&Repo> {
        self.repos.get(full).ok_or_else(|| ApiError(404, "Not Found".into()))
    }

    pub fn repo_mut(&mut self, full: &str) -> ApiResult<&mut Repo> {
        self.repos.get_mut(full).ok_or_else(|| ApiError(404, "Not Found".into()))
    }

    /// Whether the owner's installation can see `full` (it exists, is the owner's, and is
    /// selected when the installation is on selected repositories).
    pub fn installation_sees(&self, owner: &str, full: &str) -> bool {
        self.repos.get(full).is_some_and(|r| r.owner == owner)
            && self.selected.get(owner).is_none_or(|set| set.contains(full))
    }

    /// `all` or `selected`, as GitHub reports an installation's `repository_selection`.
    pub fn repository_selection(&self, owner: &str) -> &'static str {
        if self.selected.contains_key(owner) {
            "selected"
        } else {
            "all"
        }
    }

    pub fn installation_for_owner(&mut self, owner: &str) -> u64 {
        if let Some(id) = self.installations.get(owner) {
            return *id;
        }
        let id = 40_000_000 + self.installations.len() as u64 + 1;
        self.installations.insert(owner.to_string(), id);
        id
    }

    // ---------------------------------------------------------------- git objects

    pub fn put_blob(repo: &mut Repo, content: &str) -> String {
        let sha = blob_sha(content);
        repo.blobs.entry(sha.clone()).or_insert_with(|| content.to_string());
        sha
    }

    pub fn put_tree(repo: &mut Repo, entries: BTreeMap<String, String>) -> String {
        let mut ser = String::from("tree\0");
        for (path, sha) in &entries {
            ser.push_str(&format!("100644 {path}\0{sha}\n"));
        }
        let sha = sha1_hex(ser.as_bytes());
        repo.trees.entry(sha.clone()).or_insert(entries);
        sha
    }

    pub fn put_tree_contents(repo: &mut Repo, files: &BTreeMap<String, String>) -> String {
        let entries = files.iter().map(|(p, c)| (p.clone(), Self::put_blob(repo, c))).collect();
        Self::put_tree(repo, entries)
    }

    #[allow(clippy::too_many_arguments)]
    pub fn put_commit(
        &mut self,
        full: &str,
        tree: &str,
        parents: Vec<String>,
        message: &str,
        author: GitUser,
        committer: GitUser,
        login: Option<String>,
    ) -> String {
        self.seq += 1;
        let seq = self.seq;
        let repo = self.repos.get_mut(full).expect("repo");
        let mut ser = format!("tree {tree}\n");
        for par in &parents {
            ser.push_str(&format!("parent {par}\n"));
        }
        ser.push_str(&format!(
            "author {} <{}>\ncommitter {} <{}>\n\n{}",
            author.name, author.email, committer.name, committer.email, message
        ));
        let sha = sha1_hex(format!("commit {}\0{}", ser.len(), ser).as_bytes());
        repo.commits.entry(sha.clone()).or_insert(CommitRec {
            sha: sha.clone(),
            tree: tree.to_string(),
            parents,
            message: message.to_string(),
            author,
            committer,
            login,
            seq,
        });
        sha
    }

    pub fn git_user_for(&mut self, login: &str) -> GitUser {
        let id = self.ensure_user(login);
        GitUser { name: login.to_string(), email: format!("{id}+{login}@users.noreply.github.com"), date: self.now() }
    }

    /// Resolves a sha (full or ≥7-char prefix), branch name, `heads/x`, `refs/heads/x`.
    pub fn resolve(repo: &Repo, r: &str) -> Option<String> {
        let r = r.trim();
        if r.is_empty() {
            return repo.refs.get(&format!("refs/heads/{}", repo.default_branch)).cloned();
        }
        for cand in [format!("refs/heads/{r}"), format!("refs/{r}"), r.to_string(), format!("refs/tags/{r}")] {
            if let Some(s) = repo.refs.get(&cand) {
                return Some(s.clone());
            }
        }
        if r.len() >= 7 && r.chars().all(|c| c.is_ascii_hexdigit()) {
            let lower = r.to_ascii_lowercase();
            if repo.commits.contains_key(&lower) {
                return Some(lower);
            }
            let matches: Vec<_> = repo.commits.keys().filter(|k| k.starts_with(&lower)).collect();
            if matches.len() == 1 {
                return Some(matches[0].clone());
            }
        }
        None
    }

    pub fn tree_of(repo: &Repo, commit: &str) -> BTreeMap<String, String> {
        repo.commits.get(commit).and_then(|c| repo.trees.get(&c.tree)).cloned().unwrap_or_default()
    }

    pub fn files_of(repo: &Repo, commit: &str) -> BTreeMap<String, String> {
        Self::tree_of(repo, commit)
            .into_iter()
            .map(|(p, b)| (p, repo.blobs.get(&b).cloned().unwrap_or_default()))
            .collect()
    }

    pub fn ancestors(repo: &Repo, sha: &str) -> HashSet<String> {
        let mut seen = HashSet::new();
        let mut q = VecDeque::from([sha.to_string()]);
        while let Some(s) = q.pop_front() {
            if !seen.insert(s.clone()) {
                continue;
            }
            if let Some(c) = repo.commits.get(&s) {
                q.extend(c.parents.iter().cloned());
            }
        }
        seen
    }

    /// The best common ancestor (the newest by creation order).
    pub fn merge_base(repo: &Repo, a: &str, b: &str) -> Option<String> {
        let aa = Self::ancestors(repo, a);
        let bb = Self::ancestors(repo, b);
        aa.intersection(&bb).filter_map(|s| repo.commits.get(s)).max_by_key(|c| c.seq).map(|c| c.sha.clone())
    }

    /// Commits reachable from `head` but not from `base`, newest first.
    pub fn commits_between(repo: &Repo, base: Option<&str>, head: &str) -> Vec<CommitRec> {
        let excluded = base.map(|b| Self::ancestors(repo, b)).unwrap_or_default();
        let mut v: Vec<_> = Self::ancestors(repo, head)
            .into_iter()
            .filter(|s| !excluded.contains(s))
            .filter_map(|s| repo.commits.get(&s).cloned())
            .collect();
        v.sort_by_key(|c| std::cmp::Reverse(c.seq));
        v
    }

    /// Three-way merge of flat trees (path → blob sha). Err(paths) on conflicts.
    pub fn merge_trees(
        base: &BTreeMap<String, String>,
        ours: &BTreeMap<String, String>,
        theirs: &BTreeMap<String, String>,
    ) -> Result<BTreeMap<String, String>, Vec<String>> {
        let mut out = ours.clone();
        let mut conflicts = Vec::new();
        let paths: BTreeSet<&String> = base.keys().chain(theirs.keys()).chain(ours.keys()).collect();
        for path in paths {
            let b = base.get(path);
            let o = ours.get(path);
            let t = theirs.get(path);
            if t == b || t == o {
                continue;
            }
            if o == b {
                match t {
                    Some(t) => {
                        out.insert(path.clone(), t.clone());
                    }
                    None => {
                        out.remove(path);
                    }
                }
            } else {
                conflicts.push(path.clone());
            }
        }
        if conflicts.is_empty() {
            Ok(out)
        } else {
            Err(conflicts)
        }
    }

    /// Diff entries between two flat trees: (path, status, old blob, new blob).
    pub fn diff_trees(
        old: &BTreeMap<String, String>,
        new: &BTreeMap<String, String>,
    ) -> Vec<(String, &'static str, Option<String>, Option<String>)> {
        let paths: BTreeSet<&String> = old.keys().chain(new.keys()).collect();
        let mut v = Vec::new();
        for path in paths {
            match (old.get(path), new.get(path)) {
                (None, Some(n)) => v.push((path.clone(), "added", None, Some(n.clone()))),
                (Some(o), None) => v.push((path.clone(), "removed", Some(o.clone()), None)),
                (Some(o), Some(n)) if o != n => v.push((path.clone(), "modified", Some(o.clone()), Some(n.clone()))),
                _ => {}
            }
        }
        v
    }

    pub fn diff_json(
        &self,
        repo: &Repo,
        old: &BTreeMap<String, String>,
        new: &BTreeMap<String, String>,
        at: &str,
    ) -> Vec<Value> {
        Self::diff_trees(old, new)
            .into_iter()
            .map(|(path, status, o, n)| {
                let oc = o.as_ref().and_then(|b| repo.blobs.get(b)).cloned().unwrap_or_default();
                let nc = n.as_ref().and_then(|b| repo.blobs.get(b)).cloned().unwrap_or_default();
                let (patch, add, del) = p::unified_patch(&oc, &nc);
                p::diff_entry(
                    &self.base_url,
                    &repo.full_name(),
                    &path,
                    status,
                    n.as_deref().or(o.as_deref()),
                    add,
                    del,
                    &patch,
                    at,
                )
            })
            .collect()
    }

    // ---------------------------------------------------------------- events

    pub fn installation_json(&mut self, full: &str) -> Value {
        let owner = full.split('/').next().unwrap_or_default().to_string();
        let id = self.installation_for_owner(&owner);
        json!({"id": id, "node_id": p::node_id("Installation", id)})
    }

    pub fn emit(&mut self, full: &str, event: &str, action: Option<&str>, sender: &str, mut payload: Value) {
        let repo_json = match self.repos.get(full) {
            Some(r) => p::repo(&self.base_url, r, self.users.get(&r.owner).map(|u| u.id).unwrap_or(1)),
            None => Value::Null,
        };
        let sender_json = self.user_json(sender);
        let inst = self.installation_json(full);
        let obj = payload.as_object_mut().expect("payload object");
        if let Some(a) = action {
            obj.insert("action".into(), json!(a));
        }
        obj.insert("repository".into(), repo_json);
        obj.insert("sender".into(), sender_json);
        obj.insert("installation".into(), inst);
        // `action` first, like GitHub, is irrelevant for JSON; keep insertion simple.
        self.outbox.push(OutEvent {
            repo: full.to_string(),
            event: event.to_string(),
            action: action.map(str::to_string),
            payload,
        });
    }

    pub fn pull_json(&mut self, full: &str, number: u64) -> Value {
        let repo = &self.repos[full];
        let issue = &repo.issues[&number];
        let owner_id = self.users.get(&repo.owner).map(|u| u.id).unwrap_or(1);
        let mut users = HashMap::new();
        for login in
            [Some(issue.author.clone()), issue.pr.as_ref().and_then(|p| p.merged_by.clone()), Some(repo.owner.clone())]
                .into_iter()
                .flatten()
        {
            let id = self.users.get(&login).map(|u| u.id).unwrap_or(1);
            users.insert(login, id);
        }
        let repo = &self.repos[full];
        let issue = &repo.issues[&number];
        p::pull(&self.base_url, repo, owner_id, issue, &users)
    }

    pub fn issue_json(&mut self, full: &str, number: u64) -> Value {
        let author = self.repos[full].issues[&number].author.clone();
        let uid = self.ensure_user(&author);
        let ncomments = self.comments.values().filter(|c| c.repo == full && c.issue == number).count();
        let repo = &self.repos[full];
        p::issue(&self.base_url, repo, &repo.issues[&number], uid, ncomments)
    }

    pub fn comment_json(&mut self, id: u64) -> Value {
        let c = self.comments[&id].clone();
        let uid = self.ensure_user(&c.author);
        let is_pr =
            self.repos.get(&c.repo).and_then(|r| r.issues.get(&c.issue)).map(|i| i.pr.is_some()).unwrap_or(false);
        p::comment(&self.base_url, &c, uid, is_pr)
    }

    pub fn emit_pull(&mut self, full: &str, number: u64, action: &str, sender: &str, extra: Value) {
        let pr = self.pull_json(full, number);
        let mut payload = json!({"number": number, "pull_request": pr});
        if let (Some(o), Some(e)) = (payload.as_object_mut(), extra.as_object()) {
            for (k, v) in e {
                o.insert(k.clone(), v.clone());
            }
        }
        self.emit(full, "pull_request", Some(action), sender, payload);
    }

    pub fn emit_issue(&mut self, full: &str, number: u64, action: &str, sender: &str, extra: Value) {
        let issue = self.issue_json(full, number);
        let mut payload = json!({"issue": issue});
        if let (Some(o), Some(e)) = (payload.as_object_mut(), extra.as_object()) {
            for (k, v) in e {
                o.insert(k.clone(), v.clone());
            }
        }
        self.emit(full, "issues", Some(action), sender, payload);
    }

    /// Moves (or creates, or deletes with `None`) a ref and announces it like GitHub: `create`,
    /// `push`, `delete`, `pull_request` synchronize for PRs whose head is that branch, and closes
    /// PRs whose head branch was deleted.
    pub fn set_ref(&mut self, full: &str, refname: &str, new: Option<&str>, pusher: &str, forced: bool) {
        let repo = self.repos.get_mut(full).expect("repo");
        let before = repo.refs.get(refname).cloned();
        match new {
            Some(n) => {
                repo.refs.insert(refname.to_string(), n.to_string());
            }
            None => {
                repo.refs.remove(refname);
            }
        }
        if before.as_deref() == new {
            return;
        }
        let (kind, short) = if let Some(b) = refname.strip_prefix("refs/heads/") {
            ("branch", b.to_string())
        } else if let Some(t) = refname.strip_prefix("refs/tags/") {
            ("tag", t.to_string())
        } else {
            return;
        };
        if before.is_none() {
            self.emit(full, "create", None, pusher, json!({"ref": short, "ref_type": kind, "master_branch": self.repos[full].default_branch, "description": null, "pusher_type": "user"}));
        }
        // push
        let repo = &self.repos[full];
        let after = new.unwrap_or(ZERO_SHA).to_string();
        let before_s = before.clone().unwrap_or_else(|| ZERO_SHA.to_string());
        let mut commits: Vec<CommitRec> = match new {
            Some(n) => Self::commits_between(repo, before.as_deref(), n),
            None => vec![],
        };
        if before.is_none() {
            // GitHub lists only commits not on any other branch for a new branch; approximate with
            // those not on the default branch.
            let def = repo.refs.get(&format!("refs/heads/{}", repo.default_branch)).cloned();
            if let (Some(d), Some(n)) = (def, new) {
                if refname != format!("refs/heads/{}", repo.default_branch) {
                    commits = Self::commits_between(repo, Some(&d), n);
                }
            }
        }
        commits.reverse();
        commits.truncate(20);
        let base = self.base_url.clone();
        let commit_json: Vec<Value> = commits.iter().map(|c| p::push_commit(&base, repo, c)).collect();
        let head_commit = new.and_then(|n| repo.commits.get(n)).map(|c| p::push_commit(&base, repo, c));
        let pusher_email = format!("{pusher}@users.noreply.github.com");
        self.emit(
            full,
            "push",
            None,
            pusher,
            json!({
                "ref": refname, "before": before_s, "after": after,
                "created": before.is_none(), "deleted": new.is_none(), "forced": forced,
                "base_ref": null,
                "compare": format!("https://github.com/{full}/compare/{}...{}", &before_s[..12], &after[..12]),
                "commits": commit_json, "head_commit": head_commit,
                "pusher": {"name": pusher, "email": pusher_email},
            }),
        );
        if new.is_none() {
            self.emit(full, "delete", None, pusher, json!({"ref": short, "ref_type": kind, "pusher_type": "user"}));
        }
        if kind != "branch" {
            return;
        }
        // pull requests with this head
        let numbers: Vec<u64> = self.repos[full]
            .issues
            .values()
            .filter(|i| i.state == "open")
            .filter(|i| i.pr.as_ref().map(|p| p.head_ref == short).unwrap_or(false))
            .map(|i| i.number)
            .collect();
        for n in numbers {
            let now = self.now();
            let repo = self.repos.get_mut(full).expect("repo");
            let issue = repo.issues.get_mut(&n).expect("issue");
            match new {
                Some(sha) => {
                    let pr = issue.pr.as_mut().expect("pr");
                    pr.head_sha = sha.to_string();
                    issue.updated_at = now;
                    self.emit_pull(full, n, "synchronize", pusher, json!({"before": before_s, "after": sha}));
                }
                None => {
                    issue.state = "closed".into();
                    issue.closed_at = Some(now);
                    issue.updated_at = now;
                    self.emit_pull(full, n, "closed", pusher, json!({}));
                }
            }
        }
        // base tips of open PRs with this base
        if let Some(sha) = new {
            let repo = self.repos.get_mut(full).expect("repo");
            for issue in repo.issues.values_mut() {
                if let Some(pr) = issue.pr.as_mut() {
                    if issue.state == "open" && pr.base_ref == short {
                        pr.base_sha = sha.to_string();
                    }
                }
            }
        }
    }

    /// A commit on `branch` changing `files` (None = delete), moved with a fast-forward.
    pub fn commit_files(
        &mut self,
        full: &str,
        branch: &str,
        login: &str,
        message: &str,
        files: &[(String, Option<String>)],
    ) -> ApiResult<String> {
        let refname = format!("refs/heads/{branch}");
        let repo = self.repo(full)?;
        let parent = repo.refs.get(&refname).cloned();
        let mut tree = parent.as_ref().map(|p| Self::tree_of(repo, p)).unwrap_or_default();
        let repo = self.repos.get_mut(full).expect("repo");
        for (path, content) in files {
            match content {
                Some(c) => {
                    let b = Self::put_blob(repo, c);
                    tree.insert(path.clone(), b);
                }
                None => {
                    tree.remove(path);
                }
            }
        }
        let tree_sha = Self::put_tree(repo, tree);
        let user = self.git_user_for(login);
        let sha = self.put_commit(
            full,
            &tree_sha,
            parent.into_iter().collect(),
            message,
            user.clone(),
            user,
            Some(login.to_string()),
        );
        self.set_ref(full, &refname, Some(&sha), login, false);
        Ok(sha)
    }

    // ---------------------------------------------------------------- pulls

    #[allow(clippy::too_many_arguments)]
    pub fn open_pull(
        &mut self,
        full: &str,
        author: &str,
        head: &str,
        base: &str,
        title: &str,
        body: Option<&str>,
        draft: bool,
    ) -> ApiResult<u64> {
        if title.trim().is_empty() {
            return err(422, "Validation Failed: title is missing");
        }
        let repo = self.repo(full)?;
        let head_sha = repo
            .refs
            .get(&format!("refs/heads/{head}"))
            .cloned()
            .ok_or_else(|| ApiError(422, format!("Validation Failed: head '{head}' does not exist")))?;
        let base_sha = repo
            .refs
            .get(&format!("refs/heads/{base}"))
            .cloned()
            .ok_or_else(|| ApiError(422, format!("Validation Failed: base '{base}' does not exist")))?;
        if repo.issues.values().any(|i| {
            i.state == "open" && i.pr.as_ref().map(|p| p.head_ref == head && p.base_ref == base).unwrap_or(false)
        }) {
            return err(422, format!("Validation Failed: A pull request already exists for {}:{head}.", repo.owner));
        }
        if head_sha == base_sha || Self::commits_between(repo, Some(&base_sha), &head_sha).is_empty() {
            return err(422, format!("Validation Failed: No commits between {base} and {head}"));
        }
        if body.map(|b| b.chars().count() > 65536).unwrap_or(false) {
            return err(422, "Validation Failed: body is too long (maximum is 65536 characters)");
        }
        let number = self.repos[full].issues.len() as u64 + 1;
        let id = self.next_id();
        let now = self.now();
        self.ensure_user(author);
        let repo = self.repos.get_mut(full).expect("repo");
        repo.issues.insert(
            number,
            IssueRec {
                id,
                number,
                title: title.to_string(),
                body: body.map(str::to_string),
                state: "open".into(),
                state_reason: None,
                author: author.to_string(),
                labels: vec![],
                created_at: now,
                updated_at: now,
                closed_at: None,
                pr: Some(PrRec {
                    head_ref: head.to_string(),
                    head_sha,
                    base_ref: base.to_string(),
                    base_sha,
                    merged: false,
                    merged_at: None,
                    merged_by: None,
                    merge_commit_sha: None,
                    draft,
                }),
            },
        );
        self.emit_pull(full, number, "opened", author, json!({}));
        Ok(number)
    }

    pub fn pr(&self, full: &str, number: u64) -> ApiResult<(&IssueRec, &PrRec)> {
        let issue = self.repo(full)?.issues.get(&number).ok_or_else(|| ApiError(404, "Not Found".into()))?;
        let pr = issue.pr.as_ref().ok_or_else(|| ApiError(404, "Not Found".into()))?;
        Ok((issue, pr))
    }

    /// Whether the PR merges cleanly into its base: Ok(merged tree) or Err(conflicting paths).
    pub fn pr_merge_tree(&self, full: &str, number: u64) -> ApiResult<Result<BTreeMap<String, String>, Vec<String>>> {
        let (_, pr) = self.pr(full, number)?;
        let repo = self.repo(full)?;
        let base_tip = repo.refs.get(&format!("refs/heads/{}", pr.base_ref)).cloned().unwrap_or(pr.base_sha.clone());
        let mb = Self::merge_base(repo, &base_tip, &pr.head_sha);
        let mbt = mb.map(|m| Self::tree_of(repo, &m)).unwrap_or_default();
        Ok(Self::merge_trees(&mbt, &Self::tree_of(repo, &base_tip), &Self::tree_of(repo, &pr.head_sha)))
    }

    #[allow(clippy::too_many_arguments)]
    pub fn merge_pull(
        &mut self,
        full: &str,
        number: u64,
        by: &str,
        expected_sha: Option<&str>,
        method: &str,
        title: Option<&str>,
        message: Option<&str>,
    ) -> ApiResult<String> {
        let (issue, pr) = self.pr(full, number)?;
        let (issue, pr) = (issue.clone(), pr.clone());
        if pr.merged {
            return err(405, "Pull Request is not mergeable");
        }
        if issue.state != "open" {
            return err(405, "Pull Request is not mergeable");
        }
        if let Some(s) = expected_sha {
            if s != pr.head_sha {
                return err(409, "Head branch was modified. Review and try the merge again.");
            }
        }
        if !["merge", "squash", "rebase"].contains(&method) {
            return err(422, format!("Validation Failed: merge_method {method} is not valid"));
        }
        let merged = match self.pr_merge_tree(full, number)? {
            Ok(t) => t,
            Err(_) => return err(405, "Pull Request is not mergeable"),
        };
        let base_ref = format!("refs/heads/{}", pr.base_ref);
        let base_tip = self.repos[full]
            .refs
            .get(&base_ref)
            .cloned()
            .ok_or_else(|| ApiError(422, "Base branch was deleted".into()))?;
        let user = self.git_user_for(by);
        let committer = GitUser { name: "GitHub".into(), email: "noreply@github.com".into(), date: self.now() };
        let new_tip = match method {
            "squash" => {
                let tree = Self::put_tree(self.repos.get_mut(full).expect("repo"), merged);
                let t = title.map(str::to_string).unwrap_or_else(|| format!("{} (#{number})", issue.title));
                let msg = match message {
                    Some(m) if !m.is_empty() => format!("{t}\n\n{m}"),
                    Some(_) => t,
                    None => {
                        let repo = &self.repos[full];
                        let mb = Self::merge_base(repo, &base_tip, &pr.head_sha);
                        let mut cs = Self::commits_between(repo, mb.as_deref(), &pr.head_sha);
                        cs.reverse();
                        let body: Vec<String> = cs.iter().map(|c| format!("* {}", c.message)).collect();
                        format!("{t}\n\n{}", body.join("\n\n"))
                    }
                };
                let author =
                    self.repos[full].commits.get(&pr.head_sha).map(|c| c.author.clone()).unwrap_or(user.clone());
                self.put_commit(
                    full,
                    &tree,
                    vec![base_tip.clone()],
                    &msg,
                    author,
                    committer,
                    Some(issue.author.clone()),
                )
            }
            "merge" => {
                let tree = Self::put_tree(self.repos.get_mut(full).expect("repo"), merged);
                let t = title.map(str::to_string).unwrap_or_else(|| {
                    format!("Merge pull request #{number} from {}/{}", self.repos[full].owner, pr.head_ref)
                });
                let msg = format!("{t}\n\n{}", message.unwrap_or(&issue.title));
                self.put_commit(
                    full,
                    &tree,
                    vec![base_tip.clone(), pr.head_sha.clone()],
                    &msg,
                    user,
                    committer,
                    Some(by.to_string()),
                )
            }
            _ => {
                // rebase: replay each PR commit (oldest first) onto the base tip.
                let repo = &self.repos[full];
                let mb = Self::merge_base(repo, &base_tip, &pr.head_sha);
                let mut cs = Self::commits_between(repo, mb.as_deref(), &pr.head_sha);
                cs.reverse();
                let mut tip = base_tip.clone();
                for c in cs {
                    if c.parents.len() > 1 {
                        continue;
                    }
                    let repo = &self.repos[full];
                    let parent_tree = c.parents.first().map(|p| Self::tree_of(repo, p)).unwrap_or_default();
                    let new_tree =
                        match Self::merge_trees(&parent_tree, &Self::tree_of(repo, &tip), &Self::tree_of(repo, &c.sha))
                        {
                            Ok(t) => t,
                            Err(_) => return err(405, "Pull Request is not mergeable"),
                        };
                    let tree = Self::put_tree(self.repos.get_mut(full).expect("repo"), new_tree);
                    tip = self.put_commit(
                        full,
                        &tree,
                        vec![tip.clone()],
                        &c.message,
                        c.author.clone(),
                        committer.clone(),
                        c.login.clone(),
                    );
                }
                tip
            }
        };
        let now = self.now();
        {
            let repo = self.repos.get_mut(full).expect("repo");
            let issue = repo.issues.get_mut(&number).expect("issue");
            issue.state = "closed".into();
            issue.closed_at = Some(now);
            issue.updated_at = now;
            let pr = issue.pr.as_mut().expect("pr");
            pr.merged = true;
            pr.merged_at = Some(now);
            pr.merged_by = Some(by.to_string());
            pr.merge_commit_sha = Some(new_tip.clone());
        }
        self.set_ref(full, &base_ref, Some(&new_tip), by, false);
        self.emit_pull(full, number, "closed", by, json!({}));
        if self.repos[full].delete_branch_on_merge {
            self.set_ref(full, &format!("refs/heads/{}", pr.head_ref), None, by, false);
        }
        Ok(new_tip)
    }

    // ---------------------------------------------------------------- labels

    pub fn ensure_label(&mut self, full: &str, name: &str) -> LabelRec {
        let id = self.next_id();
        let repo = self.repos.get_mut(full).expect("repo");
        if let Some(l) = repo.labels.values().find(|l| l.name.eq_ignore_ascii_case(name)) {
            return l.clone();
        }
        let l = LabelRec { id, name: name.to_string(), color: "ededed".into(), description: None };
        repo.labels.insert(name.to_string(), l.clone());
        l
    }

    pub fn add_labels(&mut self, full: &str, number: u64, labels: &[String], sender: &str) -> ApiResult<()> {
        self.repo(full)?.issues.get(&number).ok_or_else(|| ApiError(404, "Not Found".into()))?;
        for name in labels {
            let l = self.ensure_label(full, name);
            let now = self.now();
            let issue = self.repos.get_mut(full).expect("repo").issues.get_mut(&number).expect("issue");
            if issue.labels.iter().any(|x| x.eq_ignore_ascii_case(&l.name)) {
                continue;
            }
            issue.labels.push(l.name.clone());
            issue.updated_at = now;
            let is_pr = issue.pr.is_some();
            let lj = p::label(&self.base_url, full, &l);
            if is_pr {
                self.emit_pull(full, number, "labeled", sender, json!({"label": lj}));
            } else {
                self.emit_issue(full, number, "labeled", sender, json!({"label": lj}));
            }
        }
        Ok(())
    }

    pub fn remove_label(&mut self, full: &str, number: u64, name: &str, sender: &str) -> ApiResult<()> {
        let issue = self.repo_mut(full)?.issues.get_mut(&number).ok_or_else(|| ApiError(404, "Not Found".into()))?;
        let Some(pos) = issue.labels.iter().position(|x| x.eq_ignore_ascii_case(name)) else {
            return err(404, "Label does not exist");
        };
        let removed = issue.labels.remove(pos);
        let is_pr = issue.pr.is_some();
        let l = self.ensure_label(full, &removed);
        let lj = p::label(&self.base_url, full, &l);
        if is_pr {
            self.emit_pull(full, number, "unlabeled", sender, json!({"label": lj}));
        } else {
            self.emit_issue(full, number, "unlabeled", sender, json!({"label": lj}));
        }
        Ok(())
    }

    // ---------------------------------------------------------------- comments

    pub fn add_comment(&mut self, full: &str, number: u64, author: &str, body: &str) -> ApiResult<u64> {
        self.repo(full)?.issues.get(&number).ok_or_else(|| ApiError(404, "Not Found".into()))?;
        if body.is_empty() {
            return err(422, "Validation Failed: body cannot be blank");
        }
        if body.chars().count() > 65536 {
            return err(422, "Validation Failed: Body is too long (maximum is 65536 characters)");
        }
        let id = self.next_id();
        let now = self.now();
        self.ensure_user(author);
        self.comments.insert(
            id,
            CommentRec {
                id,
                repo: full.to_string(),
                issue: number,
                body: body.to_string(),
                author: author.to_string(),
                created_at: now,
                updated_at: now,
                reactions: vec![],
            },
        );
        self.emit_comment(id, "created", author, json!({}));
        Ok(id)
    }

    pub fn emit_comment(&mut self, id: u64, action: &str, sender: &str, extra: Value) {
        let c = self.comments[&id].clone();
        let issue = self.issue_json(&c.repo, c.issue);
        let comment = self.comment_json(id);
        let mut payload = json!({"issue": issue, "comment": comment});
        if let (Some(o), Some(e)) = (payload.as_object_mut(), extra.as_object()) {
            for (k, v) in e {
                o.insert(k.clone(), v.clone());
            }
        }
        self.emit(&c.repo, "issue_comment", Some(action), sender, payload);
    }

    pub fn edit_comment(&mut self, id: u64, body: &str, sender: &str) -> ApiResult<()> {
        let now = self.now();
        let c = self.comments.get_mut(&id).ok_or_else(|| ApiError(404, "Not Found".into()))?;
        let old = std::mem::replace(&mut c.body, body.to_string());
        c.updated_at = now;
        self.emit_comment(id, "edited", sender, json!({"changes": {"body": {"from": old}}}));
        Ok(())
    }

    // ---------------------------------------------------------------- checks and statuses

    fn branch_with_tip(&self, full: &str, sha: &str) -> Option<String> {
        let repo = self.repos.get(full)?;
        let def = format!("refs/heads/{}", repo.default_branch);
        if repo.refs.get(&def).map(|s| s == sha).unwrap_or(false) {
            return Some(repo.default_branch.clone());
        }
        repo.refs
            .iter()
            .find(|(r, s)| *s == sha && r.starts_with("refs/heads/"))
            .map(|(r, _)| r.trim_start_matches("refs/heads/").to_string())
    }

    pub fn suite_for(&mut self, full: &str, sha: &str, app_slug: &str) -> u64 {
        if let Some(s) = self.suites.values().find(|s| s.repo == full && s.head_sha == sha && s.app_slug == app_slug) {
            return s.id;
        }
        let id = self.next_id();
        let now = self.now();
        let head_branch = self.branch_with_tip(full, sha);
        self.suites.insert(
            id,
            SuiteRec {
                id,
                repo: full.to_string(),
                head_sha: sha.to_string(),
                head_branch,
                app_slug: app_slug.to_string(),
                status: "queued".into(),
                conclusion: None,
                created_at: now,
                updated_at: now,
            },
        );
        id
    }

    /// PRs (open, same repo) whose head is `sha`, as the minimal objects check runs carry.
    pub fn prs_for_head(&self, full: &str, sha: &str) -> Vec<Value> {
        let Some(repo) = self.repos.get(full) else {
            return vec![];
        };
        repo.issues
            .values()
            .filter(|i| i.state == "open")
            .filter_map(|i| i.pr.as_ref().map(|p| (i, p)))
            .filter(|(_, p)| p.head_sha == sha)
            .map(|(i, pr)| p::minimal_pull(&self.base_url, repo, i.number, i.id, pr))
            .collect()
    }

    pub fn check_run_json(&mut self, id: u64) -> Value {
        let c = self.check_runs[&id].clone();
        let app_id = self.app_id_for(&c.app_slug);
        let prs = self.prs_for_head(&c.repo, &c.head_sha);
        let suite = self.suites[&c.suite_id].clone();
        p::check_run(&self.base_url, &c, app_id, &suite, prs)
    }

    pub fn suite_json(&mut self, id: u64) -> Value {
        let s = self.suites[&id].clone();
        let app_id = self.app_id_for(&s.app_slug);
        let prs = self.prs_for_head(&s.repo, &s.head_sha);
        let runs = self.check_runs.values().filter(|c| c.suite_id == id).count();
        p::check_suite(&self.base_url, &s, app_id, prs, runs)
    }

    pub fn emit_check_run(&mut self, id: u64, action: &str, sender: &str, extra: Value) {
        let repo = self.check_runs[&id].repo.clone();
        let cr = self.check_run_json(id);
        let mut payload = json!({"check_run": cr});
        if let (Some(o), Some(e)) = (payload.as_object_mut(), extra.as_object()) {
            for (k, v) in e {
                o.insert(k.clone(), v.clone());
            }
        }
        self.emit(&repo, "check_run", Some(action), sender, payload);
    }

    /// Recomputes a suite's status after one of its runs changed; emits `check_suite completed`
    /// when it becomes complete.
    pub fn refresh_suite(&mut self, suite_id: u64, sender: &str) {
        let runs: Vec<CheckRunRec> = self.check_runs.values().filter(|c| c.suite_id == suite_id).cloned().collect();
        let all_done = !runs.is_empty() && runs.iter().all(|r| r.status == "completed");
        let any_started = runs.iter().any(|r| r.status != "queued");
        let now = self.now();
        let suite = self.suites.get_mut(&suite_id).expect("suite");
        let was_completed = suite.status == "completed";
        suite.updated_at = now;
        if all_done {
            let order = [
                "action_required",
                "cancelled",
                "timed_out",
                "failure",
                "stale",
                "startup_failure",
                "neutral",
                "success",
                "skipped",
            ];
            let concl = runs
                .iter()
                .filter_map(|r| r.conclusion.clone())
                .min_by_key(|c| order.iter().position(|o| o == c).unwrap_or(0))
                .unwrap_or_else(|| "success".into());
            let concl = if concl == "skipped" { "success".to_string() } else { concl };
            suite.status = "completed".into();
            suite.conclusion = Some(concl);
            if !was_completed {
                let repo = suite.repo.clone();
                let sj = self.suite_json(suite_id);
                self.emit(&repo, "check_suite", Some("completed"), sender, json!({"check_suite": sj}));
            }
        } else {
            suite.status = if any_started { "in_progress".into() } else { "queued".into() };
            suite.conclusion = None;
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub fn add_status(
        &mut self,
        full: &str,
        sha: &str,
        state: &str,
        context: &str,
        description: Option<&str>,
        target_url: Option<&str>,
        creator: &str,
    ) -> ApiResult<u64> {
        let repo = self.repo(full)?;
        let sha = Self::resolve(repo, sha).ok_or_else(|| ApiError(422, format!("No commit found for SHA: {sha}")))?;
        if !["error", "failure", "pending", "success"].contains(&state) {
            return err(422, format!("Validation Failed: state {state} is not included in the list"));
        }
        let id = self.next_id();
        let now = self.now();
        self.ensure_user(creator);
        self.repos.get_mut(full).expect("repo").statuses.push(StatusRec {
            id,
            sha: sha.clone(),
            state: state.into(),
            context: context.into(),
            description: description.map(str::to_string),
            target_url: target_url.map(str::to_string),
            creator: creator.into(),
            created_at: now,
        });
        let repo = &self.repos[full];
        let branches: Vec<Value> = repo
            .refs
            .iter()
            .filter(|(r, s)| r.starts_with("refs/heads/") && Self::ancestors(repo, s).contains(&sha))
            .map(|(r, s)| json!({"name": r.trim_start_matches("refs/heads/"), "commit": {"sha": s, "url": format!("{}repos/{full}/commits/{s}", self.base_url)}, "protected": false}))
            .collect();
        let commit =
            repo.commits.get(&sha).map(|c| p::repo_commit(&self.base_url, repo, c, None)).unwrap_or(Value::Null);
        let uid = self.ensure_user(creator);
        self.emit(
            full,
            "status",
            None,
            creator,
            json!({
                "id": id, "sha": sha, "name": full, "target_url": target_url, "context": context,
                "description": description, "state": state, "commit": commit, "branches": branches,
                "created_at": now.to_rfc3339(), "updated_at": now.to_rfc3339(),
                "creator_id": uid,
            }),
        );
        Ok(id)
    }

    pub fn status_json(&mut self, s: &StatusRec) -> Value {
        let uid = self.ensure_user(&s.creator);
        p::status(&self.base_url, s, &p::user(&self.base_url, &s.creator, uid))
    }
}

/// Fields of a check run create/update request (already validated as JSON types).
#[derive(Debug, Clone, Default)]
pub struct CheckInput {
    pub name: Option<String>,
    pub head_sha: Option<String>,
    pub status: Option<String>,
    pub conclusion: Option<String>,
    pub external_id: Option<String>,
    pub details_url: Option<String>,
    pub output: Option<(Option<String>, Option<String>, Option<String>)>,
    pub actions: Option<Vec<CheckAction>>,
    pub completed_at: Option<DateTime<Utc>>,
}

const CONCLUSIONS: &[&str] =
    &["action_required", "cancelled", "failure", "neutral", "success", "skipped", "stale", "timed_out"];
const STATUSES: &[&str] = &["queued", "in_progress", "completed", "waiting", "requested", "pending"];

impl CheckInput {
    pub fn from_json(v: &Value) -> ApiResult<CheckInput> {
        let s = |k: &str| -> ApiResult<Option<String>> {
            match v.get(k) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(_) => err(422, format!("Invalid request.\n\n{k} is not a string.")),
            }
        };
        let mut out = CheckInput {
            name: s("name")?,
            head_sha: s("head_sha")?,
            status: s("status")?,
            conclusion: s("conclusion")?,
            external_id: s("external_id")?,
            details_url: s("details_url")?,
            ..Default::default()
        };
        if let Some(c) = s("completed_at")? {
            out.completed_at = Some(
                DateTime::parse_from_rfc3339(&c)
                    .map_err(|_| ApiError(422, "Invalid request.\n\ncompleted_at is not a timestamp.".into()))?
                    .with_timezone(&Utc),
            );
        }
        if let Some(o) = v.get("output").filter(|o| !o.is_null()) {
            let title = o.get("title").and_then(Value::as_str);
            let summary = o.get("summary").and_then(Value::as_str);
            if title.is_none() || summary.is_none() {
                return err(422, "Invalid request.\n\n\"title\" and \"summary\" are required keys of output.");
            }
            if summary.map(|s| s.chars().count() > 65535).unwrap_or(false) {
                return err(422, "Invalid request.\n\nOnly 65535 characters are allowed in output.summary.");
            }
            let text = o.get("text").and_then(Value::as_str);
            if text.map(|s| s.chars().count() > 65535).unwrap_or(false) {
                return err(422, "Invalid request.\n\nOnly 65535 characters are allowed in output.text.");
            }
            out.output = Some((title.map(str::to_string), summary.map(str::to_string), text.map(str::to_string)));
        }
        if let Some(a) = v.get("actions").filter(|o| !o.is_null()) {
            let arr =
                a.as_array().ok_or_else(|| ApiError(422, "Invalid request.\n\nactions is not an array.".into()))?;
            if arr.len() > 3 {
                return err(422, "Invalid request.\n\nNo more than 3 actions are allowed.");
            }
            let mut acts = vec![];
            for a in arr {
                let f = |k: &str, max: usize| -> ApiResult<String> {
                    let s = a.get(k).and_then(Value::as_str).ok_or_else(|| {
                        ApiError(422, format!("Invalid request.\n\n\"{k}\" is a required key of actions."))
                    })?;
                    if s.chars().count() > max || s.is_empty() {
                        return err(
                            422,
                            format!("Invalid request.\n\nactions.{k} must be 1 to {max} characters, got {:?}.", s),
                        );
                    }
                    Ok(s.to_string())
                };
                acts.push(CheckAction {
                    label: f("label", 20)?,
                    description: f("description", 40)?,
                    identifier: f("identifier", 20)?,
                });
            }
            out.actions = Some(acts);
        }
        if let Some(c) = &out.conclusion {
            if !CONCLUSIONS.contains(&c.as_str()) {
                return err(422, format!("Invalid request.\n\nconclusion {c:?} is not a member of {CONCLUSIONS:?}."));
            }
        }
        if let Some(st) = &out.status {
            if !STATUSES.contains(&st.as_str()) {
                return err(422, format!("Invalid request.\n\nstatus {st:?} is not a member of {STATUSES:?}."));
            }
            if st == "completed" && out.conclusion.is_none() {
                return err(422, "Invalid request.\n\n`conclusion` is required when `status` is 'completed'.");
            }
        }
        if out.name.as_deref() == Some("") {
            return err(422, "Invalid request.\n\nname cannot be blank.");
        }
        Ok(out)
    }
}

impl State {
    pub fn create_check_run(&mut self, full: &str, app_slug: &str, input: CheckInput, sender: &str) -> ApiResult<u64> {
        let name =
            input.name.clone().ok_or_else(|| ApiError(422, "Invalid request.\n\n\"name\" wasn't supplied.".into()))?;
        let head = input
            .head_sha
            .clone()
            .ok_or_else(|| ApiError(422, "Invalid request.\n\n\"head_sha\" wasn't supplied.".into()))?;
        let repo = self.repo(full)?;
        let sha = if head.len() == 40 && repo.commits.contains_key(&head) {
            head.clone()
        } else {
            return err(422, format!("No commit found for SHA: {head}"));
        };
        let suite_id = self.suite_for(full, &sha, app_slug);
        let id = self.next_id();
        let now = self.now();
        let status = match (&input.conclusion, &input.status) {
            (Some(_), _) => "completed".to_string(),
            (None, Some(s)) => s.clone(),
            (None, None) => "queued".to_string(),
        };
        let (title, summary, text) = input.output.clone().unwrap_or((None, None, None));
        self.check_runs.insert(
            id,
            CheckRunRec {
                id,
                repo: full.to_string(),
                suite_id,
                name,
                head_sha: sha,
                completed_at: if status == "completed" { Some(input.completed_at.unwrap_or(now)) } else { None },
                status,
                conclusion: input.conclusion.clone(),
                app_slug: app_slug.to_string(),
                external_id: input.external_id.clone(),
                details_url: input.details_url.clone(),
                title,
                summary,
                text,
                actions: input.actions.clone().unwrap_or_default(),
                started_at: now,
            },
        );
        self.emit_check_run(id, "created", sender, json!({}));
        if self.check_runs[&id].status == "completed" {
            self.emit_check_run(id, "completed", sender, json!({}));
        }
        self.refresh_suite(suite_id, sender);
        Ok(id)
    }

    pub fn update_check_run(
        &mut self,
        full: &str,
        id: u64,
        app_slug: &str,
        input: CheckInput,
        sender: &str,
    ) -> ApiResult<()> {
        let now = self.now();
        let run = match self.check_runs.get_mut(&id) {
            Some(r) if r.repo == full => r,
            _ => return err(404, "Not Found"),
        };
        if run.app_slug != app_slug {
            return err(
                403,
                "Invalid app_id `...` - check run can only be modified by the GitHub App that created it.",
            );
        }
        let was_completed = run.status == "completed";
        if let Some(n) = input.name {
            run.name = n;
        }
        if let Some(s) = input.status {
            run.status = s;
        }
        if let Some(c) = input.conclusion {
            run.conclusion = Some(c);
            run.status = "completed".into();
        }
        if run.status == "completed" && run.completed_at.is_none() {
            run.completed_at = Some(input.completed_at.unwrap_or(now));
        }
        if run.status != "completed" {
            run.conclusion = None;
            run.completed_at = None;
        }
        if let Some(e) = input.external_id {
            run.external_id = Some(e);
        }
        if let Some(d) = input.details_url {
            run.details_url = Some(d);
        }
        if let Some((t, s, x)) = input.output {
            run.title = t;
            run.summary = s;
            run.text = x;
        }
        if let Some(a) = input.actions {
            run.actions = a;
        }
        let now_completed = run.status == "completed";
        let suite = run.suite_id;
        if now_completed && !was_completed {
            self.emit_check_run(id, "completed", sender, json!({}));
        }
        self.refresh_suite(suite, sender);
        Ok(())
    }
}
