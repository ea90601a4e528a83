//! The real [`ContentSource`] of the manifest diff: the registry client's manifest read (digest
//! checked, allow-listed hosts only) and its capped, streamed blob read.

use async_trait::async_trait;

use crate::manifest_diff::ContentSource;
use crate::registry::{OciRegistry, RegistryError};
use crate::types::{Digest, ImageName};

#[async_trait]
impl ContentSource for OciRegistry {
    async fn manifest(&self, image: &ImageName, digest: &Digest) -> Result<Vec<u8>, RegistryError> {
        Ok(self.fetch_manifest(image, digest.as_str()).await?.bytes)
    }

    async fn blob(&self, image: &ImageName, digest: &Digest, max_bytes: u64) -> Result<Vec<u8>, RegistryError> {
        self.fetch_blob_capped(image, digest, max_bytes).await
    }
}
