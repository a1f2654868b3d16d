//! The module structure as `ARCHITECTURE.md` promises it: no import circles among the files
//! under `src/`, and no file longer than about 400 lines outside its tests.
//!
//! A file's imports are read from its source: `use` trees and inline paths that start with
//! `crate::`, `super::` or a child module the file declares. Test modules (from the first
//! `#[cfg(test)]` on) and comments are not read.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Longest a file may be, tests not counted.
const MAX_LINES: usize = 400;

/// One crate's files, by module path (`""` is the root, `encode::png` a file in a folder).
struct Crate {
    files: BTreeMap<String, PathBuf>,
}

impl Crate {
    /// The crate rooted at `root_file` (`src/lib.rs` or `src/bin/vellum/main.rs`).
    fn read(root_file: &Path) -> Crate {
        let mut files = BTreeMap::new();
        collect(root_file, "", &mut files);
        Crate { files }
    }

    /// The deepest module of this crate that `path` (`encode::png::png_into`) names.
    fn resolve(&self, path: &[&str]) -> Option<String> {
        (1..=path.len())
            .rev()
            .map(|n| path[..n].join("::"))
            .find(|m| self.files.contains_key(m))
    }

    /// Edges `from -> to` between different files.
    fn imports(&self) -> BTreeMap<String, BTreeSet<String>> {
        let mut edges = BTreeMap::new();
        for (module, file) in &self.files {
            let code = code_of(file);
            let parent: Vec<&str> = match module.rsplit_once("::") {
                Some((parent, _)) => parent.split("::").collect(),
                None => Vec::new(),
            };
            let own: Vec<&str> = module.split("::").filter(|s| !s.is_empty()).collect();
            let mut to = BTreeSet::new();
            for path in paths(&code) {
                let mut full: Vec<&str> = match path[0].as_str() {
                    "crate" => Vec::new(),
                    "super" => parent.clone(),
                    "self" => own.clone(),
                    child if self.files.contains_key(&join(&own, child)) => own.clone(),
                    _ => continue, // another crate or a local name
                };
                let start = usize::from(matches!(path[0].as_str(), "crate" | "super" | "self"));
                full.extend(path[start..].iter().map(String::as_str));
                if let Some(target) = self.resolve(&full)
                    && &target != module
                {
                    to.insert(target);
                }
            }
            edges.insert(module.clone(), to);
        }
        edges
    }
}

fn join(prefix: &[&str], name: &str) -> String {
    let mut parts = prefix.to_vec();
    parts.push(name);
    parts.join("::")
}

/// Adds `file` as `module` and, recursively, the modules it declares with `mod name;`.
fn collect(file: &Path, module: &str, files: &mut BTreeMap<String, PathBuf>) {
    files.insert(module.to_string(), file.to_path_buf());
    let dir = match file.file_name().and_then(|n| n.to_str()) {
        Some("lib.rs" | "main.rs" | "mod.rs") => file.parent().unwrap().to_path_buf(),
        _ => file.with_extension(""),
    };
    for line in code_of(file).lines() {
        let line = line.trim();
        let line = line.strip_prefix("pub ").unwrap_or(line);
        let Some(name) = line.strip_prefix("mod ").and_then(|l| l.strip_suffix(';')) else {
            continue;
        };
        let child = if module.is_empty() {
            name.to_string()
        } else {
            format!("{module}::{name}")
        };
        let flat = dir.join(format!("{name}.rs"));
        let folder = dir.join(name).join("mod.rs");
        let path = if flat.exists() { flat } else { folder };
        assert!(path.exists(), "{}: mod {name}: no file", file.display());
        collect(&path, &child, files);
    }
}

/// The file's code before its tests, without comments.
fn code_of(file: &Path) -> String {
    let text = std::fs::read_to_string(file).unwrap();
    text.lines()
        .take_while(|line| line.trim() != "#[cfg(test)]")
        .map(|line| match line.find("//") {
            Some(at) if !line[..at].contains('"') => &line[..at],
            _ => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every path the code names: each leaf of every `use` tree, and inline `crate::`,
/// `super::` and `self::` paths, as segments.
fn paths(code: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let mut other = String::new(); // the code outside `use` statements
    let mut rest = code;
    while let Some(at) = find_use(rest) {
        other.push_str(&rest[..at]);
        let tree = &rest[at + 4..];
        let end = tree.find(';').unwrap_or(tree.len());
        expand(tree[..end].trim(), Vec::new(), &mut out);
        rest = &tree[end..];
    }
    other.push_str(rest);
    for (at, _) in other.match_indices("::") {
        let start = other[..at]
            .rfind(|c: char| !(c.is_alphanumeric() || c == '_'))
            .map_or(0, |i| i + 1);
        let head = &other[start..at];
        if start > 0 && other[..start].ends_with("::") {
            continue; // the middle of a longer path
        }
        if !matches!(head, "crate" | "super" | "self") {
            continue;
        }
        let tail = &other[at + 2..];
        let len = tail
            .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
            .unwrap_or(tail.len());
        let mut path = vec![head.to_string()];
        path.extend(
            tail[..len]
                .split("::")
                .filter(|s| !s.is_empty())
                .map(str::to_string),
        );
        out.push(path);
    }
    out
}

/// Where the next `use` statement starts.
fn find_use(code: &str) -> Option<usize> {
    code.match_indices("use ")
        .map(|(at, _)| at)
        .find(|&at| at == 0 || code[..at].ends_with(|c: char| c.is_whitespace() || c == ';'))
}

/// Expands a use tree (`crate::a::{b, c::{d, e}}`) into its leaf paths.
fn expand(tree: &str, prefix: Vec<String>, out: &mut Vec<Vec<String>>) {
    let tree = tree.trim();
    match tree.find('{') {
        Some(open) => {
            let mut path = prefix;
            path.extend(
                tree[..open]
                    .split("::")
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_string),
            );
            let inner = &tree[open + 1..tree.rfind('}').unwrap_or(tree.len())];
            let mut depth = 0;
            let mut start = 0;
            for (i, c) in inner.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        expand(&inner[start..i], path.clone(), out);
                        start = i + 1;
                    }
                    _ => {}
                }
            }
            expand(&inner[start..], path, out);
        }
        None => {
            let tree = tree.split(" as ").next().unwrap_or(tree);
            let mut path = prefix;
            path.extend(
                tree.split("::")
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_string),
            );
            if path.last().is_some_and(|s| s == "self") {
                path.pop();
            }
            if !path.is_empty() {
                out.push(path);
            }
        }
    }
}

/// A cycle in `edges`, as the modules along it, if there is one.
fn find_cycle(edges: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        done: &mut BTreeSet<String>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = stack.iter().position(|n| n == node) {
            let mut cycle = stack[at..].to_vec();
            cycle.push(node.to_string());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        stack.push(node.to_string());
        for next in edges.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, edges, done, stack) {
                return Some(cycle);
            }
        }
        stack.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = BTreeSet::new();
    edges
        .keys()
        .find_map(|node| visit(node, edges, &mut done, &mut Vec::new()))
}

fn crates() -> Vec<(&'static str, Crate)> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    vec![
        ("library", Crate::read(&src.join("lib.rs"))),
        ("binary", Crate::read(&src.join("bin/vellum/main.rs"))),
    ]
}

fn show(module: &str) -> &str {
    if module.is_empty() { "(root)" } else { module }
}

#[test]
fn no_module_imports_one_that_imports_it_back() {
    // An import each crate is known to have, so that a reader that finds nothing fails.
    let known = [("library", "engine", "job"), ("binary", "", "args")];
    for ((name, krate), (_, from, to)) in crates().into_iter().zip(known) {
        let edges = krate.imports();
        assert!(
            edges.get(from).is_some_and(|e| e.contains(to)),
            "{name}: the import of {to} by {} was not found: {edges:?}",
            show(from)
        );
        if let Some(cycle) = find_cycle(&edges) {
            let shown: Vec<&str> = cycle.iter().map(|m| show(m)).collect();
            panic!("{name}: import circle: {}", shown.join(" -> "));
        }
    }
}

#[test]
fn the_cycle_check_finds_a_circle_and_reads_use_trees() {
    // The checker itself, on a made-up crate: it must see through groups, renames and
    // `super::`, and report a circle when there is one.
    let code = "use crate::a::{b::{self, C}, d as e};\nuse super::x;\nfn f() { crate::y::z(); }";
    let found: Vec<String> = paths(code).iter().map(|p| p.join("::")).collect();
    assert_eq!(
        found,
        [
            "crate::a::b",
            "crate::a::b::C",
            "crate::a::d",
            "super::x",
            "crate::y::z"
        ]
    );
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    edges.insert("a".into(), ["b".to_string()].into());
    edges.insert("b".into(), ["c".to_string()].into());
    edges.insert("c".into(), BTreeSet::new());
    assert_eq!(find_cycle(&edges), None);
    edges.insert("c".into(), ["a".to_string()].into());
    assert_eq!(
        find_cycle(&edges),
        Some(vec!["a".into(), "b".into(), "c".into(), "a".into()])
    );
}

#[test]
fn no_file_is_longer_than_about_400_lines_outside_its_tests() {
    for (_, krate) in crates() {
        for (module, file) in &krate.files {
            let text = std::fs::read_to_string(file).unwrap();
            let lines = text
                .lines()
                .take_while(|line| line.trim() != "#[cfg(test)]")
                .count();
            assert!(
                lines <= MAX_LINES,
                "{} ({}) has {lines} lines before its tests; split it by job (at most {MAX_LINES})",
                file.display(),
                show(module)
            );
        }
    }
}
