//! Multi-Region keys: replicating a primary key into another region (ReplicateKey).

use super::AwsKmsBackend;
use super::errors::no_field;
use super::mapping::key_info_from_metadata;
use crate::key::KeyInfo;
use crate::key_ref::KeyRef;
use crate::{Error, Result};

impl AwsKmsBackend {
    /// Replicates a multi-region primary key into `replica_region` (KMS `ReplicateKey`); the
    /// replica has the same key id there. Aliases are per region: name the replica with
    /// [`crate::Backend::create_alias`] on a backend of that region.
    pub async fn replicate_key(
        &self,
        key: &KeyRef,
        replica_region: &str,
        description: Option<&str>,
    ) -> Result<KeyInfo> {
        super::config::check_region(replica_region)?;
        let info = self.describe_fresh(key).await?.0;
        if !info.multi_region {
            return Err(Error::invalid_input(format!(
                "{} is not a multi-region key; create it with multi_region to replicate it",
                info.display_name()
            )));
        }
        let mut req = self
            .client_for(key)?
            .replicate_key()
            .key_id(&info.key_id)
            .replica_region(replica_region);
        if let Some(d) = description {
            req = req.description(d);
        }
        let out = match req.send().await {
            Ok(o) => o,
            Err(e) => return Err(self.fail(e, "ReplicateKey", key).await),
        };
        let meta = out
            .replica_key_metadata()
            .ok_or_else(|| no_field("ReplicateKey", "replica metadata", &info.key_id))?;
        key_info_from_metadata(meta)
    }
}
