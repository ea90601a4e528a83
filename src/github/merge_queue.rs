//! Merge queues: the branch rule that requires one, the GraphQL mutation that adds a pull
//! request to it, and the read that tells whether it is there. Pure: the client sends these
//! bodies and hands the answers to these parsers.
//!
//! From GitHub's GraphQL schema (octokit/graphql-schema `schema.graphql`):
//!
//! ```graphql
//! enqueuePullRequest(input: EnqueuePullRequestInput!): EnqueuePullRequestPayload
//! input EnqueuePullRequestInput { clientMutationId: String  expectedHeadOid: GitObjectID
//!                                 jump: Boolean  pullRequestId: ID! }
//! type EnqueuePullRequestPayload { clientMutationId: String  mergeQueueEntry: MergeQueueEntry }
//! type MergeQueueEntry implements Node { id: ID!  state: MergeQueueEntryState! … }
//! type PullRequest { isInMergeQueue: Boolean!  merged: Boolean!  mergeQueueEntry: MergeQueueEntry … }
//! ```
//!
//! A mutation GitHub refuses answers HTTP 200 with `errors` (each with a `type` such as
//! `FORBIDDEN`, `NOT_FOUND` or `UNPROCESSABLE`) and `data.enqueuePullRequest: null`.

use serde_json::{json, Value};

/// Adds the pull request to its base branch's merge queue, only if its head is still
/// `expectedHeadOid` (a moved head is refused, not queued).
pub const ENQUEUE: &str = "mutation($pullRequestId: ID!, $expectedHeadOid: GitObjectID!) { \
enqueuePullRequest(input: {pullRequestId: $pullRequestId, expectedHeadOid: $expectedHeadOid}) { \
mergeQueueEntry { id state } } }";

/// Whether the pull request is in its merge queue now (or was merged by it already).
pub const QUEUE_STATE: &str =
    "query($id: ID!) { node(id: $id) { ... on PullRequest { isInMergeQueue merged mergeQueueEntry { id state } } } }";

/// The request body of the mutation for the pull request with node ID `pull_id` at `head_sha`.
pub fn enqueue_body(pull_id: &str, head_sha: &str) -> Value {
    json!({"query": ENQUEUE, "variables": {"pullRequestId": pull_id, "expectedHeadOid": head_sha}})
}

/// The request body of the read.
pub fn queue_state_body(pull_id: &str) -> Value {
    json!({"query": QUEUE_STATE, "variables": {"id": pull_id}})
}

/// What GitHub answered to the mutation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Enqueued {
    /// The pull request has an entry in the queue (its ID).
    Entry(String),
    /// Refused: the first error's type (`FORBIDDEN`, `NOT_FOUND`, `UNPROCESSABLE`, … or empty)
    /// and message.
    Refused { kind: String, message: String },
}

pub fn parse_enqueue(answer: &Value) -> Enqueued {
    if let Some(id) = answer.pointer("/data/enqueuePullRequest/mergeQueueEntry/id").and_then(Value::as_str) {
        return Enqueued::Entry(id.to_string());
    }
    let first = answer.pointer("/errors/0");
    let text = |k: &str| first.and_then(|e| e[k].as_str()).unwrap_or_default().to_string();
    let message = match text("message") {
        m if m.is_empty() => "the answer names no merge queue entry".to_string(),
        m => m,
    };
    Enqueued::Refused { kind: text("type"), message }
}

/// Where the pull request stands with its merge queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueState {
    pub queued: bool,
    pub merged: bool,
}

pub fn parse_queue_state(answer: &Value) -> Result<QueueState, String> {
    let node = answer.pointer("/data/node").filter(|n| n.is_object()).ok_or_else(|| {
        let m = answer.pointer("/errors/0/message").and_then(Value::as_str).unwrap_or("no pull request node");
        format!("reading the merge queue state: {m}")
    })?;
    let flag = |k: &str| node[k].as_bool().ok_or_else(|| format!("reading the merge queue state: no `{k}`"));
    Ok(QueueState { queued: flag("isInMergeQueue")?, merged: flag("merged")? })
}

/// Whether the rules that apply to a branch (`GET /repos/{owner}/{repo}/rules/branches/{branch}`,
/// an array of rules with a `type`) require a merge queue.
pub fn requires_queue(rules: &Value) -> bool {
    rules.as_array().is_some_and(|a| a.iter().any(|r| r["type"].as_str() == Some("merge_queue")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enqueue_answers() {
        let cases = [
            (
                json!({"data": {"enqueuePullRequest": {"mergeQueueEntry": {"id": "MQE_1", "state": "AWAITING_CHECKS"}}}}),
                Enqueued::Entry("MQE_1".into()),
            ),
            (
                json!({"data": {"enqueuePullRequest": null}, "errors": [{"type": "UNPROCESSABLE", "message": "Pull request is already queued"}]}),
                Enqueued::Refused { kind: "UNPROCESSABLE".into(), message: "Pull request is already queued".into() },
            ),
            (
                json!({"errors": [{"message": "Resource not accessible by integration", "type": "FORBIDDEN"}]}),
                Enqueued::Refused {
                    kind: "FORBIDDEN".into(),
                    message: "Resource not accessible by integration".into(),
                },
            ),
            (
                json!({"data": {"enqueuePullRequest": {"mergeQueueEntry": null}}}),
                Enqueued::Refused { kind: String::new(), message: "the answer names no merge queue entry".into() },
            ),
        ];
        for (answer, want) in cases {
            assert_eq!(parse_enqueue(&answer), want, "{answer}");
        }
    }

    #[test]
    fn queue_state_answers() {
        let node =
            |q: bool, m: bool| json!({"data": {"node": {"isInMergeQueue": q, "merged": m, "mergeQueueEntry": null}}});
        assert_eq!(parse_queue_state(&node(true, false)), Ok(QueueState { queued: true, merged: false }));
        assert_eq!(parse_queue_state(&node(false, true)), Ok(QueueState { queued: false, merged: true }));
        let missing = json!({"data": {"node": null}, "errors": [{"type": "NOT_FOUND", "message": "Could not resolve to a node with the global id of 'x'"}]});
        assert_eq!(
            parse_queue_state(&missing),
            Err("reading the merge queue state: Could not resolve to a node with the global id of 'x'".into())
        );
        assert_eq!(
            parse_queue_state(&json!({"data": {"node": {"merged": false}}})),
            Err("reading the merge queue state: no `isInMergeQueue`".into())
        );
    }

    #[test]
    fn rules_that_require_a_queue() {
        let rule = |t: &str| json!({"type": t, "ruleset_source_type": "Repository", "ruleset_id": 1});
        assert!(requires_queue(&json!([rule("deletion"), rule("merge_queue")])));
        assert!(!requires_queue(&json!([rule("pull_request"), rule("required_status_checks")])));
        assert!(!requires_queue(&json!([])));
        assert!(!requires_queue(&json!({"message": "Not Found"})));
    }

    #[test]
    fn bodies_carry_the_variables() {
        let b = enqueue_body("PR_kw", "abc");
        assert_eq!(b["variables"], json!({"pullRequestId": "PR_kw", "expectedHeadOid": "abc"}));
        assert!(b["query"].as_str().unwrap().starts_with("mutation($pullRequestId: ID!"));
        assert_eq!(queue_state_body("PR_kw")["variables"], json!({"id": "PR_kw"}));
    }
}
