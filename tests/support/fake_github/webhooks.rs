//! Webhook delivery: one ordered queue (and task) per repository, HMAC-signed like GitHub,
//! no retries, every attempt recorded.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;
use tokio::sync::mpsc;

use super::state::OutEvent;

/// One delivery attempt, as GitHub's "Recent Deliveries" shows it.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub id: String,
    pub event: String,
    pub action: Option<String>,
    pub repo: String,
    pub payload: Value,
    /// The receiver's HTTP status; `None` while in flight or when the request failed.
    pub status: Option<u16>,
    pub error: Option<String>,
    pub delivered: bool,
    pub redelivery: bool,
}

#[derive(Clone)]
struct Job {
    index: usize,
    id: String,
    event: String,
    body: Arc<Vec<u8>>,
    url: String,
    secret: String,
    /// More receivers of the same delivery (a second replica), sent at the same time.
    mirrors: Vec<String>,
}

pub struct Dispatcher {
    target: Option<(String, String)>,
    mirrors: Vec<String>,
    queues: HashMap<String, mpsc::UnboundedSender<Job>>,
    pub handles: Vec<tokio::task::JoinHandle<()>>,
    pub pending: Arc<AtomicUsize>,
    pub deliveries: Arc<Mutex<Vec<Delivery>>>,
    bodies: HashMap<String, (String, Arc<Vec<u8>>)>,
    client: reqwest::Client,
    rt: tokio::runtime::Handle,
    counter: u64,
    hook_id: u64,
    app_id: u64,
    /// Events (`check_run`, …) whose deliveries are lost on the way: recorded, never sent.
    lost: Vec<String>,
}

pub fn sign(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("hmac key");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

impl Dispatcher {
    pub fn new(rt: tokio::runtime::Handle) -> Dispatcher {
        Dispatcher {
            target: None,
            mirrors: Vec::new(),
            queues: HashMap::new(),
            handles: Vec::new(),
            pending: Arc::new(AtomicUsize::new(0)),
            deliveries: Arc::new(Mutex::new(Vec::new())),
            bodies: HashMap::new(),
            client: reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(10))
                .build()
                .expect("reqwest client"),
            rt,
            counter: 0,
            hook_id: 4_242_424,
            app_id: 1,
            lost: Vec::new(),
        }
    }

    pub fn set_target(&mut self, url: &str, secret: &str) {
        self.target = Some((url.to_string(), secret.to_string()));
    }

    pub fn add_mirror(&mut self, url: &str) {
        self.mirrors.push(url.to_string());
    }

    pub fn set_app_id(&mut self, id: u64) {
        self.app_id = id;
    }

    /// From now on, deliveries of these events are lost (an empty list: none are).
    pub fn lose(&mut self, events: &[&str]) {
        self.lost = events.iter().map(|e| e.to_string()).collect();
    }

    pub fn enqueue(&mut self, ev: OutEvent) {
        let Some((url, secret)) = self.target.clone() else {
            return;
        };
        self.counter += 1;
        let nanos =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
        let id = format!(
            "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
            nanos,
            self.counter & 0xffff,
            (nanos >> 8) & 0xfff,
            self.counter & 0xfff,
            self.counter.wrapping_mul(0x9E37_79B9_7F4A) & 0xffff_ffff_ffff
        );
        let body = Arc::new(serde_json::to_vec(&ev.payload).expect("payload json"));
        self.bodies.insert(id.clone(), (ev.event.clone(), body.clone()));
        let index = {
            let mut d = self.deliveries.lock().unwrap();
            d.push(Delivery {
                id: id.clone(),
                event: ev.event.clone(),
                action: ev.action.clone(),
                repo: ev.repo.clone(),
                payload: ev.payload,
                status: None,
                error: None,
                delivered: false,
                redelivery: false,
            });
            if self.lost.contains(&ev.event) {
                let rec = d.last_mut().expect("just pushed");
                rec.delivered = true;
                rec.error = Some("lost on the way (injected)".into());
                return;
            }
            d.len() - 1
        };
        let mirrors = self.mirrors.clone();
        self.send(&ev.repo, Job { index, id, event: ev.event, body, url, secret, mirrors });
    }

    /// Sends a past delivery again with the same id and the same bytes.
    pub fn redeliver(&mut self, id: &str) -> bool {
        let Some((url, secret)) = self.target.clone() else {
            return false;
        };
        let Some((event, body)) = self.bodies.get(id).cloned() else {
            return false;
        };
        let (index, repo) = {
            let mut d = self.deliveries.lock().unwrap();
            let Some(orig) = d.iter().find(|d| d.id == id).cloned() else {
                return false;
            };
            d.push(Delivery { status: None, error: None, delivered: false, redelivery: true, ..orig.clone() });
            (d.len() - 1, orig.repo)
        };
        let mirrors = self.mirrors.clone();
        self.send(&repo, Job { index, id: id.to_string(), event, body, url, secret, mirrors });
        true
    }

    fn send(&mut self, repo: &str, job: Job) {
        self.pending.fetch_add(1, Ordering::SeqCst);
        if let Some(tx) = self.queues.get(repo) {
            if tx.send(job.clone()).is_ok() {
                return;
            }
        }
        let (tx, mut rx) = mpsc::unbounded_channel::<Job>();
        let client = self.client.clone();
        let pending = self.pending.clone();
        let deliveries = self.deliveries.clone();
        let hook_id = self.hook_id;
        let app_id = self.app_id;
        let handle = self.rt.spawn(async move {
            while let Some(job) = rx.recv().await {
                let post = |url: &str| {
                    client
                        .post(url)
                        .header("X-GitHub-Event", &job.event)
                        .header("X-GitHub-Delivery", &job.id)
                        .header("X-GitHub-Hook-ID", hook_id.to_string())
                        .header("X-GitHub-Hook-Installation-Target-Type", "integration")
                        .header("X-GitHub-Hook-Installation-Target-ID", app_id.to_string())
                        .header("X-Hub-Signature-256", sign(&job.secret, &job.body))
                        .header("Content-Type", "application/json")
                        .header("User-Agent", "GitHub-Hookshot/fake")
                        .body(job.body.as_ref().clone())
                        .send()
                };
                let mirrored = futures::future::join_all(job.mirrors.iter().map(|m| post(m)));
                let (res, _) = futures::future::join(post(&job.url), mirrored).await;
                {
                    let mut d = deliveries.lock().unwrap();
                    let rec = &mut d[job.index];
                    rec.delivered = true;
                    match res {
                        Ok(r) => rec.status = Some(r.status().as_u16()),
                        Err(e) => rec.error = Some(e.to_string()),
                    }
                }
                pending.fetch_sub(1, Ordering::SeqCst);
            }
        });
        tx.send(job).expect("fresh queue");
        self.queues.insert(repo.to_string(), tx);
        self.handles.push(handle);
    }
}
