//! octocrab GitHub App client.
