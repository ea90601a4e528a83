//! Release units in `baton/policy` (#13): a human PR that moves only part of a group fails the
//! whole-unit rule, naming the members left behind; one that moves the whole unit passes it.

use crate::support::world::*;

const MEMBERS: [&str; 3] = ["api", "web", "worker"];

fn pipeline(host: &str) -> String {
    let mut s = String::from("artifacts:\n");
    for m in MEMBERS {
        s.push_str(&format!(
            "  {m}:\n    image: {host}/org/{m}\n    tags: '^\\d+\\.\\d+\\.\\d+$'\n    verify: [{{ key: .baton/keys/deploy.pub }}]\n"
        ));
    }
    s.push_str("groups:\n  platform: { artifacts: [api, web, worker] }\nstages:\n");
    for (stage, from) in [("dev", None), ("staging", Some("dev"))] {
        s.push_str(&format!("  - name: {stage}\n"));
        if let Some(f) = from {
            s.push_str(&format!("    from: {f}\n"));
        }
        s.push_str("    pointers:\n");
        for m in MEMBERS {
            s.push_str(&format!("      - {{ file: clusters/{stage}/{m}.yaml, format: flux-oci, artifact: {m} }}\n"));
        }
    }
    s
}

fn digest(c: char) -> String {
    format!("sha256:{}", c.to_string().repeat(64))
}

/// A Flux OCIRepository pointer at `tag@digest`.
fn pointer(tag: &str, digest: &str) -> String {
    DEV_POINTER
        .replace("\"0.5.0\"", &format!("\"{tag}\""))
        .replace("sha256:0000000000000000000000000000000000000000000000000000000000000000", digest)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_human_pr_moving_only_part_of_a_unit_fails_policy() {
    let w = World::start_custom(pipeline, true).await;
    // dev runs the unit (api 1.1.0, web 2.1.0, worker 0.2.0); staging the one before.
    let dev = [("1.1.0", digest('a')), ("2.1.0", digest('b')), ("0.2.0", digest('c'))];
    let staging = [("1.0.0", digest('d')), ("2.0.0", digest('e')), ("0.1.0", digest('f'))];
    let mut files: Vec<(String, String)> = Vec::new();
    for (i, m) in MEMBERS.iter().enumerate() {
        files.push((format!("clusters/dev/{m}.yaml"), pointer(dev[i].0, &dev[i].1)));
        files.push((format!("clusters/staging/{m}.yaml"), pointer(staging[i].0, &staging[i].1)));
    }
    let refs: Vec<(&str, Option<&str>)> = files.iter().map(|(p, t)| (p.as_str(), Some(t.as_str()))).collect();
    w.gh.push_commit(REPO, "main", "sre", "the platform unit", &refs).await;

    // Only api moves to dev's version: web and worker are left behind.
    let api = pointer(dev[0].0, &dev[0].1);
    let (_, sha) = w.human_pr("only-api", &[("clusters/staging/api.yaml", Some(&api))]).await;
    let check = w.policy(&sha).await;
    assert_eq!(check.conclusion.as_deref(), Some("failure"));
    let summary = check.summary.unwrap_or_default();
    assert!(summary.contains("| ❌ moves `api` of group `platform` without `web`, `worker` |"), "{summary}");
    assert!(
        summary.contains(
            "- **whole unit** in `clusters/staging/api.yaml` (staging): moves `api` of group `platform` without `web`, `worker`. Let baton promote the whole unit, or set `groups: { partial: allow }` on staging."
        ),
        "{summary}"
    );

    // The whole unit, exactly dev's digests: the whole-unit rule passes on every row.
    let whole: Vec<(String, String)> = MEMBERS
        .iter()
        .enumerate()
        .map(|(i, m)| (format!("clusters/staging/{m}.yaml"), pointer(dev[i].0, &dev[i].1)))
        .collect();
    let refs: Vec<(&str, Option<&str>)> = whole.iter().map(|(p, t)| (p.as_str(), Some(t.as_str()))).collect();
    let (_, sha) = w.human_pr("whole-unit", &refs).await;
    let summary = w.policy(&sha).await.summary.unwrap_or_default();
    let members: Vec<(baton::types::ArtifactName, baton::types::Digest)> =
        MEMBERS.iter().zip(&dev).map(|(m, (_, d))| (m.parse().unwrap(), d.parse().unwrap())).collect();
    let id = baton::units::UnitId::of(members.iter().map(|(a, d)| (a, d)));
    assert_eq!(summary.matches(&format!("| ✅ platform {id} |")).count(), 3, "{summary}");
    w.assert_no_violations();
}
