//! The time a manifest diff adds to a promotion, for a 1 MB artifact:
//! `cargo bench --bench manifest_diff`. Two Flux-style versions (one tar+gzip layer of 100
//! Kubernetes YAML files, 1 MB uncompressed) served from memory, so the figure is baton's own
//! work: decompressing, parsing, canonicalizing, diffing, rendering (the registry round trips
//! come on top, two manifests and two blobs, fetched concurrently).

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use baton::manifest_diff::{render, ContentSource, Differ, Limits};
use baton::registry::RegistryError;
use baton::types::{Digest, ImageName};
use criterion::{criterion_group, criterion_main, Criterion};

struct Memory(HashMap<Digest, Vec<u8>>);

#[async_trait]
impl ContentSource for Memory {
    async fn manifest(&self, _: &ImageName, d: &Digest) -> Result<Vec<u8>, RegistryError> {
        Ok(self.0[d].clone())
    }
    async fn blob(&self, _: &ImageName, d: &Digest, _: u64) -> Result<Vec<u8>, RegistryError> {
        Ok(self.0[d].clone())
    }
}

/// 100 files of about 10 KB: a Deployment with a long ConfigMap each.
fn files(tag: &str) -> Vec<(String, String)> {
    (0..100)
        .map(|i| {
            let mut text = format!(
                "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: svc-{i}\n  namespace: shop\nspec:\n  replicas: 2\n  template:\n    spec:\n      containers:\n        - name: app\n          image: ghcr.io/org/svc-{i}:{}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: svc-{i}-config\ndata:\n",
                if i % 10 == 0 { tag } else { "1.0.0" }
            );
            let mut k = 0;
            while text.len() < 10_000 {
                text.push_str(&format!("  key-{k:04}: \"value {k} of service {i}, long enough to look like configuration\"\n"));
                k += 1;
            }
            (format!("svc-{i:03}.yaml"), text)
        })
        .collect()
}

fn layer(files: &[(String, String)]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (path, text) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(text.len() as u64);
        h.set_mode(0o644);
        b.append_data(&mut h, path, text.as_bytes()).unwrap();
    }
    let tar = b.into_inner().unwrap();
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut enc, &tar).unwrap();
    enc.finish().unwrap()
}

fn artifact(blobs: &mut HashMap<Digest, Vec<u8>>, files: &[(String, String)]) -> Digest {
    let layer = layer(files);
    let size = layer.len();
    let ld = Digest::of(&layer);
    blobs.insert(ld.clone(), layer);
    let m = serde_json::json!({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.cncf.flux.config.v1+json", "digest": Digest::of(b"{}").to_string(), "size": 2},
        "layers": [{"mediaType": "application/vnd.cncf.flux.content.v1.tar+gzip", "digest": ld.to_string(), "size": size}],
    });
    let m = serde_json::to_vec(&m).unwrap();
    let d = Digest::of(&m);
    blobs.insert(d.clone(), m);
    d
}

fn diff(c: &mut Criterion) {
    let (old_files, new_files) = (files("1.4.2"), files("1.4.3"));
    let total: usize = new_files.iter().map(|(_, t)| t.len()).sum();
    assert!((1_000_000..1_100_000).contains(&total), "{total}");
    let mut blobs = HashMap::new();
    let old = artifact(&mut blobs, &old_files);
    let new = artifact(&mut blobs, &new_files);
    let source: Arc<dyn ContentSource> = Arc::new(Memory(blobs));
    let image: ImageName = "registry.internal/deployments/myapp".parse().unwrap();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    c.bench_function("manifest diff: 1 MB Flux artifact, 10 of 100 files changed (uncached, rendered)", |b| {
        b.iter(|| {
            // A new Differ each time: no cache hit.
            let differ = Differ::new(source.clone(), Limits::default());
            let d = rt.block_on(differ.diff(&image, &old, &new));
            let h = render::Heading { artifact: "myapp", old: "0.5.122", new: "0.5.123", more: Some("/diff prod") };
            let text = render::markdown(&h, &d, render::PR_BODY_BUDGET);
            assert!(text.contains("10 files changed"), "{text}");
        })
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = diff
}
criterion_main!(benches);
