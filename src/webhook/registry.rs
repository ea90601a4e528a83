//! Registry notifications (`POST /webhooks/registry`) → [`RegistryPush`] events:
//! Docker Distribution / Zot notification envelopes (`{"events": [...]}`) and Harbor
//! `PUSH_ARTIFACT` payloads. Blob events and pushes without a tag are ignored. Nothing in the
//! payload is ever fetched: only the repository path and the tag are used.

use serde::Deserialize;

use crate::event::RegistryPush;

#[derive(Deserialize)]
#[serde(untagged)]
enum Payload {
    Distribution(Envelope),
    Harbor(Harbor),
}

#[derive(Deserialize)]
struct Envelope {
    events: Vec<DistributionEvent>,
}

#[derive(Deserialize)]
struct DistributionEvent {
    #[serde(default)]
    action: String,
    #[serde(default)]
    target: Option<Target>,
    #[serde(default)]
    request: Option<Request>,
}

#[derive(Deserialize)]
struct Target {
    #[serde(default, rename = "mediaType")]
    media_type: Option<String>,
    #[serde(default)]
    repository: Option<String>,
    #[serde(default)]
    tag: Option<String>,
    #[serde(default)]
    digest: Option<String>,
}

#[derive(Deserialize)]
struct Request {
    #[serde(default)]
    host: Option<String>,
}

#[derive(Deserialize)]
struct Harbor {
    #[serde(rename = "type")]
    kind: String,
    event_data: HarborData,
}

#[derive(Deserialize)]
struct HarborData {
    #[serde(default)]
    resources: Vec<HarborResource>,
    repository: HarborRepository,
}

#[derive(Deserialize)]
struct HarborResource {
    #[serde(default)]
    tag: Option<String>,
    #[serde(default)]
    digest: Option<String>,
    #[serde(default)]
    resource_url: Option<String>,
}

#[derive(Deserialize)]
struct HarborRepository {
    repo_full_name: String,
}

/// The result of parsing one registry notification: the pushes it announces, and how many
/// entries were ignored (pulls, blob pushes, pushes without a tag, invalid tags).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Notifications {
    pub pushes: Vec<RegistryPush>,
    pub ignored: usize,
}

fn is_manifest(media_type: Option<&str>) -> bool {
    match media_type {
        // Older Distribution versions omit the media type on manifest events.
        None => true,
        Some(m) => m.contains("manifest") || m.contains("index") || m.contains("image.config"),
    }
}

pub fn parse(body: &[u8]) -> Result<Notifications, String> {
    let payload: Payload = serde_json::from_slice(body).map_err(|_| {
        "not a Docker Distribution / Zot notification envelope or a Harbor PUSH_ARTIFACT event".to_string()
    })?;
    let mut out = Notifications::default();
    match payload {
        Payload::Distribution(env) => {
            for ev in env.events {
                let Some(t) = ev.target else {
                    out.ignored += 1;
                    continue;
                };
                let tag = t.tag.as_deref().unwrap_or("");
                let push = ev.action == "push" && is_manifest(t.media_type.as_deref()) && !tag.is_empty();
                let digest = t.digest.as_deref().and_then(|d| d.parse().ok());
                match (push, t.repository, tag.parse()) {
                    (true, Some(repository), Ok(tag)) if !repository.is_empty() => {
                        out.pushes.push(RegistryPush { host: ev.request.and_then(|r| r.host), repository, tag, digest })
                    }
                    _ => out.ignored += 1,
                }
            }
        }
        Payload::Harbor(h) => {
            if h.kind != "PUSH_ARTIFACT" {
                out.ignored += 1;
                return Ok(out);
            }
            for r in h.event_data.resources {
                let host = r.resource_url.as_deref().and_then(|u| u.split('/').next()).map(str::to_string);
                match r.tag.as_deref().unwrap_or("").parse() {
                    Ok(tag) => out.pushes.push(RegistryPush {
                        host,
                        repository: h.event_data.repository.repo_full_name.clone(),
                        tag,
                        digest: r.digest.as_deref().and_then(|d| d.parse().ok()),
                    }),
                    Err(_) => out.ignored += 1,
                }
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distribution_envelope() {
        let body = br#"{"events":[
          {"id":"1","action":"push","target":{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:aa","repository":"deployments/myapp","url":"http://evil/","tag":"0.5.1"},"request":{"host":"127.0.0.1:5000"}},
          {"id":"2","action":"push","target":{"mediaType":"application/octet-stream","digest":"sha256:bb","repository":"deployments/myapp"}},
          {"id":"3","action":"push","target":{"mediaType":"application/vnd.oci.image.manifest.v1+json","repository":"deployments/myapp"}},
          {"id":"4","action":"pull","target":{"mediaType":"application/vnd.oci.image.manifest.v1+json","repository":"deployments/myapp","tag":"0.5.1"}},
          {"id":"5","action":"push","target":{"mediaType":"application/vnd.oci.image.manifest.v1+json","repository":"deployments/myapp","tag":"bad tag"}}
        ]}"#;
        let n = parse(body).unwrap();
        assert_eq!(n.pushes.len(), 1);
        assert_eq!(n.pushes[0].repository, "deployments/myapp");
        assert_eq!(n.pushes[0].tag.as_str(), "0.5.1");
        // "sha256:aa" is not a digest: dropped, the tag is resolved instead.
        assert_eq!(n.pushes[0].digest, None);
        assert_eq!(n.ignored, 4);
        let d = format!("sha256:{}", "ab".repeat(32));
        let body = format!(
            r#"{{"events":[{{"action":"push","target":{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{d}","repository":"org/worker","tag":"main"}}}}]}}"#
        );
        let n = parse(body.as_bytes()).unwrap();
        assert_eq!(n.pushes[0].digest.as_ref().map(|x| x.as_str()), Some(d.as_str()));
    }

    #[test]
    fn harbor_push_artifact() {
        let body = br#"{"type":"PUSH_ARTIFACT","occur_at":1700000000,"operator":"ci",
          "event_data":{"resources":[{"digest":"sha256:aa","tag":"1.2.3","resource_url":"harbor.example/deployments/myapp:1.2.3"}],
          "repository":{"name":"myapp","namespace":"deployments","repo_full_name":"deployments/myapp","repo_type":"private"}}}"#;
        let n = parse(body).unwrap();
        assert_eq!(n.pushes.len(), 1);
        assert_eq!(n.pushes[0].host.as_deref(), Some("harbor.example"));
        assert_eq!(n.pushes[0].repository, "deployments/myapp");
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(parse(b"{").is_err());
        assert!(parse(b"[]").is_err());
        assert!(parse(br#"{"events": 3}"#).is_err());
    }
}
