//! Pointer editing: reading and rewriting the tag/digest scalars of a pointer in a
//! YAML file, format-preserving (comments, key order, quoting, indentation stay), for the four
//! formats. Pure functions over text: no I/O here.
//!
//! INTERFACE (shared with pipeline.rs, the engine and the CLI): [`get`], [`set`] and the types
//! below. The implementation lives in the submodules.
//!
//! # How edits are made (and why)
//!
//! baton never re-serializes a YAML document. Round-tripping through a YAML library loses
//! comments, quoting, indentation or key order, and "format-preserving" YAML crates (e.g.
//! `yaml-edit`, a lossless CST) are young, their APIs shift between releases, and their
//! behaviour on the odd corners of real files (CRLF, `# ---` comments, block scalars holding
//! YAML text, null values followed by comments) is hard to audit. Instead:
//!
//! 1. **Locate** ([`tree`]): the text is parsed with `saphyr-parser` (a YAML 1.2 event parser
//!    that reports a span for every event) into a small tree where each node knows its byte
//!    range and column. saphyr's markers count *characters*; they are converted to byte
//!    offsets once. The format's selector (flux `metadata.name`, helm dotted field, kustomize
//!    `images[].name`, yaml-path) picks exactly one node or fails with `NotFound`/`Ambiguous`.
//! 2. **Splice** ([`edit`]): the new value replaces exactly the source span of the old
//!    scalar, in the old scalar's quoting style (plain values that YAML would re-type, such
//!    as `1.10`, `true` or `2024-01-01`, are double-quoted). A missing `digest` is inserted as
//!    a new line right after the tag's line with the tag key's indentation and the line's own
//!    ending (CRLF stays CRLF); in a flow mapping it becomes `, digest: "…"`. A missing tag
//!    goes right before the digest. A flux `ref.semver` with no tag is replaced by `tag` (a
//!    digest pin overrides it anyway, and leaving it would mislead readers). Block scalars,
//!    tagged/anchored targets and anything reached through or shared by an alias are refused.
//! 3. **Verify** ([`verify`]): the original and the result are parsed by an independent parser
//!    (`serde_yaml_ng`, libyaml based); the result must equal the original with exactly the
//!    intended changes applied, and must parse again with saphyr. Otherwise `Unsafe`, and
//!    nothing is returned to write.
//!
//! A UTF-8 byte-order mark is kept as is. Tags and digests arrive as validated [`Tag`] and
//! [`Digest`] values, so no injection can reach the text; yaml-path templates are rendered and
//! refused if the result contains a control character or line break.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::types::{Digest, Tag};

/// Where in a file the version lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    /// Flux `OCIRepository`: `spec.ref.tag` and `spec.ref.digest`.
    FluxOci,
    /// Helm values: `<field>.tag` and `<field>.digest` (`field` defaults to `image`).
    HelmValues,
    /// kustomize `images[]` entry whose `name` is the image: `newTag` and `digest`.
    KustomizeImage,
    /// One scalar at `field`, rendered from a template (default `{tag}@{digest}`).
    YamlPath,
}

impl Format {
    pub const ALL: [Format; 4] = [Format::FluxOci, Format::HelmValues, Format::KustomizeImage, Format::YamlPath];
    pub fn as_str(self) -> &'static str {
        match self {
            Format::FluxOci => "flux-oci",
            Format::HelmValues => "helm-values",
            Format::KustomizeImage => "kustomize-image",
            Format::YamlPath => "yaml-path",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Format::ALL.into_iter().find(|f| f.as_str() == s).ok_or_else(|| {
            format!("unknown pointer format {s:?}: expected one of flux-oci, helm-values, kustomize-image, yaml-path")
        })
    }
}

/// Selects one pointer inside a file.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Selector {
    /// helm-values: dotted path of the image mapping (default `image`);
    /// yaml-path: dotted path of the scalar (required).
    pub field: Option<String>,
    /// kustomize-image: the `images[].name` to edit (required for kustomize-image);
    /// yaml-path: the `{repository}` of the template.
    pub image: Option<String>,
    /// flux-oci: `metadata.name` of the OCIRepository when the file has several.
    pub name: Option<String>,
    /// yaml-path: template, default `{tag}@{digest}`; placeholders `{repository}`, `{tag}`, `{digest}`,
    /// `{revision}` (a tracked version's name, `main-1a2b3c4`).
    pub template: Option<String>,
}

/// What a pointer currently says. Either part may be absent (a mutable tag with no digest).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Current {
    pub tag: Option<String>,
    pub digest: Option<String>,
}

/// `tag@digest`, `tag`, `@digest`, or nothing.
impl fmt::Display for Current {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(t) = &self.tag {
            f.write_str(t)?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PointerError {
    /// The file is not YAML baton can read.
    #[error("{0}")]
    Parse(String),
    /// The selector does not find exactly one pointer.
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Ambiguous(String),
    /// The edit would change something other than the intended scalars, or the result does
    /// not parse: refused, nothing written.
    #[error("{0}")]
    Unsafe(String),
}
mod edit;
mod formats;
mod tree;
mod verify;

#[cfg(test)]
mod tests;

/// Splits off a UTF-8 byte-order mark.
fn split_bom(text: &str) -> (&str, &str) {
    match text.strip_prefix('\u{feff}') {
        Some(rest) => ("\u{feff}", rest),
        None => ("", text),
    }
}

/// Reads the pointer that `sel` selects in `text`.
pub fn get(text: &str, format: Format, sel: &Selector) -> Result<Current, PointerError> {
    let (_, body) = split_bom(text);
    let tree = tree::parse(body)?;
    formats::get(&tree, format, sel)
}

/// Returns `text` with the pointer that `sel` selects set to `tag` and `digest`, changing
/// nothing else (checked by re-parsing: otherwise [`PointerError::Unsafe`]).
pub fn set(text: &str, format: Format, sel: &Selector, tag: &Tag, digest: &Digest) -> Result<String, PointerError> {
    set_tracked(text, format, sel, tag, digest, None)
}

/// [`set`] for a version of a tracked channel tag (#13): `tag` is the channel tag (`main`), which
/// flux-oci, helm-values and kustomize-image write beside the digest; `revision` is the version's
/// name (`main-1a2b3c4`), which yaml-path templates render as `{revision}` (without one,
/// `{revision}` is the tag).
pub fn set_tracked(
    text: &str,
    format: Format,
    sel: &Selector,
    tag: &Tag,
    digest: &Digest,
    revision: Option<&str>,
) -> Result<String, PointerError> {
    let (bom, body) = split_bom(text);
    let tree = tree::parse(body)?;
    let mut ed = edit::Editor::new(body, &tree);
    formats::set(&mut ed, format, sel, tag, digest, revision)?;
    let (new, changes) = ed.finish()?;
    verify::verify(body, &new, &changes)?;
    Ok(format!("{bom}{new}"))
}
