//! Receipts that cannot drop a command (issue #12): a command is handled when its *outcome*
//! exists — baton's reply carrying a hidden key derived from the command comment's id — not when
//! the 👀 reaction exists (a reaction whose answer was lost looks "already there" on the retry).
//!
//! Pure: the key, whether a list of comments holds the answer to a command, and which recent
//! comments are commands nobody answered (what `reconcile` replays).

use crate::commands::{self, Parsed};
use crate::github::RepoComment;
use crate::types::StageName;

/// The hidden key baton puts in its reply to comment `comment_id`.
pub fn reply_key(comment_id: u64) -> String {
    format!("<!-- baton:reply:{comment_id} -->")
}

/// A reply body with its key.
pub fn keyed(body: &str, comment_id: u64) -> String {
    format!("{}\n\n{}", body.trim_end(), reply_key(comment_id))
}

/// Whether `comments` (author, body) hold baton's answer to `comment_id`.
pub fn answered<'a>(comment_id: u64, comments: impl IntoIterator<Item = (&'a str, &'a str)>) -> bool {
    let key = reply_key(comment_id);
    comments.into_iter().any(|(author, body)| author.ends_with("[bot]") && body.contains(&key))
}

/// Several comments (or issues) carrying one hidden key: the oldest (lowest id or number) is
/// the record, the others are twins to remove (comments are deleted, issues closed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Twins {
    pub keep: u64,
    pub others: Vec<u64>,
}

/// Two replicas answering one command at once both post a reply with the same hidden key (so
/// may a repeat whose re-read had not seen the first yet). Each writer, after posting, lists the
/// issue's comments and calls this with its own comment (`created`, which a lagging listing may
/// not show yet) and every comment `ours` wrote: the lowest id carrying `key` is kept and the
/// rest are deleted. Every replica computes the same answer, so they agree without talking.
pub fn twins<'a>(
    key: &str,
    created: u64,
    comments: impl IntoIterator<Item = (u64, &'a str, &'a str)>,
    ours: impl Fn(&str) -> bool,
) -> Twins {
    let mut ids: Vec<u64> = comments
        .into_iter()
        .filter(|(_, author, body)| ours(author) && body.contains(key))
        .map(|(id, _, _)| id)
        .chain([created])
        .collect();
    ids.sort_unstable();
    ids.dedup();
    let keep = ids[0];
    Twins { keep, others: ids.into_iter().skip(1).collect() }
}

/// Recent comments that are commands (or malformed commands, which get an error reply) written
/// by people, created at or after `since` (RFC 3339, compared as instants), and not answered by
/// any comment in `recent`. `recent` is the repository-wide listing, which holds the answers too
/// (they are newer than the command).
pub fn unanswered<'a>(recent: &'a [RepoComment], stages: &[StageName], since: &str) -> Vec<&'a RepoComment> {
    let Ok(since) = chrono::DateTime::parse_from_rfc3339(since) else {
        return vec![];
    };
    recent
        .iter()
        .filter(|c| !c.author.ends_with("[bot]"))
        .filter(|c| {
            c.created_at
                .as_deref()
                .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
                .is_some_and(|t| t >= since)
        })
        .filter(|c| !matches!(commands::parse(&c.body, stages), Parsed::NoCommand))
        .filter(|c| !answered(c.id, recent.iter().map(|r| (r.author.as_str(), r.body.as_str()))))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(id: u64, author: &str, body: &str, at: &str) -> RepoComment {
        RepoComment { id, issue_number: 1, body: body.into(), author: author.into(), created_at: Some(at.into()) }
    }

    #[test]
    fn keys_and_answers() {
        assert_eq!(reply_key(42), "<!-- baton:reply:42 -->");
        assert_eq!(keyed("Done.\n", 42), "Done.\n\n<!-- baton:reply:42 -->");
        let rows: &[(&[(&str, &str)], bool)] = &[
            (&[], false),
            (&[("baton[bot]", "Done.\n\n<!-- baton:reply:42 -->")], true),
            (&[("baton[bot]", "Done.\n\n<!-- baton:reply:421 -->")], false),
            (&[("mallory", "<!-- baton:reply:42 -->")], false),
            (&[("alice", "/promote prod"), ("baton[bot]", "x <!-- baton:reply:42 --> y")], true),
        ];
        for (comments, want) in rows {
            assert_eq!(answered(42, comments.iter().copied()), *want, "{comments:?}");
        }
    }

    /// (id, author, body) as the listing gives them.
    type Listed<'a> = (u64, &'a str, &'a str);

    #[test]
    fn twins_keep_the_oldest() {
        let ours = |a: &str| a == "baton[bot]";
        let key = "<!-- baton:reply:7 -->";
        let body = "Done.\n\n<!-- baton:reply:7 -->";
        #[rustfmt::skip]
        let rows: &[(u64, &[Listed], u64, &[u64])] = &[
            // alone (the listing does not show it yet, or does)
            (20, &[], 20, &[]),
            (20, &[(20, "baton[bot]", body)], 20, &[]),
            // a twin posted first by the other replica: ours goes
            (21, &[(20, "baton[bot]", body), (21, "baton[bot]", body)], 20, &[21]),
            (21, &[(20, "baton[bot]", body)], 20, &[21]),
            // ours is the oldest: the other replica's goes (whichever replica deletes it first)
            (20, &[(20, "baton[bot]", body), (21, "baton[bot]", body), (22, "baton[bot]", body)], 20, &[21, 22]),
            // not twins: another key, another author, the command itself
            (21, &[(19, "alice", body), (20, "baton[bot]", "Done.\n\n<!-- baton:reply:71 -->")], 21, &[]),
        ];
        for (created, comments, keep, delete) in rows {
            let got = twins(key, *created, comments.iter().copied(), ours);
            assert_eq!(got, Twins { keep: *keep, others: delete.to_vec() }, "created {created}, {comments:?}");
        }
    }

    #[test]
    fn unanswered_commands_in_the_window() {
        let stages: Vec<StageName> = vec!["dev".parse().unwrap(), "prod".parse().unwrap()];
        let recent = vec![
            c(1, "alice", "/promote prod", "2026-12-02T04:00:00Z"), // before the window
            c(2, "carol", "/promote prod", "2026-12-02T05:10:00Z"), // answered below
            c(3, "baton[bot]", "Done.\n\n<!-- baton:reply:2 -->", "2026-12-02T05:10:05Z"),
            c(4, "bob", "looks good to me", "2026-12-02T05:11:00Z"), // no command
            c(5, "dave", "/status", "2026-12-02T05:12:00Z"),         // unanswered
            c(6, "erin", "/promote nowhere", "2026-12-02T05:13:00Z"), // malformed: gets an error reply
            c(7, "renovate[bot]", "/promote prod", "2026-12-02T05:14:00Z"), // bots are ignored
            c(8, "frank", "/help", "2026-12-02T05:15:00Z"),
            c(9, "baton[bot]", "Help.\n\n<!-- baton:reply:8 -->", "2026-12-02T05:15:01Z"),
        ];
        let ids: Vec<u64> = unanswered(&recent, &stages, "2026-12-02T05:00:00+00:00").iter().map(|c| c.id).collect();
        assert_eq!(ids, vec![5, 6]);
        assert!(unanswered(&recent, &stages, "not a time").is_empty());
    }
}
