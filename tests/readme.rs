//! The README is the front door: every command and setting it names must exist.

use std::collections::BTreeSet;
use std::process::Command;

fn readme() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap()
}

#[test]
fn every_subcommand_in_the_readme_exists() {
    // Command lines inside the README's code blocks.
    let mut in_code = false;
    let mut code = String::new();
    for line in readme().lines() {
        if line.starts_with("```") {
            in_code = !in_code;
        } else if in_code {
            code.push_str(line);
            code.push('\n');
        }
    }
    let re = regex::Regex::new(r"(?m)^baton ([a-z-]+)(?: ([a-z]+))?").unwrap();
    let mut seen = BTreeSet::new();
    for c in re.captures_iter(&code) {
        let mut args: Vec<&str> = vec![c.get(1).unwrap().as_str()];
        if args[0] == "pointer" {
            args.push(c.get(2).unwrap().as_str());
        }
        args.push("--help");
        let out = Command::new(env!("CARGO_BIN_EXE_baton")).args(&args).output().unwrap();
        assert!(out.status.success(), "`baton {}` from the README does not exist", args.join(" "));
        seen.insert(args[0].to_string());
    }
    for expected in ["serve", "reconcile", "check-config", "verify", "pointer", "schema"] {
        assert!(seen.contains(expected), "the README does not document `baton {expected}`");
    }
}

#[test]
fn every_setting_in_the_readme_exists_in_default_toml() {
    let text = readme();
    let defaults: toml_like::Keys = toml_like::keys(include_str!("../config/default.toml"));
    let re = regex::Regex::new(r"`([a-z_]+)\.([a-z_]+)`").unwrap();
    let mut checked = 0;
    for c in re.captures_iter(&text) {
        let (section, key) = (c.get(1).unwrap().as_str(), c.get(2).unwrap().as_str());
        if !["server", "webhooks", "github", "registry", "verify", "log"].contains(&section) {
            continue;
        }
        assert!(
            defaults.contains(&(section.to_string(), key.to_string())),
            "README names {section}.{key}, which config/default.toml does not have"
        );
        checked += 1;
    }
    // And the environment examples.
    let env = regex::Regex::new(r"BATON_([A-Z]+)__([A-Z_]+)").unwrap();
    for c in env.captures_iter(&text) {
        let (section, key) = (c[1].to_lowercase(), c[2].to_lowercase());
        if section == "section" {
            continue;
        }
        assert!(defaults.contains(&(section.clone(), key.clone())), "README names BATON_{}__{}", &c[1], &c[2]);
        checked += 1;
    }
    assert!(checked > 15, "{checked}");
}

#[test]
fn the_readme_pipeline_example_is_valid() {
    let text = readme();
    let start = text.find("```yaml\n").expect("a yaml block") + "```yaml\n".len();
    let end = start + text[start..].find("```").unwrap();
    if let Err(e) = baton::pipeline::parse(&text[start..end]) {
        panic!("the README's .baton.yaml example is invalid:\n{e}");
    }
}

/// The few lines of TOML parsing this test needs: `[section]` headers and `key =` lines
/// (commented-out `# key =` lines document optional settings and count too).
mod toml_like {
    pub type Keys = std::collections::BTreeSet<(String, String)>;
    pub fn keys(text: &str) -> Keys {
        let mut section = String::new();
        let mut out = Keys::new();
        for line in text.lines() {
            let l = line.trim().trim_start_matches("# ");
            if let Some(s) = l.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
                section = s.to_string();
            } else if let Some((k, _)) = l.split_once(" = ") {
                if k.chars().all(|c| c.is_ascii_lowercase() || c == '_') {
                    out.insert((section.clone(), k.to_string()));
                }
            }
        }
        out
    }
}
