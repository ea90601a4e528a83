//! GitHub Actions workflow runs, merge queues and branch rules in the fake.
//!
//! - `POST …/actions/workflows/{file}/dispatches` reads `.github/workflows/{file}` at `ref` like
//!   GitHub does (404 when missing, 422 without a `workflow_dispatch` trigger), creates a queued
//!   run whose `display_title` is the workflow's `run-name` with `${{ inputs.x }}` filled in, and
//!   answers 204 (or 200 with the run's id when `return_run_details` is true).
//! - `GET …/actions/workflows/{file}/runs` lists them (filters `event`, `branch`, `head_sha`,
//!   `status`, `created` as `>=<time>`).
//! - The test completes a run ([`State::complete_workflow_run`]): `workflow_run` completed.
//! - `GET …/rules/branches/{branch}` answers a `merge_queue` rule for branches that require one;
//!   [`State::enqueue_merge_group`] builds the queue's merge commit and sends `merge_group`
//!   (the GraphQL mutation `enqueuePullRequest` does the same, see `graphql.rs`), and
//!   [`State::land_merge_queue`] merges each queued PR whose group head has every required
//!   check green: the base fast-forwards to the group's head (`push`), the PR is closed merged
//!   (`pull_request` closed), the group's branch is deleted (`merge_group` destroyed).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::state::{ApiError, ApiResult, GitUser, State};

#[derive(Debug, Clone)]
pub struct WorkflowRunRec {
    pub id: u64,
    pub repo: String,
    /// File name in `.github/workflows/`.
    pub file: String,
    pub workflow_id: u64,
    pub name: String,
    pub display_title: String,
    pub event: String,
    pub head_branch: String,
    pub head_sha: String,
    pub status: String,
    pub conclusion: Option<String>,
    pub inputs: BTreeMap<String, String>,
    pub run_number: u64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// One pull request's entry in its base branch's merge queue.
#[derive(Debug, Clone)]
pub struct QueueEntry {
    pub id: u64,
    /// The merge group's head commit (the PR merged onto the base tip) and its branch.
    pub head_sha: String,
    pub head_ref: String,
    pub base_sha: String,
    pub base_ref: String,
}

/// `name:` and `run-name:` of a workflow file (top-level keys, as plain text).
fn workflow_meta(text: &str) -> (Option<String>, Option<String>) {
    let key = |k: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(k))
            .map(|v| v.trim().trim_matches(|c| c == '"' || c == '\'').to_string())
    };
    (key("name:"), key("run-name:"))
}

/// `${{ inputs.x }}` → the input's value (what GitHub's expression evaluation gives here).
fn render_run_name(template: &str, inputs: &BTreeMap<String, String>) -> String {
    let mut out = String::new();
    let mut rest = template;
    while let Some(i) = rest.find("${{") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 3..];
        let Some(end) = after.find("}}") else {
            out.push_str(&rest[i..]);
            return out;
        };
        let expr = after[..end].trim();
        if let Some(name) = expr.strip_prefix("inputs.") {
            out.push_str(inputs.get(name.trim()).map(String::as_str).unwrap_or(""));
        }
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    out
}

impl State {
    fn workflow_id(file: &str) -> u64 {
        // Stable per file name, like GitHub's numeric workflow ids.
        file.bytes().fold(7000u64, |h, b| h.wrapping_mul(31).wrapping_add(b as u64)) % 1_000_000 + 1_000_000
    }

    pub fn workflow_run_json(&mut self, run: &WorkflowRunRec) -> Value {
        let actor = self.user_json("baton[bot]");
        let base = &self.base_url;
        let full = &run.repo;
        let repo = &self.repos[full];
        let owner_id = self.users.get(&repo.owner).map(|u| u.id).unwrap_or(1);
        let repo_json = super::payloads::repo(base, repo, owner_id);
        let c = repo.commits.get(&run.head_sha);
        let head_commit = json!({
            "id": run.head_sha,
            "tree_id": c.map(|c| c.tree.clone()).unwrap_or_default(),
            "message": c.map(|c| c.message.clone()).unwrap_or_default(),
            "timestamp": c.map(|c| super::payloads::ts(&c.committer.date)).unwrap_or_default(),
            "author": {"name": c.map(|c| c.author.name.clone()).unwrap_or_default(), "email": c.map(|c| c.author.email.clone()).unwrap_or_default()},
            "committer": {"name": c.map(|c| c.committer.name.clone()).unwrap_or_default(), "email": c.map(|c| c.committer.email.clone()).unwrap_or_default()},
        });
        let url = format!("{base}repos/{full}/actions/runs/{}", run.id);
        json!({
            "id": run.id,
            "name": run.name,
            "node_id": format!("WFR_{}", run.id),
            "check_suite_id": run.id + 1,
            "check_suite_node_id": format!("CS_{}", run.id + 1),
            "head_branch": run.head_branch,
            "head_sha": run.head_sha,
            "path": format!(".github/workflows/{}", run.file),
            "display_title": run.display_title,
            "run_number": run.run_number,
            "run_attempt": 1,
            "event": run.event,
            "status": run.status,
            "conclusion": run.conclusion,
            "workflow_id": run.workflow_id,
            "url": url,
            "html_url": format!("https://github.com/{full}/actions/runs/{}", run.id),
            "pull_requests": [],
            "created_at": super::payloads::ts(&run.created_at),
            "updated_at": super::payloads::ts(&run.updated_at),
            "run_started_at": super::payloads::ts(&run.created_at),
            "actor": actor.clone(),
            "triggering_actor": actor,
            "jobs_url": format!("{url}/jobs"),
            "logs_url": format!("{url}/logs"),
            "check_suite_url": format!("{base}repos/{full}/check-suites/{}", run.id + 1),
            "artifacts_url": format!("{url}/artifacts"),
            "cancel_url": format!("{url}/cancel"),
            "rerun_url": format!("{url}/rerun"),
            "previous_attempt_url": null,
            "workflow_url": format!("{base}repos/{full}/actions/workflows/{}", run.workflow_id),
            "head_commit": head_commit,
            "repository": repo_json.clone(),
            "head_repository": repo_json,
        })
    }

    /// Completes run `id` with `conclusion` and sends `workflow_run` completed.
    pub fn complete_workflow_run(&mut self, id: u64, conclusion: &str) {
        let now = self.now();
        let run = self.workflow_runs.get_mut(&id).expect("workflow run");
        run.status = "completed".into();
        run.conclusion = Some(conclusion.into());
        run.updated_at = now;
        let run = run.clone();
        let wf = json!({
            "id": run.workflow_id, "node_id": format!("W_{}", run.workflow_id), "name": run.name,
            "path": format!(".github/workflows/{}", run.file), "state": "active",
            "created_at": "2024-01-01T00:00:00.000Z", "updated_at": "2024-01-01T00:00:00.000Z",
            "url": format!("{}repos/{}/actions/workflows/{}", self.base_url, run.repo, run.workflow_id),
            "html_url": format!("https://github.com/{}/blob/main/.github/workflows/{}", run.repo, run.file),
            "badge_url": format!("https://github.com/{}/workflows/{}/badge.svg", run.repo, run.name),
        });
        let payload = json!({"workflow": wf, "workflow_run": self.workflow_run_json(&run)});
        self.emit(&run.repo, "workflow_run", Some("completed"), "baton[bot]", payload);
    }

    /// The merge queue of `pr`'s base takes it: a merge commit of its head onto the base tip on
    /// `gh-readonly-queue/<base>/pr-<n>-<base sha>`, then `merge_group` checks_requested.
    pub fn enqueue_merge_group(&mut self, full: &str, number: u64) -> ApiResult<String> {
        let (issue, pr) = self.pr(full, number)?;
        let (title, pr) = (issue.title.clone(), pr.clone());
        let tree = match self.pr_merge_tree(full, number)? {
            Ok(t) => t,
            Err(_) => return Err(ApiError(405, "Pull Request is not mergeable".into())),
        };
        let base_ref = format!("refs/heads/{}", pr.base_ref);
        let base_tip = self.repos[full].refs[&base_ref].clone();
        let tree_sha = State::put_tree(self.repos.get_mut(full).expect("repo"), tree);
        let who = GitUser { name: "GitHub".into(), email: "noreply@github.com".into(), date: self.now() };
        let message = format!("Merge pull request #{number} from {}\n\n{title}", pr.head_ref);
        let sha = self.put_commit(
            full,
            &tree_sha,
            vec![base_tip.clone(), pr.head_sha.clone()],
            &message,
            who.clone(),
            who,
            None,
        );
        let head_ref = format!("refs/heads/gh-readonly-queue/{}/pr-{number}-{base_tip}", pr.base_ref);
        self.repos.get_mut(full).expect("repo").refs.insert(head_ref.clone(), sha.clone());
        let head_commit = json!({
            "id": sha, "tree_id": tree_sha, "message": message, "timestamp": super::payloads::ts(&self.now()),
            "author": {"name": "GitHub", "email": "noreply@github.com"},
            "committer": {"name": "GitHub", "email": "noreply@github.com"},
        });
        let author = issue_author(self, full, number);
        let id = self.next_id();
        self.queue_entries.insert(
            (full.to_string(), number),
            QueueEntry {
                id,
                head_sha: sha.clone(),
                head_ref: head_ref.clone(),
                base_sha: base_tip.clone(),
                base_ref: base_ref.clone(),
            },
        );
        self.emit(
            full,
            "merge_group",
            Some("checks_requested"),
            &author,
            json!({"merge_group": {"head_sha": sha, "head_ref": head_ref, "base_sha": base_tip, "base_ref": base_ref, "head_commit": head_commit}}),
        );
        Ok(sha)
    }

    /// The merge queue's step: every queued PR of `full` whose group head has a successful
    /// check run (newest per name) or status for each of `required` is merged — the base
    /// fast-forwards to the group's head, as GitHub's queue does. Returns the merged numbers.
    pub fn land_merge_queue(&mut self, full: &str, required: &[&str]) -> Vec<u64> {
        let queued: Vec<(u64, QueueEntry)> =
            self.queue_entries.iter().filter(|((r, _), _)| r == full).map(|((_, n), e)| (*n, e.clone())).collect();
        let mut merged = vec![];
        for (number, e) in queued {
            if !required.iter().all(|name| self.green_on(full, &e.head_sha, name)) {
                continue;
            }
            if self.repos[full].refs.get(&e.base_ref) != Some(&e.base_sha) {
                continue; // the base moved: GitHub rebuilds the group (not modelled)
            }
            let by = "github-merge-queue[bot]";
            self.queue_entries.remove(&(full.to_string(), number));
            self.set_ref(full, &e.base_ref, Some(&e.head_sha), by, false);
            let now = self.now();
            let head_ref = {
                let repo = self.repos.get_mut(full).expect("repo");
                let issue = repo.issues.get_mut(&number).expect("issue");
                issue.state = "closed".into();
                issue.closed_at = Some(now);
                issue.updated_at = now;
                let pr = issue.pr.as_mut().expect("pr");
                pr.merged = true;
                pr.merged_at = Some(now);
                pr.merged_by = Some(by.to_string());
                pr.merge_commit_sha = Some(e.head_sha.clone());
                pr.head_ref.clone()
            };
            self.emit_pull(full, number, "closed", by, json!({}));
            if self.repos[full].delete_branch_on_merge {
                self.set_ref(full, &format!("refs/heads/{head_ref}"), None, by, false);
            }
            self.repos.get_mut(full).expect("repo").refs.remove(&e.head_ref);
            let author = issue_author(self, full, number);
            let head_commit = {
                let c = &self.repos[full].commits[&e.head_sha];
                json!({
                    "id": c.sha, "tree_id": c.tree, "message": c.message, "timestamp": super::payloads::ts(&c.committer.date),
                    "author": {"name": c.author.name, "email": c.author.email},
                    "committer": {"name": c.committer.name, "email": c.committer.email},
                })
            };
            self.emit(
                full,
                "merge_group",
                Some("destroyed"),
                &author,
                json!({"reason": "merged", "merge_group": {"head_sha": e.head_sha, "head_ref": e.head_ref, "base_sha": e.base_sha, "base_ref": e.base_ref, "head_commit": head_commit}}),
            );
            merged.push(number);
        }
        merged
    }

    /// Whether `name` is green on `sha`: its newest check run succeeded (or was skipped /
    /// neutral), or its status is success.
    fn green_on(&self, full: &str, sha: &str, name: &str) -> bool {
        let run = self
            .check_runs
            .values()
            .filter(|c| c.repo == full && c.head_sha == sha && c.name == name)
            .max_by_key(|c| c.id);
        if let Some(c) = run {
            return c.status == "completed"
                && matches!(c.conclusion.as_deref(), Some("success" | "neutral" | "skipped"));
        }
        self.repos[full]
            .statuses
            .iter()
            .filter(|st| st.sha == sha && st.context == name)
            .max_by_key(|st| st.id)
            .is_some_and(|st| st.state == "success")
    }
}

fn issue_author(s: &State, full: &str, number: u64) -> String {
    s.repos[full].issues[&number].author.clone()
}

fn ok(v: Value) -> ApiResult<super::routes::Resp> {
    Ok(super::routes::Resp { status: 200, body: Some(v), headers: vec![] })
}

/// The routes of this module, or None for another path.
pub fn routes(
    s: &mut State,
    method: &str,
    full: &str,
    rest: &[&str],
    q: &std::collections::HashMap<String, String>,
    body: Option<&Value>,
) -> Option<ApiResult<super::routes::Resp>> {
    Some(match (method, rest) {
        ("POST", ["actions", "workflows", file, "dispatches"]) => dispatch(s, full, file, body),
        ("GET", ["actions", "workflows", file, "runs"]) => {
            let file = file.to_string();
            let created_after = q
                .get("created")
                .and_then(|c| c.strip_prefix(">="))
                .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                .map(|t| t.with_timezone(&Utc));
            let mut runs: Vec<WorkflowRunRec> = s
                .workflow_runs
                .values()
                .filter(|r| r.repo == full && (r.file == file || r.workflow_id.to_string() == file))
                .filter(|r| q.get("event").is_none_or(|e| &r.event == e))
                .filter(|r| q.get("branch").is_none_or(|b| &r.head_branch == b))
                .filter(|r| q.get("head_sha").is_none_or(|h| &r.head_sha == h))
                .filter(|r| q.get("status").is_none_or(|st| &r.status == st || r.conclusion.as_ref() == Some(st)))
                .filter(|r| created_after.is_none_or(|t| r.created_at >= t))
                .cloned()
                .collect();
            runs.sort_by_key(|r| std::cmp::Reverse(r.id));
            let list: Vec<Value> = runs.iter().map(|r| s.workflow_run_json(r)).collect();
            ok(json!({"total_count": list.len(), "workflow_runs": list}))
        }
        ("GET", ["rules", "branches", b @ ..]) if !b.is_empty() => {
            let branch = b.join("/");
            let key = (full.to_string(), branch);
            let rules: Vec<Value> = if s.merge_queue_branches.contains(&key) && !s.merge_queue_unlisted.contains(&key) {
                vec![json!({
                    "type": "merge_queue",
                    "ruleset_source_type": "Repository", "ruleset_source": full, "ruleset_id": 42,
                    "parameters": {
                        "check_response_timeout_minutes": 60, "grouping_strategy": "ALLGREEN",
                        "max_entries_to_build": 5, "max_entries_to_merge": 5, "merge_method": "MERGE",
                        "min_entries_to_merge": 1, "min_entries_to_merge_wait_minutes": 5,
                    },
                })]
            } else {
                vec![]
            };
            ok(Value::Array(rules))
        }
        _ => return None,
    })
}

fn dispatch(s: &mut State, full: &str, file: &str, body: Option<&Value>) -> ApiResult<super::routes::Resp> {
    let git_ref = body
        .and_then(|b| b["ref"].as_str())
        .ok_or_else(|| ApiError(422, "Invalid request.\n\n\"ref\" wasn't supplied.".into()))?;
    let repo = s.repo(full)?;
    let branch = git_ref.trim_start_matches("refs/heads/").to_string();
    let sha = State::resolve(repo, git_ref).ok_or_else(|| ApiError(422, format!("No ref found for: {git_ref}")))?;
    let text = State::files_of(repo, &sha)
        .remove(&format!(".github/workflows/{file}"))
        .ok_or_else(|| ApiError(404, "Not Found".into()))?;
    if !text.contains("workflow_dispatch") {
        return Err(ApiError(422, "Workflow does not have 'workflow_dispatch' trigger".into()));
    }
    let mut inputs = BTreeMap::new();
    if let Some(obj) = body.and_then(|b| b.get("inputs")).and_then(Value::as_object) {
        for (k, v) in obj {
            let v = match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            inputs.insert(k.clone(), v);
        }
    }
    let (name, run_name) = workflow_meta(&text);
    let name = name.unwrap_or_else(|| format!(".github/workflows/{file}"));
    let display_title = run_name.map(|t| render_run_name(&t, &inputs)).unwrap_or_else(|| name.clone());
    let id = s.next_id();
    let now = s.now();
    let run_number = s.workflow_runs.values().filter(|r| r.repo == full && r.file == file).count() as u64 + 1;
    s.workflow_runs.insert(
        id,
        WorkflowRunRec {
            id,
            repo: full.to_string(),
            file: file.to_string(),
            workflow_id: State::workflow_id(file),
            name,
            display_title,
            event: "workflow_dispatch".into(),
            head_branch: branch,
            head_sha: sha,
            status: "queued".into(),
            conclusion: None,
            inputs,
            run_number,
            created_at: now,
            updated_at: now,
        },
    );
    if body.and_then(|b| b["return_run_details"].as_bool()) == Some(true) {
        return ok(json!({
            "workflow_run_id": id,
            "run_url": format!("{}repos/{full}/actions/runs/{id}", s.base_url),
            "html_url": format!("https://github.com/{full}/actions/runs/{id}"),
        }));
    }
    Ok(super::routes::Resp { status: 204, body: None, headers: vec![] })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_names_are_rendered() {
        let inputs: BTreeMap<String, String> = [("stage".to_string(), "dev".to_string())].into_iter().collect();
        assert_eq!(render_run_name("verify ${{ inputs.stage }} ${{inputs.none}}!", &inputs), "verify dev !");
        let (name, run_name) =
            workflow_meta("name: e2e\nrun-name: \"e2e ${{ inputs.stage }}\"\non: workflow_dispatch\n");
        assert_eq!((name.as_deref(), run_name.as_deref()), (Some("e2e"), Some("e2e ${{ inputs.stage }}")));
    }
}
