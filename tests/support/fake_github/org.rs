//! Organisation-level changes: which repositories an installation is on (`all` or
//! `selected`), and repositories renamed or transferred (GitHub's `repository` webhook, action
//! `renamed` / `transferred`).

use serde_json::json;

use super::FakeGitHub;

impl FakeGitHub {
    /// Puts the owner's installation on `selected` repositories only (`None`: on all of them,
    /// the default). The installation's `repository_selection`, `GET /installation/repositories`
    /// and the GraphQL listing follow.
    pub fn set_repository_selection(&self, owner: &str, selected: Option<&[&str]>) {
        self.inner.shared.with(|s| match selected {
            Some(list) => {
                s.selected.insert(owner.to_string(), list.iter().map(|r| r.to_string()).collect());
            }
            None => {
                s.selected.remove(owner);
            }
        })
    }

    /// Renames `full_name` to `owner/new_name` (same owner) and sends `repository` `renamed`.
    pub async fn rename_repo(&self, full_name: &str, new_name: &str) {
        let owner = full_name.split('/').next().unwrap_or_default().to_string();
        let old_name = full_name.split('/').nth(1).unwrap_or_default().to_string();
        let to = format!("{owner}/{new_name}");
        self.move_repo(full_name, &to);
        self.inner.shared.with(|s| {
            let changes = json!({"changes": {"repository": {"name": {"from": old_name}}}});
            s.emit(&to, "repository", Some("renamed"), &owner, changes);
        });
    }

    /// Transfers `full_name` to `new_owner` (who gets the App's installation if it had none)
    /// and sends `repository` `transferred`.
    pub async fn transfer_repo(&self, full_name: &str, new_owner: &str) {
        let old_owner = full_name.split('/').next().unwrap_or_default().to_string();
        let name = full_name.split('/').nth(1).unwrap_or_default().to_string();
        let to = format!("{new_owner}/{name}");
        self.move_repo(full_name, &to);
        self.inner.shared.with(|s| {
            let from = s.user_json(&old_owner);
            let changes = json!({"changes": {"owner": {"from": {"organization": from}}}});
            s.emit(&to, "repository", Some("transferred"), new_owner, changes);
        });
    }

    /// The repository's data under its new name; the old name no longer resolves.
    fn move_repo(&self, from: &str, to: &str) {
        let (owner, name) = to.split_once('/').expect("owner/name");
        self.inner.shared.with(|s| {
            s.ensure_user(owner);
            s.installation_for_owner(owner);
            let mut repo = s.repos.remove(from).unwrap_or_else(|| panic!("no repository {from}"));
            repo.owner = owner.to_string();
            repo.name = name.to_string();
            repo.permissions.entry(owner.to_string()).or_insert_with(|| "admin".to_string());
            s.repos.insert(to.to_string(), repo);
            for c in s.comments.values_mut().filter(|c| c.repo == from) {
                c.repo = to.to_string();
            }
            for c in s.check_runs.values_mut().filter(|c| c.repo == from) {
                c.repo = to.to_string();
            }
            for c in s.suites.values_mut().filter(|c| c.repo == from) {
                c.repo = to.to_string();
            }
            for set in s.selected.values_mut() {
                if set.remove(from) {
                    set.insert(to.to_string());
                }
            }
        });
    }
}
