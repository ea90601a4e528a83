//! Newtypes for the values that must never be mixed up: digests, tags, stage and artifact
//! names, repository names. Each one validates on construction, so a value
//! of these types is always safe to put in a file, a branch name, a title or a log line.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Why a value was refused. Messages are user-facing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidValue {
    #[error("invalid digest {0:?}: expected sha256: followed by 64 lowercase hex characters")]
    Digest(String),
    #[error("invalid tag {0:?}: expected [A-Za-z0-9_][A-Za-z0-9._-]{{0,127}}")]
    Tag(String),
    #[error("invalid name {0:?}: expected lowercase letters, digits and '-', '_' or '.', at most 63 characters, starting with a letter or digit")]
    Name(String),
    #[error("invalid repository {0:?}: expected owner/name")]
    Repo(String),
}

/// At most `max` characters of untrusted text, for messages and logs.
pub fn shorten_to(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut out: String = s.chars().take(max).collect();
        out.push('…');
        out
    }
}

fn shorten(s: &str) -> String {
    shorten_to(s, 80)
}

macro_rules! string_newtype {
    ($name:ident) => {
        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }
        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
        impl TryFrom<&str> for $name {
            type Error = InvalidValue;
            fn try_from(s: &str) -> Result<Self, InvalidValue> {
                s.parse()
            }
        }
    };
}

/// A content digest, always `sha256:<64 lowercase hex>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest(String);
string_newtype!(Digest);

impl FromStr for Digest {
    type Err = InvalidValue;
    fn from_str(s: &str) -> Result<Self, InvalidValue> {
        let ok = s
            .strip_prefix("sha256:")
            .is_some_and(|h| h.len() == 64 && h.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')));
        if ok {
            Ok(Digest(s.to_string()))
        } else {
            Err(InvalidValue::Digest(shorten(s)))
        }
    }
}

impl Digest {
    /// The sha256 digest of some bytes.
    pub fn of(bytes: &[u8]) -> Digest {
        use sha2::Digest as _;
        Digest(format!("sha256:{}", hex::encode(sha2::Sha256::digest(bytes))))
    }
    /// The hex part.
    pub fn hex(&self) -> &str {
        &self.0["sha256:".len()..]
    }
    /// `sha256:0123456789ab`, for tables meant for humans.
    pub fn short(&self) -> &str {
        &self.0[..("sha256:".len() + 12)]
    }
}

/// An OCI tag: `[A-Za-z0-9_][A-Za-z0-9._-]{0,127}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Tag(String);
string_newtype!(Tag);

impl FromStr for Tag {
    type Err = InvalidValue;
    fn from_str(s: &str) -> Result<Self, InvalidValue> {
        let b = s.as_bytes();
        let ok = !b.is_empty()
            && b.len() <= 128
            && (b[0].is_ascii_alphanumeric() || b[0] == b'_')
            && b[1..].iter().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-'));
        if ok {
            Ok(Tag(s.to_string()))
        } else {
            Err(InvalidValue::Tag(shorten(s)))
        }
    }
}

impl Tag {
    /// The tag as a semantic version (a leading `v` is allowed), if it is one.
    pub fn semver(&self) -> Option<semver::Version> {
        let s = self.0.strip_prefix('v').unwrap_or(&self.0);
        semver::Version::parse(s).ok()
    }

    /// Orders two tags for "newest = highest semver". Tags that are not
    /// semantic versions cannot be ordered: `None`.
    pub fn compare(&self, other: &Tag) -> Option<Ordering> {
        Some(self.semver()?.cmp(&other.semver()?))
    }
}

fn valid_name(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b[0].is_ascii_alphanumeric()
        && b.iter().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, b'-' | b'_' | b'.'))
        && !s.contains("..")
}

/// The name of a stage (`dev`, `prod-eu`). Used in branch names and labels.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StageName(String);
string_newtype!(StageName);

impl FromStr for StageName {
    type Err = InvalidValue;
    fn from_str(s: &str) -> Result<Self, InvalidValue> {
        if valid_name(s) {
            Ok(StageName(s.to_string()))
        } else {
            Err(InvalidValue::Name(shorten(s)))
        }
    }
}

/// The name of an artifact in `.baton.yaml` (`myapp`). Used in branch names.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ArtifactName(String);
string_newtype!(ArtifactName);

impl FromStr for ArtifactName {
    type Err = InvalidValue;
    fn from_str(s: &str) -> Result<Self, InvalidValue> {
        if valid_name(s) {
            Ok(ArtifactName(s.to_string()))
        } else {
            Err(InvalidValue::Name(shorten(s)))
        }
    }
}

/// A GitHub repository, `owner/name`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RepoName(String);
string_newtype!(RepoName);

impl FromStr for RepoName {
    type Err = InvalidValue;
    fn from_str(s: &str) -> Result<Self, InvalidValue> {
        let part_ok = |p: &str| {
            !p.is_empty()
                && p.len() <= 100
                && p != "."
                && p != ".."
                && p.bytes().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
        };
        match s.split_once('/') {
            Some((o, n)) if part_ok(o) && part_ok(n) => Ok(RepoName(s.to_string())),
            _ => Err(InvalidValue::Repo(shorten(s))),
        }
    }
}

impl RepoName {
    pub fn owner(&self) -> &str {
        self.0.split_once('/').map(|(o, _)| o).unwrap_or_default()
    }
    pub fn name(&self) -> &str {
        self.0.split_once('/').map(|(_, n)| n).unwrap_or_default()
    }
}

/// A version of an artifact: a tag always carried with the digest it resolved to.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Version {
    pub tag: Tag,
    pub digest: Digest,
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.tag, self.digest)
    }
}

/// An OCI repository reference without tag: `registry.internal:5000/deployments/myapp`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ImageName {
    /// Registry host with optional port (`registry.internal:5000`).
    pub host: String,
    /// Repository path inside the registry (`deployments/myapp`).
    pub path: String,
}

impl fmt::Display for ImageName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.host, self.path)
    }
}

impl FromStr for ImageName {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (host, path) = s
            .split_once('/')
            .ok_or_else(|| format!("image {s:?} must start with a registry host, e.g. registry.example.com/app"))?;
        let host_ok = (host.contains('.') || host.contains(':') || host == "localhost")
            && host.bytes().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'-' | b':' | b'[' | b']'));
        if !host_ok {
            return Err(format!(
                "image {s:?} must start with a registry host (a name with a dot or a port, or localhost)"
            ));
        }
        let path_ok = !path.is_empty()
            && path.split('/').all(|seg| {
                !seg.is_empty()
                    && seg
                        .bytes()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, b'.' | b'_' | b'-'))
            });
        if !path_ok {
            return Err(format!(
                "image {s:?}: repository path must be lowercase segments separated by '/', with no tag or digest"
            ));
        }
        Ok(ImageName { host: host.to_string(), path: path.to_string() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests() {
        let d = format!("sha256:{}", "a".repeat(64));
        assert!(d.parse::<Digest>().is_ok());
        assert!("sha256:abc".parse::<Digest>().is_err());
        assert!(format!("sha256:{}", "A".repeat(64)).parse::<Digest>().is_err());
        assert!(format!("sha512:{}", "a".repeat(64)).parse::<Digest>().is_err());
        assert_eq!(Digest::of(b"").hex().len(), 64);
    }

    #[test]
    fn tags() {
        for ok in ["0.5.1", "v1.2.3", "_x", "latest", &"a".repeat(128)] {
            assert!(ok.parse::<Tag>().is_ok(), "{ok}");
        }
        for bad in ["", ".x", "-x", "a/b", "a b", "a\nb", &"a".repeat(129), "1.0@sha256"] {
            assert!(bad.parse::<Tag>().is_err(), "{bad}");
        }
        let a: Tag = "0.5.10".parse().unwrap();
        let b: Tag = "0.5.9".parse().unwrap();
        assert_eq!(a.compare(&b), Some(Ordering::Greater));
        let c: Tag = "latest".parse().unwrap();
        assert_eq!(a.compare(&c), None);
    }

    #[test]
    fn names() {
        assert!("prod-eu".parse::<StageName>().is_ok());
        assert!("Prod".parse::<StageName>().is_err());
        assert!("a/b".parse::<StageName>().is_err());
        assert!("../x".parse::<StageName>().is_err());
        assert!("org/deploy".parse::<RepoName>().is_ok());
        assert!("org/deploy/x".parse::<RepoName>().is_err());
        assert!("org/..".parse::<RepoName>().is_err());
        let i: ImageName = "127.0.0.1:5000/deployments/myapp".parse().unwrap();
        assert_eq!(i.host, "127.0.0.1:5000");
        assert_eq!(i.path, "deployments/myapp");
        assert!("myapp".parse::<ImageName>().is_err());
        assert!("reg.io/app:1.0".parse::<ImageName>().is_err());
    }
}

/// The name of a release unit in `.baton.yaml` (`groups: { platform: … }`). Used in branch names
/// beside artifact names, so the validator keeps the two apart.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GroupName(String);
string_newtype!(GroupName);

impl FromStr for GroupName {
    type Err = InvalidValue;
    fn from_str(s: &str) -> Result<Self, InvalidValue> {
        if valid_name(s) {
            Ok(GroupName(s.to_string()))
        } else {
            Err(InvalidValue::Name(shorten(s)))
        }
    }
}
