//! Reading the files of an artifact layer: a tar archive, gzip-compressed or not (a Flux
//! artifact's single layer is `application/vnd.cncf.flux.content.v1.tar+gzip`, written by
//! fluxcd/pkg `oci` with paths relative to the pushed directory, including a `.` entry).
//!
//! Bounded and safe: the uncompressed bytes and the number of entries are capped, a path that
//! leaves the archive (absolute, `..`) rejects the whole archive, and links are never followed
//! (they are skipped: nothing is written to disk, so they could only point at other entries).

use std::cell::Cell;
use std::collections::BTreeMap;
use std::io::Read;
use std::rc::Rc;

use super::Limits;
use crate::types::Digest;

/// The content of one file of an artifact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileBody {
    Text(String),
    /// Not UTF-8: compared by digest only.
    Binary {
        digest: Digest,
        size: u64,
    },
}

/// The files of an artifact by path (relative, `/`-separated, no `./` prefix).
pub type Files = BTreeMap<String, FileBody>;

/// Why an archive was not read. Each message is one line for the PR body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ArchiveError {
    #[error("its content is larger than {} uncompressed", super::fetch::human(*.0))]
    TooLarge(u64),
    #[error("it has more than {0} entries")]
    TooManyEntries(usize),
    #[error("it has an entry outside the archive ({0})")]
    PathOutside(String),
    #[error("it has an entry whose name is not UTF-8")]
    NonUtf8Path,
    #[error("it is not a readable tar archive: {0}")]
    Malformed(String),
}

/// Counts the bytes read through it and refuses to go past the cap.
struct Capped<R> {
    inner: R,
    left: u64,
    exceeded: Rc<Cell<bool>>,
}

impl<R: Read> Read for Capped<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.left == 0 {
            let mut probe = [0u8; 1];
            if self.inner.read(&mut probe)? == 0 {
                return Ok(0);
            }
            self.exceeded.set(true);
            return Err(std::io::Error::other("size cap exceeded"));
        }
        let max = buf.len().min(usize::try_from(self.left).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..max])?;
        self.left -= n as u64;
        Ok(n)
    }
}

/// Is this gzip (by its magic bytes, whatever the media type says)?
pub fn is_gzip(bytes: &[u8]) -> bool {
    bytes.starts_with(&[0x1f, 0x8b])
}

/// A tar path made relative and checked: `None` for the archive root (`.`, `./`).
fn clean_path(raw: &str) -> Result<Option<String>, ArchiveError> {
    if raw.starts_with('/') || raw.starts_with('\\') || raw.contains('\0') {
        return Err(ArchiveError::PathOutside(shown(raw)));
    }
    let mut parts = Vec::new();
    for part in raw.split('/') {
        match part {
            "" | "." => {}
            ".." => return Err(ArchiveError::PathOutside(shown(raw))),
            p if p.contains('\\') || (p.len() >= 2 && p.as_bytes()[1] == b':') => {
                // Windows separators or drive letters: refuse rather than guess.
                return Err(ArchiveError::PathOutside(shown(raw)));
            }
            p => parts.push(p),
        }
    }
    Ok((!parts.is_empty()).then(|| parts.join("/")))
}

/// At most 80 characters of an entry name, without control characters.
fn shown(raw: &str) -> String {
    let s: String = raw.chars().map(|c| if c.is_control() { '?' } else { c }).collect();
    crate::types::shorten_to(&s, 80)
}

/// Reads the regular files of a tar archive (gzip-compressed when its bytes say so).
pub fn read(bytes: &[u8], limits: &Limits) -> Result<Files, ArchiveError> {
    let exceeded = Rc::new(Cell::new(false));
    let result = if is_gzip(bytes) {
        let decoder = flate2::read::GzDecoder::new(bytes);
        entries(Capped { inner: decoder, left: limits.max_uncompressed, exceeded: exceeded.clone() }, limits)
    } else {
        entries(Capped { inner: bytes, left: limits.max_uncompressed, exceeded: exceeded.clone() }, limits)
    };
    if exceeded.get() {
        return Err(ArchiveError::TooLarge(limits.max_uncompressed));
    }
    result
}

fn entries<R: Read>(reader: R, limits: &Limits) -> Result<Files, ArchiveError> {
    let malformed = |e: std::io::Error| ArchiveError::Malformed(crate::types::shorten_to(&e.to_string(), 120));
    let mut archive = tar::Archive::new(reader);
    let mut files = Files::new();
    let mut count = 0usize;
    for entry in archive.entries().map_err(malformed)? {
        let mut entry = entry.map_err(malformed)?;
        count += 1;
        if count > limits.max_entries {
            return Err(ArchiveError::TooManyEntries(limits.max_entries));
        }
        let raw = std::str::from_utf8(&entry.path_bytes()).map_err(|_| ArchiveError::NonUtf8Path)?.to_string();
        let path = clean_path(&raw)?;
        let kind = entry.header().entry_type();
        if !(kind.is_file() || kind == tar::EntryType::Continuous) {
            // Directories, symlinks and hard links (never followed), devices, FIFOs.
            continue;
        }
        let Some(path) = path else { continue };
        let mut data = Vec::with_capacity(usize::try_from(entry.size().min(1 << 20)).unwrap_or(0));
        entry.read_to_end(&mut data).map_err(malformed)?;
        let body = match String::from_utf8(data) {
            Ok(text) => FileBody::Text(text),
            Err(e) => {
                let data = e.into_bytes();
                FileBody::Binary { digest: Digest::of(&data), size: data.len() as u64 }
            }
        };
        files.insert(path, body);
    }
    Ok(files)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A tar archive of (path, content) regular files, gzip-compressed when asked, written the
    /// way fluxcd/pkg `oci` Build does (a `.` directory entry first, zeroed owners and times).
    pub(crate) fn tar_of(files: &[(&str, &str)], gzip: bool) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        let mut dir = tar::Header::new_gnu();
        dir.set_entry_type(tar::EntryType::Directory);
        dir.set_mode(0o755);
        dir.set_size(0);
        builder.append_data(&mut dir, ".", std::io::empty()).unwrap();
        for (path, content) in files {
            let mut h = tar::Header::new_gnu();
            h.set_size(content.len() as u64);
            h.set_mode(0o644);
            builder.append_data(&mut h, path, content.as_bytes()).unwrap();
        }
        let tar = builder.into_inner().unwrap();
        if gzip {
            gz(&tar)
        } else {
            tar
        }
    }

    pub(crate) fn gz(data: &[u8]) -> Vec<u8> {
        use std::io::Write as _;
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(data).unwrap();
        enc.finish().unwrap()
    }

    /// A raw ustar header with any name (the tar crate's builder refuses `..`).
    fn raw_entry(name: &str, kind: u8, content: &[u8], link: &str) -> Vec<u8> {
        let mut h = [0u8; 512];
        h[..name.len()].copy_from_slice(name.as_bytes());
        h[100..107].copy_from_slice(b"0000644");
        h[108..115].copy_from_slice(b"0000000");
        h[116..123].copy_from_slice(b"0000000");
        h[124..135].copy_from_slice(format!("{:011o}", content.len()).as_bytes());
        h[136..147].copy_from_slice(b"00000000000");
        h[156] = kind;
        h[157..157 + link.len()].copy_from_slice(link.as_bytes());
        h[257..263].copy_from_slice(b"ustar\0");
        h[263..265].copy_from_slice(b"00");
        h[148..156].copy_from_slice(b"        ");
        let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
        h[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
        let mut out = h.to_vec();
        out.extend_from_slice(content);
        out.resize(out.len().div_ceil(512) * 512, 0);
        out
    }

    pub(crate) fn raw_tar(entries: &[(&str, u8, &str, &str)]) -> Vec<u8> {
        let mut out = Vec::new();
        for (name, kind, content, link) in entries {
            out.extend(raw_entry(name, *kind, content.as_bytes(), link));
        }
        out.extend([0u8; 1024]);
        out
    }

    fn limits() -> Limits {
        Limits::default()
    }

    #[test]
    fn reads_flux_style_archives() {
        for gzip in [true, false] {
            let files =
                read(&tar_of(&[("deploy.yaml", "a: 1\n"), ("sub/svc.yaml", "b: 2\n")], gzip), &limits()).unwrap();
            assert_eq!(files.keys().collect::<Vec<_>>(), ["deploy.yaml", "sub/svc.yaml"]);
            assert_eq!(files["deploy.yaml"], FileBody::Text("a: 1\n".into()));
        }
    }

    #[test]
    fn binary_files_by_digest() {
        let mut builder = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_size(3);
        builder.append_data(&mut h, "logo.png", &[0xff, 0xfe, 0x00][..]).unwrap();
        let files = read(&builder.into_inner().unwrap(), &limits()).unwrap();
        assert_eq!(files["logo.png"], FileBody::Binary { digest: Digest::of(&[0xff, 0xfe, 0]), size: 3 });
    }

    #[test]
    fn paths() {
        let table: &[(&str, Result<Option<&str>, ()>)] = &[
            ("a.yaml", Ok(Some("a.yaml"))),
            ("./a.yaml", Ok(Some("a.yaml"))),
            ("dir//b.yaml", Ok(Some("dir/b.yaml"))),
            (".", Ok(None)),
            ("./", Ok(None)),
            ("../etc/passwd", Err(())),
            ("a/../../b", Err(())),
            ("/etc/passwd", Err(())),
            ("a\\..\\b", Err(())),
            ("C:/x", Err(())),
        ];
        for (raw, want) in table {
            let got = clean_path(raw).map_err(|_| ());
            assert_eq!(got, want.map(|o| o.map(str::to_string)), "{raw}");
        }
    }

    #[test]
    fn refusals() {
        let small = Limits { max_uncompressed: 4096, max_entries: 3, ..Limits::default() };
        let big = "x".repeat(10_000);
        let cases: Vec<(&str, Vec<u8>, ArchiveError)> = vec![
            ("bomb", gz(&tar_of(&[("big.yaml", &big)], false)), ArchiveError::TooLarge(4096)),
            ("many entries", tar_of(&[("a", "1"), ("b", "2"), ("c", "3")], true), ArchiveError::TooManyEntries(3)),
            (
                "traversal",
                raw_tar(&[("../../etc/cron.d/x", b'0', "boom", "")]),
                ArchiveError::PathOutside("../../etc/cron.d/x".into()),
            ),
            ("absolute", raw_tar(&[("/etc/x", b'0', "boom", "")]), ArchiveError::PathOutside("/etc/x".into())),
        ];
        for (name, bytes, want) in cases {
            assert_eq!(read(&bytes, &small).unwrap_err(), want, "{name}");
        }
        assert!(read(b"not a tar at all, just some text that is long enough", &small).is_err());
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]
        /// Arbitrary bytes, and valid archives with bytes flipped, never panic: they read or
        /// give a reason.
        #[test]
        fn never_panics(noise in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..2048),
                        flips in proptest::collection::vec((0usize..4096, proptest::prelude::any::<u8>()), 0..8)) {
            let limits = Limits { max_uncompressed: 64 * 1024, max_entries: 50, ..Limits::default() };
            let _ = read(&noise, &limits);
            for gzip in [true, false] {
                let mut bytes = tar_of(&[("a.yaml", "kind: ConfigMap\n"), ("b/c.yaml", "x: [1, 2]\n")], gzip);
                for (at, b) in &flips {
                    let n = bytes.len();
                    bytes[at % n] ^= b;
                }
                let _ = read(&bytes, &limits);
            }
        }
    }

    #[test]
    fn links_are_skipped_never_followed() {
        let bytes = raw_tar(&[
            ("real.yaml", b'0', "a: 1\n", ""),
            ("passwd", b'2', "", "/etc/passwd"),
            ("hard", b'1', "", "real.yaml"),
        ]);
        let files = read(&bytes, &limits()).unwrap();
        assert_eq!(files.keys().collect::<Vec<_>>(), ["real.yaml"]);
    }
}
