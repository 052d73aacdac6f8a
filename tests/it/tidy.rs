//! The layers stay one-way: every `crate::` path in `src/` must follow an edge that
//! ARCHITECTURE.md allows ("Allowed edges"), so a new back-edge fails `cargo test` with its file
//! and line, and a new top-level module must be given its place in the table first.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// `module -> allowed, modules` from the fenced block under ARCHITECTURE.md's "Allowed edges".
fn allowed_edges(architecture: &str) -> BTreeMap<String, BTreeSet<String>> {
    let section = architecture
        .split_once("## Allowed edges")
        .map(|(_, rest)| rest)
        .expect("ARCHITECTURE.md has a section '## Allowed edges'");
    let block = section.split("```").nth(1).expect("the section holds a fenced block of edges");
    let mut edges = BTreeMap::new();
    for line in block.lines().skip(1).map(str::trim).filter(|l| !l.is_empty()) {
        let (from, to) = line.split_once("->").unwrap_or_else(|| panic!("not an edge line: {line:?}"));
        let to = to.split(',').map(str::trim).filter(|m| !m.is_empty()).map(String::from).collect();
        edges.insert(from.trim().to_string(), to);
    }
    edges
}

/// The crate's top-level modules a line names through `crate::`, including each of a group
/// (`use crate::{config::Config, stats::WorkerStats}`).
fn crate_paths(line: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = line;
    while let Some(at) = rest.find("crate::") {
        let after = &rest[at + "crate::".len()..];
        if let Some(group) = after.strip_prefix('{') {
            // Names at depth one of the group: the first word, and the first word after each
            // top-level comma.
            let mut depth = 0;
            let mut word_start = Some(0);
            for (i, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => word_start = Some(i + 1),
                    _ => {}
                }
                if let Some(start) = word_start {
                    let word: String =
                        group[start..].trim_start().chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
                    if !word.is_empty() {
                        found.push(word);
                        word_start = None;
                    }
                }
            }
        } else {
            let word: String = after.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
            if !word.is_empty() {
                found.push(word);
            }
        }
        rest = after;
    }
    found
}

/// The edges of one file's source that the table does not allow: (line number, text).
fn violations(module: &str, source: &str, allowed: &BTreeSet<String>) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for (i, line) in source.lines().enumerate() {
        let code = line.trim_start();
        if code.starts_with("//") {
            continue;
        }
        for target in crate_paths(code) {
            if target != module && target != "VERSION" && !allowed.contains(&target) {
                out.push((i + 1, format!("{module} -> {target}: {}", line.trim())));
            }
        }
    }
    out
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn every_crate_path_follows_an_allowed_edge() {
    let architecture = std::fs::read_to_string(Path::new(ROOT).join("ARCHITECTURE.md")).unwrap();
    let edges = allowed_edges(&architecture);
    let src = Path::new(ROOT).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    let mut problems = Vec::new();
    for file in &files {
        let relative = file.strip_prefix(&src).unwrap();
        let first = relative.components().next().unwrap().as_os_str().to_string_lossy().into_owned();
        let module = first.trim_end_matches(".rs").to_string();
        if module == "main" || module == "lib" {
            continue; // the binary and the crate root sit above every layer
        }
        let Some(allowed) = edges.get(&module) else {
            problems.push(format!(
                "src/{}: module '{module}' has no line in ARCHITECTURE.md's allowed edges",
                relative.display()
            ));
            continue;
        };
        let source = std::fs::read_to_string(file).unwrap();
        for (line, what) in violations(&module, &source, allowed) {
            problems.push(format!("src/{}:{line}: {what}", relative.display()));
        }
    }
    assert!(problems.is_empty(), "edges that ARCHITECTURE.md does not allow:\n{}", problems.join("\n"));
}

#[test]
fn a_back_edge_is_found() {
    let allowed: BTreeSet<String> = BTreeSet::new();
    let source = "//! crate::cli in a comment is no edge\nuse crate::cli;\nfn f() { crate::protocol::x(); }\n";
    let found = violations("protocol", source, &allowed);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].0, 2);
    let grouped = crate_paths("use crate::{config::{Config, Target}, stats::WorkerStats, units};");
    assert_eq!(grouped, ["config", "stats", "units"]);
    let edges = allowed_edges("## Allowed edges\n```text\nprotocol ->\nstats -> error\n```\n");
    assert_eq!(edges["stats"], BTreeSet::from(["error".to_string()]));
    assert!(edges["protocol"].is_empty());
}
