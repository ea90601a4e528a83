//! Fault injection: what github.com does to a client on a bad day, per method + path.
//!
//! ```ignore
//! // The next POST that creates a check run is applied, but its answer is a 502.
//! gh.inject(Fault::on("POST", "/repos/*/*/check-runs").mode(FaultMode::ApplyThenStatus(502)));
//! // The next merge is applied, then the connection is dropped without an answer.
//! gh.inject(Fault::on("PUT", "/repos/org/deploy/pulls/*/merge").mode(FaultMode::ApplyThenReset));
//! ```
//!
//! A rule fires `times` times (default once), for the first matching requests in arrival order;
//! rules are tried in the order they were injected.

use std::time::Duration;

use super::RateLimit;

/// Which paths a rule matches. A string with a `*` segment is a pattern (`*` = one segment,
/// a trailing `**` = any rest); otherwise it is a prefix, as `fail_next` always used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathMatch {
    Prefix(String),
    Pattern(Vec<String>),
}

impl PathMatch {
    pub fn parse(s: &str) -> PathMatch {
        if s.split('/').any(|seg| seg == "*" || seg == "**") {
            PathMatch::Pattern(s.trim_start_matches('/').split('/').map(str::to_string).collect())
        } else {
            PathMatch::Prefix(s.to_string())
        }
    }

    pub fn matches(&self, path: &str) -> bool {
        match self {
            PathMatch::Prefix(p) => path.starts_with(p.as_str()),
            PathMatch::Pattern(pat) => {
                let segs: Vec<&str> = path.trim_start_matches('/').trim_end_matches('/').split('/').collect();
                let mut i = 0;
                for (n, p) in pat.iter().enumerate() {
                    if p == "**" && n == pat.len() - 1 {
                        return true;
                    }
                    match segs.get(i) {
                        Some(s) if p == "*" || p == s => i += 1,
                        _ => return false,
                    }
                }
                i == segs.len()
            }
        }
    }
}

/// What happens to a matching request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultMode {
    /// Answer this status (e.g. 502) without applying the request.
    Reject(u16),
    /// Apply the request, then answer this status instead of its real answer (the write
    /// happened, the client does not know).
    ApplyThenStatus(u16),
    /// Apply the request, then drop the connection without any answer.
    ApplyThenReset,
    /// Drop the connection without applying the request.
    ResetBefore,
    /// A rate-limited answer (primary: 403 + `x-ratelimit-remaining: 0`; secondary: 429 +
    /// `retry-after`), not applied.
    RateLimited(RateLimit),
    /// Wait this long, then handle the request normally.
    Delay(Duration),
    /// Apply the request, then hold the answer (the client waits) until the client goes away —
    /// for a test to kill baton right after GitHub applied a write. Released after 120 s with a
    /// dropped connection.
    ApplyThenHold,
}

impl FaultMode {
    /// Whether the request is applied before the fault shapes the answer.
    pub fn applies(self) -> bool {
        matches!(
            self,
            FaultMode::ApplyThenStatus(_) | FaultMode::ApplyThenReset | FaultMode::Delay(_) | FaultMode::ApplyThenHold
        )
    }
}

/// One injection rule.
#[derive(Debug, Clone)]
pub struct Fault {
    pub method: String,
    pub path: PathMatch,
    pub mode: FaultMode,
    pub remaining: usize,
    /// Only requests whose body contains this text (e.g. one GraphQL mutation among queries).
    pub body_contains: Option<String>,
}

impl Fault {
    /// A rule for `method` on `path` (prefix or pattern); by default answers 502 once.
    pub fn on(method: &str, path: &str) -> Fault {
        Fault {
            method: method.to_ascii_uppercase(),
            path: PathMatch::parse(path),
            mode: FaultMode::Reject(502),
            remaining: 1,
            body_contains: None,
        }
    }

    /// Only for requests whose body contains `text`.
    pub fn body_contains(mut self, text: &str) -> Fault {
        self.body_contains = Some(text.to_string());
        self
    }

    pub fn mode(mut self, mode: FaultMode) -> Fault {
        self.mode = mode;
        self
    }

    pub fn times(mut self, n: usize) -> Fault {
        self.remaining = n;
        self
    }

    pub fn matches(&self, method: &str, path: &str, body: &str) -> bool {
        self.remaining > 0
            && self.method == method
            && self.path.matches(path)
            && self.body_contains.as_deref().is_none_or(|t| body.contains(t))
    }
}

/// Takes one firing of the first rule matching the request, if any.
pub fn take(faults: &mut Vec<Fault>, method: &str, path: &str, body: &str) -> Option<FaultMode> {
    let f = faults.iter_mut().find(|f| f.matches(method, path, body))?;
    f.remaining -= 1;
    let mode = f.mode;
    faults.retain(|f| f.remaining > 0);
    Some(mode)
}
