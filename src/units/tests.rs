use super::*;
use crate::pipeline::{parse, Pipeline};
use crate::types::GroupName;

fn d(c: char) -> Digest {
    format!("sha256:{}", c.to_string().repeat(64)).parse().unwrap()
}

fn a(n: &str) -> ArtifactName {
    n.parse().unwrap()
}

fn v(tag: &str, c: char) -> Version {
    Version { tag: tag.parse().unwrap(), digest: d(c) }
}

fn pipeline(when: &str, partial: &str) -> Pipeline {
    let text = format!(
        r#"artifacts:
  api: {{ image: r.io/api, tags: '\d+\.\d+\.\d+', verify: [{{ key: k.pub }}] }}
  web: {{ image: r.io/web, tags: '\d+\.\d+\.\d+', verify: [{{ key: k.pub }}] }}
  worker: {{ image: r.io/worker, tags: '\d+\.\d+\.\d+', verify: [{{ key: k.pub }}] }}
groups:
  platform: {{ artifacts: [api, web, worker], when: {when} }}
stages:
  - name: dev
    pointers:
      - {{ file: dev/api.yaml, format: flux-oci, artifact: api }}
      - {{ file: dev/web.yaml, format: flux-oci, artifact: web }}
      - {{ file: dev/worker.yaml, format: flux-oci, artifact: worker }}
  - name: staging
    from: dev
    groups: {{ partial: {partial} }}
    pointers:
      - {{ file: staging/api.yaml, format: flux-oci, artifact: api }}
      - {{ file: staging/web.yaml, format: flux-oci, artifact: web }}
      - {{ file: staging/worker.yaml, format: flux-oci, artifact: worker }}
"#
    );
    parse(&text).unwrap_or_else(|e| panic!("{e}"))
}

fn unit(api: char, web: char, worker: char) -> Unit {
    Unit {
        group: "platform".parse().unwrap(),
        members: vec![(a("api"), v("1.4.3", api)), (a("web"), v("2.0.1", web)), (a("worker"), v("0.9.0", worker))],
    }
}

#[test]
fn unit_ids_are_stable_and_order_free() {
    let u = unit('a', 'b', 'c');
    assert_eq!(u.id().as_str().len(), 12);
    assert_eq!(u.id(), unit('a', 'b', 'c').id(), "same digests, same unit");
    let reversed = UnitId::of(u.members.iter().rev().map(|(a, v)| (a, &v.digest)));
    assert_eq!(u.id(), reversed, "member order does not matter");
    assert_ne!(u.id(), unit('a', 'b', 'd').id(), "one digest differs: another unit");
    // Tags are labels: the same digests under other tags are the same unit.
    let mut retagged = u.clone();
    retagged.members[0].1.tag = "9.9.9".parse().unwrap();
    assert_eq!(u.id(), retagged.id());
    // Pinned, so a change of the hashing shows up in review.
    assert_eq!(
        u.id().as_str(),
        UnitId::of([(&a("api"), &d('a')), (&a("web"), &d('b')), (&a("worker"), &d('c'))]).as_str()
    );
    insta::assert_snapshot!(u.id().as_str(), @"8514cd18865b");
}

#[test]
fn unit_texts() {
    let u = unit('a', 'b', 'c');
    let names = |_: &ArtifactName, v: &Version| v.tag.to_string();
    let staging: StageName = "staging".parse().unwrap();
    let text = format!("{}\n\n{}", unit_title(&u, &names, &staging), unit_trailers(&u));
    insta::assert_snapshot!(text, @r"
    promote platform (api 1.4.3, web 2.0.1, worker 0.9.0) to staging

    Baton-Unit: platform/8514cd18865b
    Baton-Member: api 1.4.3@sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa
    Baton-Member: web 2.0.1@sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb
    Baton-Member: worker 0.9.0@sha256:cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc
    ");
    assert_eq!(parse_unit_trailer(&text), Some(("platform", "8514cd18865b")));
    assert_eq!(parse_unit_trailer("no trailer"), None);
}

fn mv(artifact: &str, before: char, after: char, upstream: Option<char>) -> MemberMove {
    MemberMove { artifact: a(artifact), before: Some(d(before)), after: Some(d(after)), upstream: upstream.map(d) }
}

#[test]
fn partial_moves() {
    let names = |v: &[ArtifactName]| v.iter().map(ArtifactName::as_str).collect::<Vec<_>>().join(",");
    type Row =
        (&'static str, &'static str, &'static str, Vec<MemberMove>, Option<(&'static str, &'static str)>, &'static str);
    let rows: Vec<Row> = vec![
        // staging: the unit dev verified is (api=A, web=B, worker=C).
        (
            "any",
            "deny",
            "staging",
            vec![mv("api", '7', 'a', Some('a')), mv("web", '8', 'b', Some('b')), mv("worker", '9', 'c', Some('c'))],
            None,
            "the whole unit",
        ),
        (
            "any",
            "deny",
            "staging",
            vec![mv("api", '7', 'a', Some('a')), mv("web", 'b', 'b', Some('b')), mv("worker", 'c', 'c', Some('c'))],
            None,
            "only api differs, the others already at the unit",
        ),
        (
            "any",
            "deny",
            "staging",
            vec![mv("api", '7', 'a', Some('a')), mv("web", '8', '8', Some('b')), mv("worker", '9', '9', Some('c'))],
            Some(("api", "web,worker")),
            "api alone",
        ),
        (
            "any",
            "deny",
            "staging",
            vec![mv("api", '7', '6', Some('a')), mv("web", '8', 'b', Some('b')), mv("worker", '9', 'c', Some('c'))],
            Some(("api,web,worker", "api")),
            "a digest dev never verified",
        ),
        (
            "any",
            "allow",
            "staging",
            vec![mv("api", '7', 'a', Some('a')), mv("web", '8', '8', Some('b')), mv("worker", '9', '9', Some('c'))],
            None,
            "partial: allow",
        ),
        (
            "any",
            "deny",
            "staging",
            vec![mv("api", '7', '7', Some('a')), mv("web", '8', '8', Some('b')), mv("worker", '9', '9', Some('c'))],
            None,
            "moves nothing of the group",
        ),
        // dev: units come from the registry.
        (
            "any",
            "deny",
            "dev",
            vec![mv("api", '7', 'a', None), mv("web", '8', '8', None), mv("worker", '9', '9', None)],
            None,
            "when any: one member is a new unit",
        ),
        (
            "all",
            "deny",
            "dev",
            vec![mv("api", '7', 'a', None), mv("web", '8', '8', None), mv("worker", '9', '9', None)],
            Some(("api", "web,worker")),
            "when all: every member must move",
        ),
        (
            "all",
            "deny",
            "dev",
            vec![mv("api", '7', 'a', None), mv("web", '8', 'b', None), mv("worker", '9', 'c', None)],
            None,
            "when all: all moved",
        ),
    ];
    for (when, partial, stage, moves, expected, why) in rows {
        let p = pipeline(when, partial);
        let g = &p.groups[&"platform".parse::<GroupName>().unwrap()];
        let s = p.stage(&stage.parse().unwrap()).unwrap();
        let got = partial_move(g, s, &moves).map(|m| (names(&m.moved), names(&m.left_behind)));
        let expected = expected.map(|(m, l)| (m.to_string(), l.to_string()));
        assert_eq!(got, expected, "{why}");
    }
}

#[test]
fn partial_move_row_text() {
    let p = PartialMove {
        group: "platform".parse().unwrap(),
        moved: vec![a("api")],
        left_behind: vec![a("web"), a("worker")],
    };
    insta::assert_snapshot!(partial_move_text(&p), @"moves `api` of group `platform` without `web`, `worker`");
    insta::assert_snapshot!(partial_move_fix(&"staging".parse().unwrap()), @"Let baton promote the whole unit, or set `groups: { partial: allow }` on staging.");
}

#[test]
fn when_any_or_all() {
    let rows: &[(GroupWhen, &[bool], bool)] = &[
        (GroupWhen::Any, &[false, false, false], false),
        (GroupWhen::Any, &[true, false, false], true),
        (GroupWhen::All, &[true, false, true], false),
        (GroupWhen::All, &[true, true, true], true),
        (GroupWhen::All, &[], false),
    ];
    for (when, newer, ready) in rows {
        assert_eq!(unit_ready(*when, newer), *ready, "{when:?} {newer:?}");
    }
}

fn obs(c: char, created: Option<&str>, revision: Option<&str>) -> Observed {
    let mut ann = BTreeMap::new();
    if let Some(t) = created {
        ann.insert(CREATED_ANNOTATION.to_string(), t.to_string());
    }
    if let Some(r) = revision {
        ann.insert(REVISION_ANNOTATION.to_string(), r.to_string());
    }
    Observed::from_annotations(d(c), &ann)
}

#[test]
fn tracked_version_names() {
    let main: Tag = "main".parse().unwrap();
    let rows: &[(Observed, &str)] = &[
        (obs('a', None, Some("1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b")), "main-1a2b3c4"),
        (obs('a', None, Some("1A2B3C4")), "main-1a2b3c4"),
        (obs('b', None, None), "main-bbbbbbbbbbbb"),
        (obs('b', None, Some("  ")), "main-bbbbbbbbbbbb"),
        (obs('b', None, Some("refs/heads/main")), "main-refshea"),
    ];
    for (o, name) in rows {
        let got = tracked_version_name(&main, o);
        assert_eq!(got, *name);
        assert!(got.parse::<Tag>().is_ok(), "{got} is tag text");
    }
}

#[test]
fn channel_tags_never_downgrade() {
    let c1 = obs('1', Some("2026-12-01T10:00:00Z"), Some("1111111"));
    let c2 = obs('2', Some("2026-12-01T11:00:00Z"), Some("2222222"));
    let c3 = obs('3', None, None);
    let old_build = obs('4', Some("2026-11-30T10:00:00Z"), None);
    /// (the digest the tag points at, what the stage runs, digests seen before, decision, why)
    type Case<'a> = (&'a Observed, Option<&'a Observed>, &'a [char], TrackedDecision, &'a str);
    let rows: &[Case] = &[
        (&c1, None, &[], TrackedDecision::New, "nothing runs yet"),
        (&c2, Some(&c1), &['1'], TrackedDecision::New, "built later"),
        (&c1, Some(&c1), &['1'], TrackedDecision::Current, "the same digest"),
        (&c1, Some(&c2), &['2', '1'], TrackedDecision::Older, "re-push of an older digest the stage ran"),
        (&old_build, Some(&c2), &['2', '1'], TrackedDecision::Older, "never seen, but built before the current one"),
        (&c3, Some(&c2), &['2'], TrackedDecision::New, "no created annotation: observation order"),
        (&c2, Some(&c3), &['3'], TrackedDecision::New, "the current one has no created annotation"),
    ];
    for (candidate, current, seen, expected, why) in rows {
        let seen: Vec<Digest> = seen.iter().map(|c| d(*c)).collect();
        assert_eq!(judge_tracked(candidate, *current, &seen), *expected, "{why}");
    }
}

#[test]
fn reconcile_orders_by_created_then_push_order() {
    let early = obs('1', Some("2026-12-01T10:00:00Z"), None);
    let late = obs('2', Some("2026-12-01T11:00:00Z"), None);
    let bare_a = obs('3', None, None);
    let bare_b = obs('4', None, None);
    assert_eq!(newest_observed(&[late.clone(), early.clone()]).map(|o| o.digest.clone()), Some(d('2')));
    assert_eq!(
        newest_observed(&[bare_a.clone(), bare_b.clone()]).map(|o| o.digest.clone()),
        Some(d('4')),
        "pushed later"
    );
    assert_eq!(newest_observed(&[early, bare_a]).map(|o| o.digest.clone()), Some(d('1')), "a build time beats none");
    assert_eq!(newest_observed(&[]), None);
}
