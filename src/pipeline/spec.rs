//! The shape of `.baton.yaml` as data: every mapping, its keys, which are required, their types,
//! the words of enumerations, the per-format pointer rules and a description of each.
//!
//! Two readers, one definition: the validator (`validate.rs`) takes the allowed and required keys
//! (so unknown keys and missing keys are judged by these tables), the names used in messages, the
//! enumeration words and the per-format rules from here; `schema.rs` renders the same tables as
//! the JSON Schema that `baton schema` prints. A key added here is known to both; a key missing
//! here is an unknown key for both.
//!
//! What a table cannot say stays in the validator: cross references (`from`, `artifact`),
//! cycles, duplicates, that regular expressions compile, that an issuer parses as a URL, the
//! 30-day limit of `soak`. The string kinds ([`Str`]) carry a JSON Schema pattern each; the
//! validator checks the same strings with its parse functions, and tests run both on the same
//! samples so that they agree.

/// A YAML mapping with a fixed set of keys.
pub(crate) struct MapSpec {
    /// The `$defs` name in the JSON Schema.
    pub id: &'static str,
    /// How messages name the mapping: "unknown key `x` in a stage".
    pub what: &'static str,
    pub description: &'static str,
    pub keys: &'static [Key],
    /// Rules across keys (rendered as `oneOf` / `if`-`then`; enforced by the validator).
    pub rules: &'static [Rule],
}

pub(crate) struct Key {
    pub name: &'static str,
    pub need: Need,
    pub ty: Ty,
    pub description: &'static str,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Need {
    Optional,
    Required,
    /// Required, but the validator reports its absence with a message of its own (`verify`:
    /// baton fails closed).
    RequiredOwnMessage,
}

pub(crate) enum Ty {
    /// A non-empty string on one line, of a kind.
    Str(Str),
    /// One of these words.
    Enum(&'static [&'static str]),
    List {
        items: &'static Ty,
        min_items: usize,
        /// The same item twice is an error.
        unique: bool,
    },
    Map(&'static MapSpec),
    /// Either of these (a check: a pattern, or a mapping with `name` and `min`).
    OneOf(&'static [Ty]),
    /// A whole number, at least `min`.
    Int {
        min: u64,
    },
    /// A mapping from names of the user's choice to scalars (workflow inputs).
    Scalars,
    /// A mapping from names of the user's choice (`names`) to mappings (`artifacts`).
    Named {
        names: Str,
        values: &'static MapSpec,
        min: usize,
    },
}

pub(crate) enum Rule {
    /// Exactly one group of keys is given, whole, and no key of another group (verify entries:
    /// `key`, or `issuer` and `subject`).
    ExactlyOneGroup(&'static [&'static [&'static str]]),
    /// Which selector keys each pointer format takes and requires.
    PerFormat(&'static [FormatRule]),
    /// At least one of these keys is given (an artifact's `tags` or `track`).
    AtLeastOne(&'static [&'static str]),
}

/// The selector keys one pointer format takes.
pub(crate) struct FormatRule {
    pub format: &'static str,
    pub description: &'static str,
    /// Selector keys ([`SELECTOR_KEYS`]) that apply to this format; the others are refused.
    pub takes: &'static [&'static str],
    /// Selector keys this format requires, with what they are for.
    pub requires: &'static [(&'static str, &'static str)],
}

/// The kinds of strings in the file. Every kind is a non-empty string without control
/// characters; most say more.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Str {
    /// Free text (a check name).
    Text,
    /// A stage or artifact name.
    Name,
    /// A path inside the repository.
    Path,
    /// An OCI repository without tag or digest.
    Image,
    /// A regular expression (Rust syntax; anchored by baton).
    Regex,
    /// An http(s) URL.
    Issuer,
    /// `45s`, `10m`, `1h30m`, `2h`, `1d`.
    Duration,
    /// `codeowners`, `@org/team`, `@user` or `user`.
    Approver,
    /// A dotted path of mapping keys.
    FieldPath,
    /// A word without spaces (a Kubernetes object name, an image name in a selector).
    Word,
    /// A yaml-path template.
    Template,
    /// A check name or pattern (`*`: any characters but `/`).
    CheckPattern,
    /// A workflow file in `.github/workflows/`: `e2e.yml`.
    WorkflowFile,
}

/// Control characters (Unicode category Cc, what `char::is_control` refuses), as a class body
/// that both ECMA-262 (editors) and Rust regular expressions read the same way.
macro_rules! cc {
    () => {
        r"\u0000-\u001F\u007F-\u009F"
    };
}

/// One path segment: not empty, not `.` or `..`, no `/`, `\` or control character.
macro_rules! segment {
    () => {
        concat!(r"(?:\.{0,2}[^./\\", cc!(), r"][^/\\", cc!(), r"]*|\.\.\.[^/\\", cc!(), r"]*)")
    };
}

/// A template piece: text without braces, or a known placeholder.
macro_rules! template_piece {
    () => {
        concat!(r"(?:[^{}", cc!(), r"]|\{(?:tag|digest|repository|revision)\})")
    };
}

impl Str {
    pub const ALL: [Str; 13] = [
        Str::Text,
        Str::Name,
        Str::Path,
        Str::Image,
        Str::Regex,
        Str::Issuer,
        Str::Duration,
        Str::Approver,
        Str::FieldPath,
        Str::Word,
        Str::Template,
        Str::CheckPattern,
        Str::WorkflowFile,
    ];

    /// The `$defs` name in the JSON Schema.
    pub fn id(self) -> &'static str {
        match self {
            Str::Text => "text",
            Str::Name => "name",
            Str::Path => "repoPath",
            Str::Image => "image",
            Str::Regex => "regex",
            Str::Issuer => "issuer",
            Str::Duration => "duration",
            Str::Approver => "approver",
            Str::FieldPath => "fieldPath",
            Str::Word => "word",
            Str::Template => "template",
            Str::CheckPattern => "checkPattern",
            Str::WorkflowFile => "workflowFile",
        }
    }

    /// A pattern (ECMA-262 and Rust `regex` alike) that the whole string must match.
    pub fn pattern(self) -> &'static str {
        match self {
            Str::Text | Str::Regex => concat!("^[^", cc!(), "]+$"),
            // types::valid_name: lowercase letters, digits, '-', '_', '.', starting with a
            // letter or digit, no "..", at most 63 characters (maxLength).
            Str::Name => r"^[a-z0-9](?:\.?[a-z0-9_-])*\.?$",
            Str::Path => concat!("^", segment!(), "(?:/", segment!(), ")*$"),
            // types::ImageName: a registry host with a dot or a port (or localhost), then
            // lowercase path segments.
            Str::Image => r"^(?:[A-Za-z0-9.:\[\]-]*[.:][A-Za-z0-9.:\[\]-]*|localhost)/[a-z0-9._-]+(?:/[a-z0-9._-]+)*$",
            Str::Issuer => concat!(r"^[Hh][Tt][Tt][Pp][Ss]?://[^/?#\s", cc!(), r"]+(?:[/?#][^", cc!(), "]*)?$"),
            Str::Duration => r"^(?:[0-9]{1,9}d)?(?:[0-9]{1,9}h)?(?:[0-9]{1,9}m)?(?:[0-9]{1,9}s)?$",
            Str::Approver => {
                r"^(?:codeowners|@[A-Za-z0-9][A-Za-z0-9-]{0,38}/[A-Za-z0-9._-]{1,100}|@?[A-Za-z0-9][A-Za-z0-9-]{0,38})$"
            }
            Str::FieldPath => concat!(r"^[^.\s", cc!(), r"]+(?:\.[^.\s", cc!(), "]+)*$"),
            Str::Word => concat!(r"^[^\s", cc!(), "]+$"),
            Str::Template => concat!("^", template_piece!(), r"*\{digest\}", template_piece!(), "*$"),
            // planner::signals::CheckPattern: no control characters, no `**`.
            Str::CheckPattern => concat!(r"^(?:[^*", cc!(), r"]|\*(?:[^*", cc!(), "]|$))+$"),
            // A file name (no `/`) ending in .yml or .yaml.
            Str::WorkflowFile => concat!(r"^[^/\\", cc!(), r"]+\.ya?ml$"),
        }
    }

    pub fn max_length(self) -> Option<u64> {
        match self {
            Str::Name => Some(63),
            _ => None,
        }
    }

    pub fn description(self) -> &'static str {
        match self {
            Str::Text => "A non-empty string on one line.",
            Str::Name => {
                "A name: lowercase letters, digits, '-', '_' and '.', starting with a letter or digit, at most 63 \
                 characters, no '..'."
            }
            Str::Path => {
                "A path in the deployment repository: relative, '/'-separated, no '..' or '.' segments, no \
                 leading '/', no backslashes."
            }
            Str::Image => {
                "An OCI repository: a registry host (with a dot or a port, or localhost), then lowercase path \
                 segments; no tag and no digest. Example: registry.internal/deployments/myapp"
            }
            Str::Regex => {
                "A regular expression (Rust regex syntax). baton anchors it as ^(?:...)$, so it must match the \
                 whole string."
            }
            Str::Issuer => "An https:// URL: the OIDC issuer of the signing certificate, matched exactly.",
            Str::Duration => {
                "A duration: units d, h, m, s, each at most once, largest first (45s, 10m, 1h30m, 2h, 1d); at most \
                 30 days."
            }
            Str::Approver => "`codeowners`, a team (`@org/team`) or a user (`@alice` or `alice`).",
            Str::FieldPath => "A dotted path of mapping keys, such as `image` or `spec.values.webImage`.",
            Str::Word => "A string without spaces.",
            Str::Template => {
                "How the scalar is rendered: placeholders {tag}, {digest}, {repository}, {revision} (a tracked version's \
                 name, main-1a2b3c4); must contain {digest}."
            }
            Str::CheckPattern => {
                "A status context or check-run name, or a pattern where `*` stands for any characters except \
                 `/` (`kustomization/myapp-dev/*` matches Flux's per-cluster suffix)."
            }
            Str::WorkflowFile => "A workflow file name in .github/workflows/, such as `e2e.yml`.",
        }
    }
}

// ------------------------------------------------------------------------------ the file

pub(crate) const TOP: MapSpec = MapSpec {
    id: "pipeline",
    what: "the pipeline file",
    description: "baton's pipeline file, read from the default branch of the deployment repository.",
    keys: &[
        Key {
            name: "artifacts",
            need: Need::Required,
            ty: Ty::Named { names: Str::Name, values: &ARTIFACT, min: 1 },
            description: "The OCI repositories baton promotes, by a name of your choice (used in branch names \
                          like baton/<stage>/<artifact>).",
        },
        Key {
            name: "stages",
            need: Need::Required,
            ty: Ty::List { items: &Ty::Map(&STAGE), min_items: 1, unique: false },
            description: "The environments, in any order; `from` links them. A stage without `from` is a first \
                          stage and receives new versions straight from the registry.",
        },
        Key {
            name: "groups",
            need: Need::Optional,
            ty: Ty::Named { names: Str::Name, values: &GROUP, min: 1 },
            description: "Release units: artifacts that move together, by a name of your choice (not an artifact's \
                          name). A stage holding a group's artifacts promotes them in one pull request.",
        },
    ],
    rules: &[],
};

pub(crate) const ARTIFACT: MapSpec = MapSpec {
    id: "artifact",
    what: "an artifact",
    description: "An OCI repository whose signed release tags baton promotes.",
    keys: &[
        Key {
            name: "image",
            need: Need::Required,
            ty: Ty::Str(Str::Image),
            description: "The OCI repository: registry host and path, no tag and no digest.",
        },
        Key {
            name: "tags",
            need: Need::Optional,
            ty: Ty::Str(Str::Regex),
            description: "Which tags are releases: a regular expression, always anchored (it must match the whole \
                          tag). Among matching tags, the newest is the highest semantic version. `tags`, `track` or \
                          both.",
        },
        Key {
            name: "track",
            need: Need::Optional,
            ty: Ty::Str(Str::Word),
            description: "A mutable channel tag (e.g. main): every new digest it points at is a new version, named \
                          after its source revision (main-1a2b3c4). Later stages promote the digest the earlier \
                          stage verified, never the tag.",
        },
        Key {
            name: "verify",
            need: Need::RequiredOwnMessage,
            ty: Ty::List { items: &Ty::Map(&VERIFY_ENTRY), min_items: 1, unique: false },
            description: "Required, never empty (baton fails closed): a version is promoted only when at least one \
                          entry verifies a cosign signature over exactly its digest.",
        },
    ],
    rules: &[Rule::AtLeastOne(&["tags", "track"])],
};

pub(crate) const VERIFY_ENTRY: MapSpec = MapSpec {
    id: "verifyEntry",
    what: "a verify entry",
    description: "A cosign public key (`key`), or keyless Sigstore identity (`issuer` and `subject`).",
    keys: &[
        Key {
            name: "key",
            need: Need::Optional,
            ty: Ty::Str(Str::Path),
            description: "A cosign public key: a path in this repository, read from the default branch.",
        },
        Key {
            name: "issuer",
            need: Need::Optional,
            ty: Ty::Str(Str::Issuer),
            description: "Keyless: the certificate's OIDC issuer (exact match), e.g. \
                          https://token.actions.githubusercontent.com. Requires `subject`.",
        },
        Key {
            name: "subject",
            need: Need::Optional,
            ty: Ty::Str(Str::Regex),
            description: "Keyless: the certificate's subject, a regular expression (always anchored). Requires \
                          `issuer`.",
        },
    ],
    rules: &[Rule::ExactlyOneGroup(&[&["key"], &["issuer", "subject"]])],
};

pub(crate) const STAGE: MapSpec = MapSpec {
    id: "stage",
    what: "a stage",
    description: "An environment: where its versions live (pointers), where they come from, and how they are \
                  promoted.",
    keys: &[
        Key {
            name: "name",
            need: Need::Required,
            ty: Ty::Str(Str::Name),
            description: "The stage's name, unique in the file (used in branch names, labels and `/promote \
                          <stage>`).",
        },
        Key {
            name: "from",
            need: Need::Optional,
            ty: Ty::Str(Str::Name),
            description: "The upstream stage: this stage promotes what that one verified. Without it, this is a \
                          first stage and receives new versions from the registry.",
        },
        Key {
            name: "pointers",
            need: Need::Required,
            ty: Ty::List { items: &Ty::Map(&POINTER), min_items: 1, unique: false },
            description: "Where this stage's version lives; at least one. A pointer belongs to exactly one stage; \
                          a stage with `from` may only point at artifacts its `from` stage also points at.",
        },
        Key {
            name: "promotion",
            need: Need::Optional,
            ty: Ty::Enum(&["auto", "manual"]),
            description: "auto: promoted as soon as the `from` stage verifies a newer version (a first stage: as \
                          soon as a new signed version is pushed). manual: waits for `/promote <stage>`. Default: \
                          manual when the stage has `approvers`, else auto.",
        },
        Key {
            name: "write",
            need: Need::Optional,
            ty: Ty::Enum(&["pull-request", "commit"]),
            description: "pull-request (default): a pull request, merged automatically when green. commit: \
                          straight to the default branch.",
        },
        Key {
            name: "verification",
            need: Need::Optional,
            ty: Ty::Map(&VERIFICATION),
            description: "When a version counts as verified on this stage. Without it, as soon as it lands.",
        },
        Key {
            name: "approvers",
            need: Need::Optional,
            ty: Ty::List { items: &Ty::Str(Str::Approver), min_items: 1, unique: true },
            description: "Who may /promote and /rollback here: `codeowners` (the CODEOWNERS owners of this \
                          stage's pointer files), `@org/team`, `@user`. Without it, anyone with write permission \
                          on the repository may. Not empty.",
        },
        Key {
            name: "freeze",
            need: Need::Optional,
            ty: Ty::Map(&FREEZE),
            description: "While the file exists on the default branch, the stage is frozen (promotions fail \
                          baton/policy; rollbacks are exempt). `/freeze` and `/unfreeze` create and delete it.",
        },
        Key {
            name: "windows",
            need: Need::Optional,
            ty: Ty::Map(&WINDOWS),
            description: "When automatic promotions and merges may happen, on the wall clock of `timezone`. Outside \
                          them the pull request waits; `/rollback` is exempt.",
        },
        Key {
            name: "groups",
            need: Need::Optional,
            ty: Ty::Map(&STAGE_GROUPS),
            description: "How this stage treats release units (`groups` at the top of the file).",
        },
    ],
    rules: &[],
};

/// The pointer keys that select a place in the file; which apply depends on the format.
pub(crate) const SELECTOR_KEYS: &[&str] = &["field", "image", "name", "template"];

/// The pointer formats, in the order of `pointer::Format::ALL`.
pub(crate) const FORMATS: &[&str] = &["flux-oci", "helm-values", "kustomize-image", "yaml-path"];

pub(crate) const FORMAT_RULES: &[FormatRule] = &[
    FormatRule {
        format: "flux-oci",
        description: "A Flux OCIRepository: baton edits spec.ref.tag and spec.ref.digest.",
        takes: &["name"],
        requires: &[],
    },
    FormatRule {
        format: "helm-values",
        description: "Helm values: baton edits <field>.tag and <field>.digest.",
        takes: &["field"],
        requires: &[],
    },
    FormatRule {
        format: "kustomize-image",
        description: "A kustomization.yaml images[] entry: baton edits newTag and digest of the entry whose name \
                      is `image`.",
        takes: &["image"],
        requires: &[],
    },
    FormatRule {
        format: "yaml-path",
        description: "Any YAML scalar at `field`, rendered from `template`.",
        takes: &["field", "template", "image"],
        requires: &[("field", "the dotted path of the scalar to rewrite")],
    },
];

pub(crate) const POINTER: MapSpec = MapSpec {
    id: "pointer",
    what: "a pointer",
    description: "Where a version lives: a file, its format and the artifact; the selector keys depend on the \
                  format.",
    keys: &[
        Key {
            name: "file",
            need: Need::Required,
            ty: Ty::Str(Str::Path),
            description: "The file, a path in this repository (relative, no '..').",
        },
        Key {
            name: "format",
            need: Need::Required,
            ty: Ty::Enum(FORMATS),
            description: "flux-oci (OCIRepository spec.ref), helm-values (<field>.tag/.digest), kustomize-image \
                          (images[] entry), yaml-path (one scalar at `field`).",
        },
        Key { name: "artifact", need: Need::Required, ty: Ty::Str(Str::Name), description: "A name from `artifacts`." },
        Key {
            name: "field",
            need: Need::Optional,
            ty: Ty::Str(Str::FieldPath),
            description: "helm-values: the mapping holding `tag` and `digest` (default: image). yaml-path \
                          (required): the dotted path of the scalar to rewrite.",
        },
        Key {
            name: "image",
            need: Need::Optional,
            ty: Ty::Str(Str::Word),
            description: "kustomize-image: the images[].name entry to edit. yaml-path: the value of {repository}. \
                          Default: the artifact's image.",
        },
        Key {
            name: "name",
            need: Need::Optional,
            ty: Ty::Str(Str::Word),
            description: "flux-oci: metadata.name of the OCIRepository, when the file has several.",
        },
        Key {
            name: "template",
            need: Need::Optional,
            ty: Ty::Str(Str::Template),
            description: "yaml-path: how to render the scalar (default: {tag}@{digest}); placeholders {tag}, \
                          {digest}, {repository}, {revision} (a tracked version's name, main-1a2b3c4); must contain \
                          {digest}.",
        },
    ],
    rules: &[Rule::PerFormat(FORMAT_RULES)],
};

pub(crate) const VERIFICATION: MapSpec = MapSpec {
    id: "verification",
    what: "a verification setting",
    description: "When a version counts as verified on the stage.",
    keys: &[
        Key {
            name: "checks",
            need: Need::Optional,
            ty: Ty::List {
                items: &Ty::OneOf(&[Ty::Str(Str::CheckPattern), Ty::Map(&CHECK)]),
                min_items: 0,
                unique: true,
            },
            description: "Status contexts or check-run names that must be green: on the bump commit, on later \
                          default-branch commits that still hold the version, and on the artifact's source \
                          commit. An exact name, or a pattern with `*` (any characters but `/`); every match must \
                          be green and at least `min` (default 1) must exist.",
        },
        Key {
            name: "soak",
            need: Need::Optional,
            ty: Ty::Str(Str::Duration),
            description: "Minimum time on the stage: 45s, 10m, 1h30m, 2h, 1d; at most 30 days.",
        },
        Key {
            name: "timeout",
            need: Need::Optional,
            ty: Ty::Str(Str::Duration),
            description: "No green result this long after the bump: the version failed verification on the stage \
                          (45s, 10m, 1h30m, 2h, 1d; at most 30 days). Default: wait forever.",
        },
        Key {
            name: "source",
            need: Need::Optional,
            ty: Ty::Enum(&["commit-of-artifact"]),
            description: "commit-of-artifact: also count signals on the commit the artifact was built from (its \
                          org.opencontainers.image.revision), even when its org.opencontainers.image.source names \
                          another repository. Without it, that commit counts only when the source names this \
                          repository.",
        },
        Key {
            name: "workflows",
            need: Need::Optional,
            ty: Ty::List { items: &Ty::Map(&WORKFLOW), min_items: 1, unique: false },
            description: "CI workflows baton dispatches once per bump (workflow_dispatch on the default branch, \
                          inputs stage, version, digest and your own); each run's conclusion is a gate.",
        },
    ],
    rules: &[],
};

pub(crate) const CHECK: MapSpec = MapSpec {
    id: "check",
    what: "a check",
    description: "A check name or pattern with the number of matches that must exist.",
    keys: &[
        Key {
            name: "name",
            need: Need::Required,
            ty: Ty::Str(Str::CheckPattern),
            description: "A status context or check-run name, or a pattern with `*` (any characters but `/`).",
        },
        Key {
            name: "min",
            need: Need::Optional,
            ty: Ty::Int { min: 1 },
            description: "How many distinct matching names must report (e.g. 2 for a stage served by two \
                          clusters). Default 1.",
        },
    ],
    rules: &[],
};

pub(crate) const WORKFLOW: MapSpec = MapSpec {
    id: "workflow",
    what: "a verification workflow",
    description: "A GitHub Actions workflow with a workflow_dispatch trigger, run once per bump.",
    keys: &[
        Key {
            name: "file",
            need: Need::Required,
            ty: Ty::Str(Str::WorkflowFile),
            description: "The workflow file in .github/workflows/ of this repository, e.g. e2e.yml.",
        },
        Key {
            name: "inputs",
            need: Need::Optional,
            ty: Ty::Scalars,
            description: "More workflow_dispatch inputs (baton always sends stage, version and digest).",
        },
    ],
    rules: &[],
};

pub(crate) const FREEZE: MapSpec = MapSpec {
    id: "freeze",
    what: "a freeze setting",
    description: "A freeze file: while it exists on the default branch, the stage is frozen.",
    keys: &[Key {
        name: "file",
        need: Need::Required,
        ty: Ty::Str(Str::Path),
        description: "The freeze file, a path in this repository; not a pointer file.",
    }],
    rules: &[],
};

// ------------------------------------------------------------------------------ release units (#13)

pub(crate) const GROUP: MapSpec = MapSpec {
    id: "group",
    what: "a group",
    description: "A release unit: artifacts promoted together, in one pull request, verified and rolled back as one.",
    keys: &[
        Key {
            name: "artifacts",
            need: Need::Required,
            ty: Ty::List { items: &Ty::Str(Str::Name), min_items: 2, unique: true },
            description: "Names from `artifacts`, at least two; an artifact belongs to at most one group.",
        },
        Key {
            name: "when",
            need: Need::Optional,
            ty: Ty::Enum(&["any", "all"]),
            description: "any (default): a new version of any member makes a new unit (the others at their newest \
                          signed versions). all: only when every member has a version newer than the first stage \
                          runs.",
        },
    ],
    rules: &[],
};

pub(crate) const STAGE_GROUPS: MapSpec = MapSpec {
    id: "stageGroups",
    what: "a stage's group setting",
    description: "How a stage treats release units.",
    keys: &[Key {
        name: "partial",
        need: Need::Optional,
        ty: Ty::Enum(&["deny", "allow"]),
        description: "deny (default): baton/policy fails a pull request that moves only some members of a group. \
                      allow: it passes.",
    }],
    rules: &[],
};

pub(crate) const WINDOWS: MapSpec = MapSpec {
    id: "windows",
    what: "a windows setting",
    description: "Promotion windows: outside every `allow` span, or inside a `deny` span, automatic promotions \
                  and merges wait.",
    keys: &[
        Key {
            name: "timezone",
            need: Need::Required,
            ty: Ty::Str(Str::Word),
            description: "An IANA time zone (Europe/Berlin, UTC); the spans are read on its wall clock.",
        },
        Key {
            name: "allow",
            need: Need::Optional,
            ty: Ty::List { items: &Ty::Str(Str::Text), min_items: 1, unique: true },
            description: "When promotions may happen: \"Mon-Thu 09:00-17:00\", \"Fri 15:00 - Mon 08:00\", \
                          \"2026-12-20 - 2027-01-06\". Without it: always, unless denied.",
        },
        Key {
            name: "deny",
            need: Need::Optional,
            ty: Ty::List { items: &Ty::Str(Str::Text), min_items: 1, unique: true },
            description: "When promotions may not happen (wins over allow); the same forms as `allow`.",
        },
    ],
    rules: &[Rule::AtLeastOne(&["allow", "deny"])],
};

/// Every mapping, for the schema's `$defs` (the top one first).
pub(crate) const MAPS: &[&MapSpec] = &[
    &TOP,
    &ARTIFACT,
    &VERIFY_ENTRY,
    &STAGE,
    &POINTER,
    &VERIFICATION,
    &CHECK,
    &WORKFLOW,
    &FREEZE,
    &GROUP,
    &STAGE_GROUPS,
    &WINDOWS,
];

impl MapSpec {
    pub fn key(&self, name: &str) -> Option<&Key> {
        self.keys.iter().find(|k| k.name == name)
    }

    pub fn key_names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.keys.iter().map(|k| k.name)
    }

    /// The words of an enumeration key.
    pub fn words(&self, name: &str) -> &'static [&'static str] {
        match self.key(name).map(|k| &k.ty) {
            Some(Ty::Enum(words)) => words,
            _ => panic!("`{name}` is no enumeration key of {}", self.what),
        }
    }
}

/// The rule for a pointer format.
pub(crate) fn format_rule(format: &str) -> &'static FormatRule {
    FORMAT_RULES.iter().find(|r| r.format == format).unwrap_or_else(|| panic!("no FORMAT_RULES entry for {format}"))
}
