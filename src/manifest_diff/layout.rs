//! Which kind of content a manifest describes (pure): an artifact whose layers are tar
//! archives (Flux: one `application/vnd.cncf.flux.content.v1.tar+gzip` layer and config
//! `application/vnd.cncf.flux.config.v1+json`, per fluxcd/pkg `oci`), a container image, or an
//! index of platform images.

use std::collections::BTreeMap;

use crate::types::Digest;

/// A blob a manifest names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blob {
    pub digest: Digest,
    pub size: u64,
    pub media_type: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Layout {
    /// Every layer is a tar archive of files.
    Archive { layers: Vec<Blob> },
    /// A container image: its config (for labels) and the number of layers.
    Image { config: Blob, layers: usize },
    /// An image index (several platforms): no content diff.
    Index { manifests: usize },
}

pub const FLUX_CONTENT_TYPE: &str = "application/vnd.cncf.flux.content.v1.tar+gzip";

/// Layer media types that hold a tar archive of files (compressed or not).
const TAR_LAYER_TYPES: [&str; 7] = [
    FLUX_CONTENT_TYPE,
    "application/vnd.oci.image.layer.v1.tar",
    "application/vnd.oci.image.layer.v1.tar+gzip",
    "application/tar",
    "application/x-tar",
    "application/tar+gzip",
    "application/gzip",
];

/// Config media types of container images.
const IMAGE_CONFIG_TYPES: [&str; 2] =
    ["application/vnd.oci.image.config.v1+json", "application/vnd.docker.container.image.v1+json"];

fn blob(v: &serde_json::Value) -> Result<Blob, String> {
    let digest = v["digest"].as_str().ok_or("a descriptor has no digest")?;
    Ok(Blob {
        digest: digest.parse().map_err(|_| format!("a descriptor's digest is not sha256: {}", shorten(digest)))?,
        size: v["size"].as_u64().ok_or("a descriptor has no size")?,
        media_type: v["mediaType"].as_str().unwrap_or_default().to_string(),
    })
}

fn shorten(s: &str) -> String {
    crate::types::shorten_to(s, 80)
}

/// Reads the layout from manifest bytes (already digest-checked by the registry client).
pub fn of_manifest(bytes: &[u8]) -> Result<Layout, String> {
    let v: serde_json::Value = serde_json::from_slice(bytes).map_err(|_| "the manifest is not JSON".to_string())?;
    if let Some(m) = v["manifests"].as_array() {
        return Ok(Layout::Index { manifests: m.len() });
    }
    let config = blob(&v["config"])?;
    let layers = v["layers"].as_array().ok_or("the manifest has no layers")?;
    if IMAGE_CONFIG_TYPES.contains(&config.media_type.as_str()) {
        return Ok(Layout::Image { config, layers: layers.len() });
    }
    let layers = layers.iter().map(blob).collect::<Result<Vec<_>, _>>()?;
    if let Some(other) = layers.iter().find(|l| !TAR_LAYER_TYPES.contains(&l.media_type.as_str())) {
        return Err(format!("its layer type {} is not a tar archive", shorten(&other.media_type)));
    }
    if layers.is_empty() {
        return Err("it has no layers".into());
    }
    Ok(Layout::Archive { layers })
}

/// The labels of an image config (`config.Labels`); absent or null: none.
pub fn image_labels(config: &[u8]) -> Result<BTreeMap<String, String>, String> {
    let v: serde_json::Value =
        serde_json::from_slice(config).map_err(|_| "the image config is not JSON".to_string())?;
    Ok(v.pointer("/config/Labels")
        .and_then(|l| l.as_object())
        .map(|m| m.iter().filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string()))).collect())
        .unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

    fn manifest(config_type: &str, layer_types: &[&str]) -> Vec<u8> {
        let layers: Vec<_> =
            layer_types.iter().map(|t| serde_json::json!({"mediaType": t, "digest": D, "size": 10})).collect();
        serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": config_type, "digest": D, "size": 2}, "layers": layers,
        }))
        .unwrap()
    }

    #[test]
    fn table() {
        let flux_cfg = "application/vnd.cncf.flux.config.v1+json";
        let rows: Vec<(&str, Vec<u8>, Result<&str, &str>)> = vec![
            ("flux artifact", manifest(flux_cfg, &[FLUX_CONTENT_TYPE]), Ok("archive 1")),
            (
                "oci tar layers",
                manifest(
                    "application/vnd.oci.empty.v1+json",
                    &["application/vnd.oci.image.layer.v1.tar", "application/vnd.oci.image.layer.v1.tar+gzip"],
                ),
                Ok("archive 2"),
            ),
            (
                "image",
                manifest(
                    "application/vnd.oci.image.config.v1+json",
                    &["application/vnd.oci.image.layer.v1.tar+gzip"; 3],
                ),
                Ok("image 3"),
            ),
            (
                "docker image",
                manifest(
                    "application/vnd.docker.container.image.v1+json",
                    &["application/vnd.docker.image.rootfs.diff.tar.gzip"],
                ),
                Ok("image 1"),
            ),
            (
                "helm chart",
                manifest(
                    "application/vnd.cncf.helm.config.v1+json",
                    &["application/vnd.cncf.helm.chart.content.v1.tar+gzip"],
                ),
                Err("its layer type application/vnd.cncf.helm.chart.content.v1.tar+gzip is not a tar archive"),
            ),
            ("no layers", manifest(flux_cfg, &[]), Err("it has no layers")),
            ("index", br#"{"schemaVersion":2,"manifests":[{},{}]}"#.to_vec(), Ok("index 2")),
        ];
        for (name, bytes, want) in rows {
            let got = of_manifest(&bytes).map(|l| match l {
                Layout::Archive { layers } => format!("archive {}", layers.len()),
                Layout::Image { layers, .. } => format!("image {layers}"),
                Layout::Index { manifests } => format!("index {manifests}"),
            });
            assert_eq!(got.as_deref().map_err(String::as_str), want, "{name}");
        }
    }

    #[test]
    fn labels() {
        let l = image_labels(br#"{"config":{"Labels":{"org.opencontainers.image.version":"1.2","n":1}}}"#).unwrap();
        assert_eq!(l.into_iter().collect::<Vec<_>>(), [("org.opencontainers.image.version".into(), "1.2".into())]);
        assert!(image_labels(br#"{"config":{"Labels":null}}"#).unwrap().is_empty());
        assert!(image_labels(b"nope").is_err());
    }
}
