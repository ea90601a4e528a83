//! `.baton.yaml` keys of release units (#13): `groups:`, an artifact's `track:`, a stage's
//! `windows:` and `groups.partial`; what `baton check-config` says about bad ones, with lines.

use baton::pipeline::{parse, GroupWhen, PartialGroups};
use baton::types::{ArtifactName, GroupName, StageName};
use baton::windows::WindowState;
use chrono::{DateTime, Utc};

fn problems(text: &str) -> String {
    match parse(text) {
        Ok(_) => panic!("expected problems for:\n{text}"),
        Err(e) => e.to_string(),
    }
}

const UNITS: &str = r#"artifacts:
  api:
    image: registry.internal/org/api
    tags: '\d+\.\d+\.\d+'
    verify: [{ key: k.pub }]
  web:
    image: registry.internal/org/web
    track: main
    verify: [{ key: k.pub }]
  worker:
    image: registry.internal/org/worker
    tags: '\d+\.\d+\.\d+'
    track: main
    verify: [{ key: k.pub }]
  docs:
    image: registry.internal/org/docs
    tags: '\d+\.\d+\.\d+'
    verify: [{ key: k.pub }]
groups:
  platform:
    artifacts: [api, web, worker]
    when: all
stages:
  - name: dev
    pointers:
      - { file: dev/api.yaml, format: flux-oci, artifact: api }
      - { file: dev/web.yaml, format: flux-oci, artifact: web }
      - { file: dev/worker.yaml, format: flux-oci, artifact: worker }
      - { file: dev/docs.yaml, format: flux-oci, artifact: docs }
  - name: prod
    from: dev
    groups: { partial: allow }
    windows:
      timezone: Europe/Berlin
      allow: ["Mon-Thu 09:00-17:00"]
      deny: ["Fri 15:00 - Mon 08:00", "2026-12-20 - 2027-01-06"]
    pointers:
      - { file: prod/api.yaml, format: flux-oci, artifact: api }
      - { file: prod/web.yaml, format: flux-oci, artifact: web }
      - { file: prod/worker.yaml, format: flux-oci, artifact: worker }
"#;

fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

#[test]
fn groups_tracks_and_windows_parse() {
    let p = parse(UNITS).unwrap_or_else(|e| panic!("{e}"));
    let platform: GroupName = "platform".parse().unwrap();
    let g = &p.groups[&platform];
    assert_eq!(g.artifacts.iter().map(ArtifactName::as_str).collect::<Vec<_>>(), ["api", "web", "worker"]);
    assert_eq!(g.when, GroupWhen::All);
    let a = |n: &str| p.artifact(&n.parse().unwrap()).unwrap();
    assert_eq!(a("web").track.as_ref().map(|t| t.as_str()), Some("main"));
    assert!(!a("web").tags.is_match("main") && !a("web").tags.is_match("1.2.3"), "track only: no release tags");
    assert!(a("worker").tags.is_match("1.2.3"));
    assert_eq!(a("api").track, None);
    assert_eq!(p.group_of(&"worker".parse().unwrap()).map(|g| g.name.as_str()), Some("platform"));
    assert!(p.group_of(&"docs".parse().unwrap()).is_none());

    let dev = p.stage(&"dev".parse::<StageName>().unwrap()).unwrap();
    let prod = p.stage(&"prod".parse::<StageName>().unwrap()).unwrap();
    assert_eq!(dev.partial_groups, PartialGroups::Deny);
    assert_eq!(prod.partial_groups, PartialGroups::Allow);
    assert!(dev.windows.is_none());
    let w = prod.windows.as_ref().unwrap();
    assert_eq!(w.timezone, chrono_tz::Europe::Berlin);
    assert_eq!(w.state(utc("2026-12-02T09:00:00Z")), WindowState::Open);
    assert_eq!(w.state(utc("2026-12-04T15:00:00Z")), WindowState::ClosedUntil(utc("2026-12-07T08:00:00Z")));
    assert!(g.in_stage(prod) && g.in_stage(dev));
}

#[test]
fn bad_groups_are_reported_with_their_lines() {
    let text = r#"artifacts:
  api: { image: r.io/api, tags: '\d+', verify: [{ key: k.pub }] }
  web: { image: r.io/web, tags: '\d+', verify: [{ key: k.pub }] }
  worker: { image: r.io/worker, tags: '\d+', verify: [{ key: k.pub }] }
groups:
  platform:
    artifacts: [api, web, wroker]
  edge:
    artifacts: [web, api]
    when: every
  solo:
    artifacts: [ghost]
  api:
    artifacts: [worker, worker]
stages:
  - name: dev
    pointers:
      - { file: dev/api.yaml, format: flux-oci, artifact: api }
      - { file: dev/web.yaml, format: flux-oci, artifact: web }
      - { file: dev/worker.yaml, format: flux-oci, artifact: worker }
  - name: staging
    from: dev
    pointers:
      - { file: staging/api.yaml, format: flux-oci, artifact: api }
"#;
    insta::assert_snapshot!(problems(text), @r"
    line 7: groups.platform.artifacts[2]: unknown artifact `wroker` (did you mean `worker`?)
    line 9: groups.edge.artifacts[0]: `web` is already in group `platform` (line 7); an artifact belongs to one group
    line 9: groups.edge.artifacts[1]: `api` is already in group `platform` (line 7); an artifact belongs to one group
    line 10: groups.edge.when: unknown value `every`: expected one of any, all
    line 12: groups.solo.artifacts: a group needs at least two artifacts
    line 12: groups.solo.artifacts[0]: unknown artifact `ghost`
    line 13: groups.api: `api` is also an artifact's name: a group needs a name of its own (both name branches)
    line 14: groups.api.artifacts[1]: `worker` is listed twice
    ");
}

#[test]
fn a_stage_holding_part_of_a_group_is_refused() {
    let text = r#"artifacts:
  api: { image: r.io/api, tags: '\d+', verify: [{ key: k.pub }] }
  web: { image: r.io/web, tags: '\d+', verify: [{ key: k.pub }] }
  worker: { image: r.io/worker, tags: '\d+', verify: [{ key: k.pub }] }
groups:
  platform: { artifacts: [api, web, worker] }
stages:
  - name: dev
    pointers:
      - { file: dev/api.yaml, format: flux-oci, artifact: api }
      - { file: dev/web.yaml, format: flux-oci, artifact: web }
      - { file: dev/worker.yaml, format: flux-oci, artifact: worker }
  - name: staging
    from: dev
    groups: { partial: sometimes }
    pointers:
      - { file: staging/api.yaml, format: flux-oci, artifact: api }
      - { file: staging/web.yaml, format: flux-oci, artifact: web }
"#;
    insta::assert_snapshot!(problems(text), @r"
    line 13: stages[1] (staging): holds `api`, `web` of group `platform` but not `worker`: a group moves as one, so a stage points at all its artifacts or none
    line 15: stages[1] (staging).groups.partial: unknown value `sometimes`: expected one of deny, allow
    ");
}

#[test]
fn bad_tracks_are_reported() {
    let text = r#"artifacts:
  a: { image: r.io/a, verify: [{ key: k.pub }] }
  b: { image: r.io/b, track: 'main branch', verify: [{ key: k.pub }] }
  c: { image: r.io/c, tags: 'main|\d+', track: main, verify: [{ key: k.pub }] }
stages:
  - name: dev
    pointers:
      - { file: a.yaml, format: flux-oci, artifact: a }
"#;
    insta::assert_snapshot!(problems(text), @r#"
    line 2: artifacts.a: missing `tags` (a pattern of release tags) or `track` (a channel tag such as main): one is required
    line 3: artifacts.b.track: invalid tag "main branch": expected [A-Za-z0-9_][A-Za-z0-9._-]{0,127}
    line 4: artifacts.c.track: the channel tag `main` also matches `tags`: a tag is either a release or a channel
    "#);
}

#[test]
fn bad_windows_are_reported_with_their_lines() {
    let text = r#"artifacts:
  app: { image: r.io/app, tags: '\d+', verify: [{ key: k.pub }] }
stages:
  - name: dev
    pointers: [{ file: a.yaml, format: flux-oci, artifact: app }]
    windows:
      timezone: Europe/Berln
      allow:
        - "Mon-Thu 09:00-17:00"
        - "Mon-Fri 9-17"
        - "Mon-Thu 09:00-17:00"
      deny: ["Fri 15:00 - Mun 08:00", "2026-12-20 - 2026-02-30"]
  - name: prod
    from: dev
    pointers: [{ file: b.yaml, format: flux-oci, artifact: app }]
    windows: { timezone: UTC }
  - name: qa
    from: dev
    pointers: [{ file: c.yaml, format: flux-oci, artifact: app }]
    windows: { allow: [], deny: ["Sat,Sun 00:00-24:00"] }
"#;
    insta::assert_snapshot!(problems(text), @r#"
    line 7: stages[0] (dev).windows.timezone: unknown time zone `Europe/Berln` (did you mean `Europe/Berlin`?): expected an IANA name such as Europe/Berlin or UTC
    line 10: stages[0] (dev).windows.allow[1]: cannot read window "Mon-Fri 9-17": expected e.g. "Mon-Thu 09:00-17:00", "Fri 15:00 - Mon 08:00" or "2026-12-20 - 2027-01-06"
    line 11: stages[0] (dev).windows.allow[2]: window "Mon-Thu 09:00-17:00" is listed twice
    line 12: stages[0] (dev).windows.deny[0]: window "Fri 15:00 - Mun 08:00": `Mun` is no day of the week (Mon … Sun)
    line 12: stages[0] (dev).windows.deny[1]: window "2026-12-20 - 2026-02-30": `2026-02-30` is no date
    line 16: stages[1] (prod).windows: windows need `allow`, `deny` or both (without them, remove `windows`)
    line 20: stages[2] (qa).windows: missing required key `timezone` in a windows setting
    line 20: stages[2] (qa).windows.allow: empty list: remove it, or name at least one window
    "#);
}

/// The schema `baton schema` prints (editors) takes the new keys as the validator does.
#[test]
fn the_schema_knows_the_new_keys() {
    let schema = baton::pipeline::schema::json_schema();
    let v = jsonschema::validator_for(&schema).expect("the schema compiles");
    let doc: serde_json::Value = serde_yaml_ng::from_str(UNITS).unwrap();
    let errors: Vec<String> = v.iter_errors(&doc).map(|e| format!("{}: {e}", e.instance_path)).collect();
    assert!(errors.is_empty(), "{}", errors.join("\n"));
    // Neither `tags` nor `track`: refused by both.
    let neither = UNITS.replace("    track: main\n    verify", "    verify");
    assert!(parse(&neither).is_err());
    assert!(!v.is_valid(&serde_yaml_ng::from_str(&neither).unwrap()));
    // `windows` without allow or deny, and an unknown `partial` word: refused by both.
    for (old, new) in [
        ("      allow: [\"Mon-Thu 09:00-17:00\"]\n      deny: [\"Fri 15:00 - Mon 08:00\", \"2026-12-20 - 2027-01-06\"]\n", ""),
        ("partial: allow", "partial: maybe"),
    ] {
        let text = UNITS.replace(old, new);
        assert_ne!(text, UNITS, "{old}");
        assert!(parse(&text).is_err(), "{new}");
        assert!(!v.is_valid(&serde_yaml_ng::from_str(&text).unwrap()), "{new}");
    }
}

/// examples/baton.yaml shows a group, a tracked channel tag and a prod window.
#[test]
fn the_example_shows_units_tracks_and_windows() {
    let text = std::fs::read_to_string("examples/baton.yaml").unwrap();
    let p = parse(&text).unwrap_or_else(|e| panic!("{e}"));
    let g = &p.groups[&"platform".parse::<GroupName>().unwrap()];
    assert_eq!(g.artifacts.iter().map(ArtifactName::as_str).collect::<Vec<_>>(), ["api", "worker"]);
    let worker = p.artifact(&"worker".parse().unwrap()).unwrap();
    assert_eq!(worker.track.as_ref().map(|t| t.as_str()), Some("main"));
    let eu = p.stage(&"prod-eu".parse::<StageName>().unwrap()).unwrap();
    let w = eu.windows.as_ref().expect("prod-eu has windows");
    // Fri 2026-12-04 16:00 Berlin: after Friday's window; Monday 09:00 Berlin.
    assert_eq!(w.state(utc("2026-12-04T15:00:00Z")), WindowState::ClosedUntil(utc("2026-12-07T08:00:00Z")));
    let us = p.stage(&"prod-us".parse::<StageName>().unwrap()).unwrap();
    assert!(!g.in_stage(us), "prod-us holds none of the group");
}
