//! JSON shapes of GitHub's REST objects, complete enough for octocrab's models (which require
//! many url fields) and close to what api.github.com sends. Used by REST answers and webhooks.

use std::collections::HashMap;

use base64::Engine;
use serde_json::{json, Value};

use super::state::{CheckRunRec, CommentRec, CommitRec, IssueRec, LabelRec, PrRec, Repo, StatusRec, SuiteRec};

pub fn node_id(kind: &str, id: u64) -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("0:{kind}{id}"))
}

pub fn ts(t: &chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

pub fn user(base: &str, login: &str, id: u64) -> Value {
    let bot = login.ends_with("[bot]");
    let api_login = login.replace('[', "%5B").replace(']', "%5D");
    let u = format!("{base}users/{api_login}");
    json!({
        "login": login, "id": id, "node_id": node_id("User", id),
        "avatar_url": format!("https://avatars.githubusercontent.com/u/{id}?v=4"),
        "gravatar_id": "",
        "url": u, "html_url": format!("https://github.com/{}", if bot { format!("apps/{}", login.trim_end_matches("[bot]")) } else { login.to_string() }),
        "followers_url": format!("{u}/followers"),
        "following_url": format!("{u}/following{{/other_user}}"),
        "gists_url": format!("{u}/gists{{/gist_id}}"),
        "starred_url": format!("{u}/starred{{/owner}}{{/repo}}"),
        "subscriptions_url": format!("{u}/subscriptions"),
        "organizations_url": format!("{u}/orgs"),
        "repos_url": format!("{u}/repos"),
        "events_url": format!("{u}/events{{/privacy}}"),
        "received_events_url": format!("{u}/received_events"),
        "type": if bot { "Bot" } else { "User" },
        "user_view_type": "public",
        "site_admin": false,
    })
}

pub fn repo(base: &str, r: &Repo, owner_id: u64) -> Value {
    let full = r.full_name();
    let u = format!("{base}repos/{full}");
    let v = json!({
        "id": r.id, "node_id": node_id("Repository", r.id), "name": r.name, "full_name": full,
        "private": false, "owner": user(base, &r.owner, owner_id),
        "html_url": format!("https://github.com/{full}"), "description": null, "fork": false,
        "url": u,
        "archive_url": format!("{u}/{{archive_format}}{{/ref}}"),
        "assignees_url": format!("{u}/assignees{{/user}}"),
        "blobs_url": format!("{u}/git/blobs{{/sha}}"),
        "branches_url": format!("{u}/branches{{/branch}}"),
        "collaborators_url": format!("{u}/collaborators{{/collaborator}}"),
        "comments_url": format!("{u}/comments{{/number}}"),
        "commits_url": format!("{u}/commits{{/sha}}"),
        "compare_url": format!("{u}/compare/{{base}}...{{head}}"),
        "contents_url": format!("{u}/contents/{{+path}}"),
        "contributors_url": format!("{u}/contributors"),
        "deployments_url": format!("{u}/deployments"),
        "downloads_url": format!("{u}/downloads"),
        "events_url": format!("{u}/events"),
        "forks_url": format!("{u}/forks"),
    });
    let v = merge(
        v,
        json!({
            "git_commits_url": format!("{u}/git/commits{{/sha}}"),
            "git_refs_url": format!("{u}/git/refs{{/sha}}"),
            "git_tags_url": format!("{u}/git/tags{{/sha}}"),
            "git_url": format!("git://github.com/{full}.git"),
            "issue_comment_url": format!("{u}/issues/comments{{/number}}"),
            "issue_events_url": format!("{u}/issues/events{{/number}}"),
            "issues_url": format!("{u}/issues{{/number}}"),
            "keys_url": format!("{u}/keys{{/key_id}}"),
            "labels_url": format!("{u}/labels{{/name}}"),
            "languages_url": format!("{u}/languages"),
            "merges_url": format!("{u}/merges"),
            "milestones_url": format!("{u}/milestones{{/number}}"),
            "notifications_url": format!("{u}/notifications{{?since,all,participating}}"),
            "pulls_url": format!("{u}/pulls{{/number}}"),
            "releases_url": format!("{u}/releases{{/id}}"),
            "ssh_url": format!("git@github.com:{full}.git"),
            "stargazers_url": format!("{u}/stargazers"),
            "statuses_url": format!("{u}/statuses/{{sha}}"),
            "subscribers_url": format!("{u}/subscribers"),
            "subscription_url": format!("{u}/subscription"),
            "tags_url": format!("{u}/tags"),
            "teams_url": format!("{u}/teams"),
            "trees_url": format!("{u}/git/trees{{/sha}}"),
        }),
    );
    let more = json!({
        "clone_url": format!("https://github.com/{full}.git"),
        "mirror_url": null,
        "hooks_url": format!("{u}/hooks"),
        "svn_url": format!("https://github.com/{full}"),
        "homepage": null, "language": null,
        "forks_count": 0, "stargazers_count": 0, "watchers_count": 0, "size": 1,
        "default_branch": r.default_branch, "open_issues_count": r.issues.values().filter(|i| i.state == "open").count(),
        "is_template": false, "topics": [], "has_issues": true, "has_projects": true, "has_wiki": false,
        "has_pages": false, "has_downloads": true, "has_discussions": false, "archived": false, "disabled": false,
        "visibility": "public",
        "pushed_at": ts(&r.created_at), "created_at": ts(&r.created_at), "updated_at": ts(&r.created_at),
        "permissions": {"admin": false, "maintain": false, "push": true, "triage": true, "pull": true},
        "allow_rebase_merge": true, "allow_squash_merge": true, "allow_merge_commit": true,
        "allow_auto_merge": false, "delete_branch_on_merge": r.delete_branch_on_merge,
        "allow_forking": true, "web_commit_signoff_required": false,
        "forks": 0, "open_issues": r.issues.values().filter(|i| i.state == "open").count(), "watchers": 0,
    });
    merge(v, more)
}

/// Adds `b`'s keys to `a` (both objects).
pub fn merge(mut a: Value, b: Value) -> Value {
    if let (Some(ao), Value::Object(bo)) = (a.as_object_mut(), b) {
        ao.extend(bo);
    }
    a
}

pub fn label(base: &str, full: &str, l: &LabelRec) -> Value {
    json!({
        "id": l.id, "node_id": node_id("Label", l.id),
        "url": format!("{base}repos/{full}/labels/{}", encode_path_segment(&l.name)),
        "name": l.name, "description": l.description, "color": l.color, "default": false,
    })
}

pub fn labels_of(base: &str, r: &Repo, names: &[String]) -> Vec<Value> {
    names
        .iter()
        .map(|n| match r.labels.values().find(|l| &l.name == n) {
            Some(l) => label(base, &r.full_name(), l),
            None => json!({"name": n}),
        })
        .collect()
}

pub fn encode_path_segment(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn branch_obj(base: &str, r: &Repo, owner_id: u64, branch: &str, sha: &str) -> Value {
    json!({
        "label": format!("{}:{branch}", r.owner), "ref": branch, "sha": sha,
        "user": user(base, &r.owner, owner_id), "repo": repo(base, r, owner_id),
    })
}

pub fn pull(base: &str, r: &Repo, owner_id: u64, i: &IssueRec, users: &HashMap<String, u64>) -> Value {
    let pr = i.pr.as_ref().expect("pull request");
    let full = r.full_name();
    let u = format!("{base}repos/{full}/pulls/{}", i.number);
    let html = format!("https://github.com/{full}/pull/{}", i.number);
    let uid = |l: &str| users.get(l).copied().unwrap_or(1);
    let v = json!({
        "url": u, "id": i.id, "node_id": node_id("PullRequest", i.id),
        "html_url": html, "diff_url": format!("{html}.diff"), "patch_url": format!("{html}.patch"),
        "issue_url": format!("{base}repos/{full}/issues/{}", i.number),
        "commits_url": format!("{u}/commits"), "review_comments_url": format!("{u}/comments"),
        "review_comment_url": format!("{base}repos/{full}/pulls/comments{{/number}}"),
        "comments_url": format!("{base}repos/{full}/issues/{}/comments", i.number),
        "statuses_url": format!("{base}repos/{full}/statuses/{}", pr.head_sha),
        "number": i.number, "state": i.state, "locked": false, "title": i.title,
        "user": user(base, &i.author, uid(&i.author)), "body": i.body,
        "labels": labels_of(base, r, &i.labels), "milestone": null, "active_lock_reason": null,
        "created_at": ts(&i.created_at), "updated_at": ts(&i.updated_at),
        "closed_at": i.closed_at.as_ref().map(ts), "merged_at": pr.merged_at.as_ref().map(ts),
        "merge_commit_sha": pr.merge_commit_sha,
        "assignee": null, "assignees": [], "requested_reviewers": [], "requested_teams": [],
    });
    let more = json!({
        "head": branch_obj(base, r, owner_id, &pr.head_ref, &pr.head_sha),
        "base": branch_obj(base, r, owner_id, &pr.base_ref, &pr.base_sha),
        "_links": {
            "self": {"href": u}, "html": {"href": html},
            "issue": {"href": format!("{base}repos/{full}/issues/{}", i.number)},
            "comments": {"href": format!("{base}repos/{full}/issues/{}/comments", i.number)},
            "review_comments": {"href": format!("{u}/comments")},
            "review_comment": {"href": format!("{base}repos/{full}/pulls/comments{{/number}}")},
            "commits": {"href": format!("{u}/commits")},
            "statuses": {"href": format!("{base}repos/{full}/statuses/{}", pr.head_sha)},
        },
        "author_association": if i.author == r.owner { "OWNER" } else if i.author.ends_with("[bot]") { "NONE" } else { "COLLABORATOR" },
        "auto_merge": null, "draft": pr.draft,
        "merged": pr.merged,
        "mergeable": if i.state == "open" { json!(true) } else { Value::Null },
        "rebaseable": if i.state == "open" { json!(true) } else { Value::Null },
        "mergeable_state": if i.state == "open" { "clean" } else { "unknown" },
        "merged_by": pr.merged_by.as_ref().map(|m| user(base, m, uid(m))),
        "comments": 0, "review_comments": 0, "maintainer_can_modify": false,
        "commits": 1, "additions": 1, "deletions": 1, "changed_files": 1,
    });
    merge(v, more)
}

pub fn minimal_pull(base: &str, r: &Repo, number: u64, id: u64, pr: &PrRec) -> Value {
    let rr = json!({"id": r.id, "url": format!("{base}repos/{}", r.full_name()), "name": r.name});
    json!({
        "url": format!("{base}repos/{}/pulls/{number}", r.full_name()), "id": id, "number": number,
        "head": {"ref": pr.head_ref, "sha": pr.head_sha, "repo": rr},
        "base": {"ref": pr.base_ref, "sha": pr.base_sha, "repo": rr},
    })
}

pub fn issue(base: &str, r: &Repo, i: &IssueRec, uid: u64, ncomments: usize) -> Value {
    let full = r.full_name();
    let u = format!("{base}repos/{full}/issues/{}", i.number);
    let html = if i.pr.is_some() {
        format!("https://github.com/{full}/pull/{}", i.number)
    } else {
        format!("https://github.com/{full}/issues/{}", i.number)
    };
    let mut v = json!({
        "id": i.id, "node_id": node_id("Issue", i.id), "url": u,
        "repository_url": format!("{base}repos/{full}"),
        "labels_url": format!("{u}/labels{{/name}}"), "comments_url": format!("{u}/comments"),
        "events_url": format!("{u}/events"), "html_url": html, "number": i.number,
        "state": i.state, "state_reason": i.state_reason, "title": i.title, "body": i.body,
        "user": user(base, &i.author, uid), "labels": labels_of(base, r, &i.labels),
        "assignee": null, "assignees": [], "milestone": null, "locked": false,
        "active_lock_reason": null, "comments": ncomments,
        "closed_at": i.closed_at.as_ref().map(ts), "closed_by": null,
        "created_at": ts(&i.created_at), "updated_at": ts(&i.updated_at),
        "author_association": if i.author == r.owner { "OWNER" } else { "NONE" },
        "reactions": reactions_summary(&format!("{u}/reactions"), &[]),
    });
    if let Some(pr) = &i.pr {
        let html = format!("https://github.com/{full}/pull/{}", i.number);
        v["pull_request"] = json!({
            "url": format!("{base}repos/{full}/pulls/{}", i.number), "html_url": html,
            "diff_url": format!("{html}.diff"), "patch_url": format!("{html}.patch"),
            "merged_at": pr.merged_at.as_ref().map(ts),
        });
        v["draft"] = json!(pr.draft);
    }
    v
}

pub fn reactions_summary(url: &str, contents: &[String]) -> Value {
    let count = |c: &str| contents.iter().filter(|x| x.as_str() == c).count();
    json!({
        "url": url, "total_count": contents.len(), "+1": count("+1"), "-1": count("-1"),
        "laugh": count("laugh"), "hooray": count("hooray"), "confused": count("confused"),
        "heart": count("heart"), "rocket": count("rocket"), "eyes": count("eyes"),
    })
}

pub fn comment(base: &str, c: &CommentRec, uid: u64, is_pr: bool) -> Value {
    let u = format!("{base}repos/{}/issues/comments/{}", c.repo, c.id);
    let kind = if is_pr { "pull" } else { "issues" };
    let contents: Vec<String> = c.reactions.iter().map(|(_, content, _)| content.clone()).collect();
    json!({
        "id": c.id, "node_id": node_id("IssueComment", c.id), "url": u,
        "html_url": format!("https://github.com/{}/{kind}/{}#issuecomment-{}", c.repo, c.issue, c.id),
        "issue_url": format!("{base}repos/{}/issues/{}", c.repo, c.issue),
        "body": c.body, "user": user(base, &c.author, uid),
        "created_at": ts(&c.created_at), "updated_at": ts(&c.updated_at),
        "author_association": "NONE", "performed_via_github_app": null,
        "reactions": reactions_summary(&format!("{u}/reactions"), &contents),
    })
}

pub fn git_user(u: &super::state::GitUser) -> Value {
    json!({"name": u.name, "email": u.email, "date": ts(&u.date)})
}

pub fn push_commit(base: &str, r: &Repo, c: &CommitRec) -> Value {
    let parent_tree = c.parents.first().map(|p| super::state::State::tree_of(r, p)).unwrap_or_default();
    let tree = super::state::State::tree_of(r, &c.sha);
    let (mut added, mut removed, mut modified) = (vec![], vec![], vec![]);
    for (path, status, _, _) in super::state::State::diff_trees(&parent_tree, &tree) {
        match status {
            "added" => added.push(path),
            "removed" => removed.push(path),
            _ => modified.push(path),
        }
    }
    let _ = base;
    json!({
        "id": c.sha, "tree_id": c.tree, "distinct": true, "message": c.message,
        "timestamp": c.author.date.to_rfc3339(),
        "url": format!("https://github.com/{}/commit/{}", r.full_name(), c.sha),
        "author": {"name": c.author.name, "email": c.author.email, "username": c.login},
        "committer": {"name": c.committer.name, "email": c.committer.email},
        "added": added, "removed": removed, "modified": modified,
    })
}

/// The git-data commit object (`/git/commits`).
pub fn git_commit(base: &str, full: &str, c: &CommitRec) -> Value {
    json!({
        "sha": c.sha, "node_id": node_id("Commit", c.seq),
        "url": format!("{base}repos/{full}/git/commits/{}", c.sha),
        "html_url": format!("https://github.com/{full}/commit/{}", c.sha),
        "author": git_user(&c.author), "committer": git_user(&c.committer),
        "tree": {"sha": c.tree, "url": format!("{base}repos/{full}/git/trees/{}", c.tree)},
        "message": c.message,
        "parents": c.parents.iter().map(|p| json!({"sha": p, "url": format!("{base}repos/{full}/git/commits/{p}"), "html_url": format!("https://github.com/{full}/commit/{p}")})).collect::<Vec<_>>(),
        "verification": {"verified": false, "reason": "unsigned", "signature": null, "payload": null, "verified_at": null},
    })
}

/// The REST commit object (`/commits/{ref}`), with `files` when given.
pub fn repo_commit(base: &str, r: &Repo, c: &CommitRec, files: Option<Vec<Value>>) -> Value {
    let full = r.full_name();
    let mut v = json!({
        "url": format!("{base}repos/{full}/commits/{}", c.sha), "sha": c.sha,
        "node_id": node_id("Commit", c.seq),
        "html_url": format!("https://github.com/{full}/commit/{}", c.sha),
        "comments_url": format!("{base}repos/{full}/commits/{}/comments", c.sha),
        "commit": {
            "url": format!("{base}repos/{full}/git/commits/{}", c.sha),
            "author": git_user(&c.author), "committer": git_user(&c.committer),
            "message": c.message, "comment_count": 0,
            "tree": {"sha": c.tree, "url": format!("{base}repos/{full}/git/trees/{}", c.tree)},
            "verification": {"verified": false, "reason": "unsigned", "signature": null, "payload": null, "verified_at": null},
        },
        "author": null, "committer": null,
        "parents": c.parents.iter().map(|p| json!({"sha": p, "url": format!("{base}repos/{full}/commits/{p}"), "html_url": format!("https://github.com/{full}/commit/{p}")})).collect::<Vec<_>>(),
    });
    if let Some(files) = files {
        let add: u64 = files.iter().map(|f| f["additions"].as_u64().unwrap_or(0)).sum();
        let del: u64 = files.iter().map(|f| f["deletions"].as_u64().unwrap_or(0)).sum();
        v["stats"] = json!({"total": add + del, "additions": add, "deletions": del});
        v["files"] = json!(files);
    }
    v
}

#[allow(clippy::too_many_arguments)]
pub fn diff_entry(
    base: &str,
    full: &str,
    path: &str,
    status: &str,
    blob: Option<&str>,
    add: u64,
    del: u64,
    patch: &str,
    at: &str,
) -> Value {
    json!({
        "sha": blob, "filename": path, "status": status, "additions": add, "deletions": del,
        "changes": add + del,
        "blob_url": format!("https://github.com/{full}/blob/{at}/{path}"),
        "raw_url": format!("https://github.com/{full}/raw/{at}/{path}"),
        "contents_url": format!("{base}repos/{full}/contents/{path}?ref={at}"),
        "patch": patch,
    })
}

/// A crude unified diff (one hunk, whole file) — enough for humans reading a test failure.
pub fn unified_patch(old: &str, new: &str) -> (String, u64, u64) {
    let o: Vec<&str> = old.lines().collect();
    let n: Vec<&str> = new.lines().collect();
    let mut pre = 0;
    while pre < o.len() && pre < n.len() && o[pre] == n[pre] {
        pre += 1;
    }
    let mut suf = 0;
    while suf < o.len() - pre && suf < n.len() - pre && o[o.len() - 1 - suf] == n[n.len() - 1 - suf] {
        suf += 1;
    }
    let removed = &o[pre..o.len() - suf];
    let added = &n[pre..n.len() - suf];
    let mut s = format!("@@ -{},{} +{},{} @@", pre + 1, removed.len(), pre + 1, added.len());
    for l in removed {
        s.push_str(&format!("\n-{l}"));
    }
    for l in added {
        s.push_str(&format!("\n+{l}"));
    }
    (s, added.len() as u64, removed.len() as u64)
}

/// GitHub's base64 with a newline every 60 characters.
pub fn b64_wrapped(content: &str) -> String {
    let enc = base64::engine::general_purpose::STANDARD.encode(content.as_bytes());
    let mut out = String::new();
    for (i, ch) in enc.chars().enumerate() {
        if i > 0 && i % 60 == 0 {
            out.push('\n');
        }
        out.push(ch);
    }
    out.push('\n');
    out
}

pub fn content_file(
    base: &str,
    full: &str,
    path: &str,
    at: &str,
    sha: &str,
    content: Option<&str>,
    size: usize,
) -> Value {
    let name = path.rsplit('/').next().unwrap_or(path);
    let u = format!("{base}repos/{full}/contents/{path}?ref={at}");
    let git = format!("{base}repos/{full}/git/blobs/{sha}");
    let html = format!("https://github.com/{full}/blob/{at}/{path}");
    let mut v = json!({
        "type": "file", "name": name, "path": path, "sha": sha, "size": size,
        "url": u, "html_url": html, "git_url": git,
        "download_url": format!("https://raw.githubusercontent.com/{full}/{at}/{path}"),
        "_links": {"self": u, "git": git, "html": html},
    });
    if let Some(c) = content {
        v["content"] = json!(b64_wrapped(c));
        v["encoding"] = json!("base64");
    }
    v
}

pub fn content_dir(base: &str, full: &str, path: &str, at: &str) -> Value {
    let name = path.rsplit('/').next().unwrap_or(path);
    let u = format!("{base}repos/{full}/contents/{path}?ref={at}");
    let html = format!("https://github.com/{full}/tree/{at}/{path}");
    let sha = super::sha1::sha1_hex(format!("dir {full} {at} {path}").as_bytes());
    let git = format!("{base}repos/{full}/git/trees/{sha}");
    json!({
        "type": "dir", "name": name, "path": path, "sha": sha, "size": 0,
        "url": u, "html_url": html, "git_url": git, "download_url": null,
        "_links": {"self": u, "git": git, "html": html},
    })
}

pub fn check_run(base: &str, c: &CheckRunRec, app_id: u64, suite: &SuiteRec, prs: Vec<Value>) -> Value {
    let u = format!("{base}repos/{}/check-runs/{}", c.repo, c.id);
    json!({
        "id": c.id, "node_id": node_id("CheckRun", c.id), "head_sha": c.head_sha,
        "external_id": c.external_id.clone().unwrap_or_default(), "url": u,
        "html_url": format!("https://github.com/{}/runs/{}", c.repo, c.id),
        "details_url": c.details_url.clone().unwrap_or_else(|| format!("https://github.com/{}/runs/{}", c.repo, c.id)),
        "status": c.status, "conclusion": c.conclusion,
        "started_at": ts(&c.started_at), "completed_at": c.completed_at.as_ref().map(ts),
        "output": {
            "title": c.title, "summary": c.summary, "text": c.text,
            "annotations_count": 0, "annotations_url": format!("{u}/annotations"),
        },
        "name": c.name,
        "check_suite": {"id": suite.id, "head_branch": suite.head_branch, "head_sha": suite.head_sha},
        "app": app(base, app_id, &c.app_slug),
        "actions": c.actions.iter().map(|a| json!({"label": a.label, "description": a.description, "identifier": a.identifier})).collect::<Vec<_>>(),
        "pull_requests": prs,
    })
}

pub fn app(base: &str, id: u64, slug: &str) -> Value {
    let owner_login = if slug == "github-actions" { "github".to_string() } else { "baton-org".to_string() };
    json!({
        "id": id, "slug": slug, "node_id": node_id("App", id), "client_id": format!("Iv1.{id:016x}"),
        "owner": user(base, &owner_login, 9),
        "name": slug, "description": "", "external_url": format!("https://github.com/apps/{slug}"),
        "html_url": format!("https://github.com/apps/{slug}"),
        "created_at": "2024-01-01T00:00:00Z", "updated_at": "2024-01-01T00:00:00Z",
        "permissions": {"checks": "write", "contents": "write", "issues": "write", "pull_requests": "write", "statuses": "write", "metadata": "read", "members": "read"},
        "events": ["check_run", "check_suite", "issue_comment", "pull_request", "push", "status"],
    })
}

pub fn check_suite(base: &str, s: &SuiteRec, app_id: u64, prs: Vec<Value>, runs: usize) -> Value {
    json!({
        "id": s.id, "node_id": node_id("CheckSuite", s.id), "head_branch": s.head_branch,
        "head_sha": s.head_sha, "status": s.status, "conclusion": s.conclusion,
        "url": format!("{base}repos/{}/check-suites/{}", s.repo, s.id),
        "before": null, "after": s.head_sha, "pull_requests": prs,
        "app": app(base, app_id, &s.app_slug),
        "created_at": ts(&s.created_at), "updated_at": ts(&s.updated_at),
        "latest_check_runs_count": runs,
        "check_runs_url": format!("{base}repos/{}/check-suites/{}/check-runs", s.repo, s.id),
        "rerequestable": true, "runs_rerequestable": true,
    })
}

pub fn status(base: &str, s: &StatusRec, creator: &Value) -> Value {
    json!({
        "url": format!("{base}repos/statuses/{}", s.sha), "avatar_url": null,
        "id": s.id, "node_id": node_id("StatusContext", s.id), "state": s.state,
        "description": s.description, "target_url": s.target_url, "context": s.context,
        "created_at": ts(&s.created_at), "updated_at": ts(&s.created_at), "creator": creator,
    })
}
