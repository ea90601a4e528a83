//! `baton check-config` as a binary: exit 0 for a valid file, 2 for an invalid or
//! unreadable one, problems on stderr as `FILE:line N: message`.

use std::process::Command;

fn check_config(file: &str) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_baton")).args(["check-config", file]).output().unwrap();
    (
        out.status.code().expect("exit code"),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn valid_example_exits_0() {
    let (code, stdout, stderr) = check_config("examples/baton.yaml");
    assert_eq!(code, 0, "stderr: {stderr}");
    assert_eq!(stdout.trim(), "examples/baton.yaml: ok (4 artifacts, 4 stages)");
    assert!(stderr.is_empty(), "{stderr}");
}

#[test]
fn invalid_file_exits_2_with_lines() {
    let (code, stdout, stderr) = check_config("examples/invalid/cycle.yaml");
    assert_eq!(code, 2);
    assert!(stdout.is_empty(), "{stdout}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(
        lines,
        [
            "examples/invalid/cycle.yaml:line 11: stages[1] (staging).from: `from` links form a cycle: staging → prod-eu → prod-us → staging (a stage promotes what the one before it verified)",
            "examples/invalid/cycle.yaml:line 20: stages[4] (qa).from: a stage cannot come from itself",
        ]
    );
}

#[test]
fn every_invalid_example_exits_2() {
    for entry in std::fs::read_dir("examples/invalid").unwrap() {
        let path = entry.unwrap().path();
        let file = path.to_str().unwrap();
        let (code, _, stderr) = check_config(file);
        assert_eq!(code, 2, "{file}");
        assert!(!stderr.is_empty(), "{file}");
        for line in stderr.lines() {
            assert!(line.starts_with(&format!("{file}:line ")), "{line}");
        }
    }
}

#[test]
fn unreadable_file_exits_2() {
    let (code, _, stderr) = check_config("examples/does-not-exist.yaml");
    assert_eq!(code, 2);
    assert!(stderr.contains("cannot read examples/does-not-exist.yaml"), "{stderr}");
}

#[test]
fn garbage_file_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("garbage.yaml");
    std::fs::write(&path, b"\xff\xfe\x00garbage: [").unwrap();
    let (code, _, _) = check_config(path.to_str().unwrap());
    assert_eq!(code, 2);
}
