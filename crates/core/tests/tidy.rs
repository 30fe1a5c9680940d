//! House rules that enforce themselves: what the core must not know, and what no code may keep.

use std::fs;
use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() && !path.ends_with("target") {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap()
}

/// Where any of `banned` occurs in the code (comments aside) of the Rust files under `dir`.
fn occurrences(dir: &Path, banned: &[String]) -> Vec<String> {
    let mut files = Vec::new();
    rust_files(dir, &mut files);
    assert!(!files.is_empty(), "no sources under {}", dir.display());
    let mut found = Vec::new();
    for file in &files {
        for (number, line) in code_lines(file) {
            for word in banned.iter().filter(|w| line.contains(w.as_str())) {
                found.push(format!("{}:{number}: {word}", file.display()));
            }
        }
    }
    found
}

/// Lines of code with comments stripped, with their numbers.
fn code_lines(path: &Path) -> Vec<(usize, String)> {
    let text = fs::read_to_string(path).unwrap();
    text.lines().enumerate().map(|(i, line)| (i + 1, line.split("//").next().unwrap_or("").to_owned())).collect()
}

#[test]
fn the_core_does_no_io_no_clock_no_randomness_no_floats() {
    // Built from pieces so that this file does not ban itself.
    let banned: Vec<String> = [
        ("f3", "2"),
        ("f6", "4"),
        ("std::ti", "me"),
        ("Instant::", "now"),
        ("SystemTime", ""),
        ("std::f", "s"),
        ("std::n", "et"),
        ("std::thr", "ead"),
        ("std::env", ""),
        ("std::process", ""),
        ("tok", "io"),
        ("asy", "nc "),
        ("ra", "nd::"),
        ("serde_js", "on"),
        ("sq", "lx"),
        ("ax", "um"),
    ]
    .iter()
    .map(|(a, b)| format!("{a}{b}"))
    .collect();
    let found = occurrences(&workspace().join("crates/core/src"), &banned);
    assert!(found.is_empty(), "the core must stay pure:\n{}", found.join("\n"));
}

#[test]
fn the_core_depends_on_nothing_that_does_io() {
    let manifest = fs::read_to_string(workspace().join("crates/core/Cargo.toml")).unwrap();
    let deps = manifest.split("[dependencies]").nth(1).unwrap().split('[').next().unwrap();
    let names: Vec<&str> = deps.lines().filter_map(|l| l.split(['=', '.']).next()).map(str::trim).filter(|n| !n.is_empty()).collect();
    assert_eq!(names, vec!["rustc-hash"], "the core's dependencies are reviewed one by one");
}

#[test]
fn no_debugging_leftovers_anywhere() {
    let banned: Vec<String> = [("db", "g!("), ("to", "do!("), ("unimpl", "emented!(")].iter().map(|(a, b)| format!("{a}{b}")).collect();
    let found = occurrences(&workspace().join("crates"), &banned);
    assert!(found.is_empty(), "leftovers:\n{}", found.join("\n"));
}
