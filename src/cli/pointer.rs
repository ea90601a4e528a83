//! `baton pointer get|set`.
//!
//! Exit codes: 0 success; 2 bad input (invalid tag or digest, unreadable file, YAML that does
//! not parse, a selector that finds nothing or several pointers, an edit refused as unsafe).
//! `set` writes atomically (a temporary file in the same directory, then a rename, keeping
//! the original's permissions) and only after the edit has been verified; on any error the
//! file is left byte-identical.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use super::{PointerArgs, PointerCommand};
use crate::types::{Digest, Tag};

use crate::pointer::Selector;

fn fail(msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("baton: {msg}");
    ExitCode::from(2)
}

fn selector(a: &PointerArgs) -> Selector {
    Selector { field: a.field.clone(), image: a.image.clone(), name: a.name.clone(), template: a.template.clone() }
}

fn read(path: &Path) -> Result<String, String> {
    let bytes = fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    String::from_utf8(bytes).map_err(|_| format!("{} is not UTF-8 text", path.display()))
}

pub fn run(cmd: PointerCommand) -> ExitCode {
    match cmd {
        PointerCommand::Get(a) => {
            let text = match read(&a.file) {
                Ok(t) => t,
                Err(e) => return fail(e),
            };
            match crate::pointer::get(&text, a.format, &selector(&a)) {
                Ok(cur) => {
                    if cur.tag.is_none() && cur.digest.is_none() {
                        eprintln!("baton: {}: the {} pointer has no tag and no digest", a.file.display(), a.format);
                    }
                    println!("{cur}");
                    ExitCode::SUCCESS
                }
                Err(e) => fail(format!("{}: {e}", a.file.display())),
            }
        }
        PointerCommand::Set { pointer: a, tag, digest } => {
            // Validate before touching anything.
            let tag: Tag = match tag.parse() {
                Ok(t) => t,
                Err(e) => return fail(e),
            };
            let digest: Digest = match digest.parse() {
                Ok(d) => d,
                Err(e) => return fail(e),
            };
            let text = match read(&a.file) {
                Ok(t) => t,
                Err(e) => return fail(e),
            };
            let new = match crate::pointer::set(&text, a.format, &selector(&a), &tag, &digest) {
                Ok(n) => n,
                Err(e) => return fail(format!("{}: {e}", a.file.display())),
            };
            if new == text {
                println!("{}: already at {tag}@{digest}", a.file.display());
                return ExitCode::SUCCESS;
            }
            match write_atomic(&a.file, new.as_bytes()) {
                Ok(()) => {
                    println!("{}: set to {tag}@{digest}", a.file.display());
                    ExitCode::SUCCESS
                }
                Err(e) => fail(format!("cannot write {}: {e}", a.file.display())),
            }
        }
    }
}

/// Writes `bytes` to `path` through a temporary file in the same directory and a rename, so
/// that readers see the old or the new content, never a mix. A symlink is followed (the link
/// stays, its target is replaced); the target's permissions are kept.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let target: PathBuf = fs::canonicalize(path)?;
    let perms = fs::metadata(&target)?.permissions();
    let dir = target.parent().ok_or_else(|| std::io::Error::other("file has no parent directory"))?;
    let name = target.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.baton-{}-{nanos}.tmp", std::process::id()));
    let result = (|| {
        let mut f = fs::OpenOptions::new().write(true).create_new(true).open(&tmp)?;
        f.write_all(bytes)?;
        f.set_permissions(perms)?;
        f.sync_all()?;
        drop(f);
        fs::rename(&tmp, &target)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}
