//! The `.baton.yaml` blocks of docs/flux.md and docs/argo-cd.md are valid pipelines, and use the
//! check shapes those pages explain.

fn pipelines(doc: &str) -> Vec<String> {
    let text = std::fs::read_to_string(format!("{}/docs/{doc}", env!("CARGO_MANIFEST_DIR"))).unwrap();
    let mut out = Vec::new();
    let mut block: Option<String> = None;
    for line in text.lines() {
        match (&mut block, line) {
            (None, "```yaml") => block = Some(String::new()),
            (Some(b), "```") => {
                if b.starts_with("artifacts:") {
                    out.push(b.clone());
                }
                block = None;
            }
            (Some(b), l) => {
                b.push_str(l);
                b.push('\n');
            }
            _ => {}
        }
    }
    out
}

fn checks(doc: &str) -> Vec<(String, u32)> {
    let blocks = pipelines(doc);
    assert_eq!(blocks.len(), 1, "{doc}: one .baton.yaml block");
    let p = baton::pipeline::parse(&blocks[0]).unwrap_or_else(|e| panic!("{doc}: {e}"));
    p.stages.iter().flat_map(|s| s.verification.checks.iter().map(|c| (c.pattern.to_string(), c.min))).collect()
}

#[test]
fn flux_page_pipeline_is_valid() {
    let c = checks("flux.md");
    assert!(c.contains(&("kustomization/myapp-dev/*".into(), 1)), "{c:?}");
    assert!(c.contains(&("kustomization/myapp-staging/*".into(), 2)), "{c:?}");
    assert!(c.contains(&("flux/helmrelease/apps/myapp".into(), 1)), "{c:?}");
    // The context Flux's GitHub provider writes matches the documented pattern.
    let p = baton::planner::signals::CheckPattern::parse("kustomization/myapp-dev/*").unwrap();
    assert!(p.matches("kustomization/myapp-dev/0c9c2e41"));
}

#[test]
fn argo_cd_page_pipeline_is_valid() {
    let c = checks("argo-cd.md");
    assert!(c.contains(&("continuous-delivery/myapp-dev".into(), 1)), "{c:?}");
    assert!(c.contains(&("continuous-delivery/myapp-staging-*".into(), 2)), "{c:?}");
}
