//! The layering `src/lib.rs` states, checked on the source: a top-level module names only
//! modules on a lower layer (`crate::X` / `vae_gpu::X`), and no two modules inside one import
//! each other, directly or around a longer cycle.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Bottom to top; a module may use only those on earlier lines. Must match src/lib.rs's doc.
const LAYERS: &[&[&str]] = &[
    &["error", "text", "atomic"],
    &["gpu", "data", "run_dir"],
    &["tensor", "grid"],
    &["kernels"],
    &["params", "check"],
    &["autograd"],
    &["nn"],
    &["models"],
    &["train", "bench"],
    &["pipelines"],
    &["eval"],
    &["report", "reproduce"],
    &["cli"],
];

fn level(module: &str) -> Option<usize> {
    LAYERS.iter().position(|l| l.contains(&module))
}

/// Every .rs file under src/, as its module path (`kernels::conv::gemm`) and its source with
/// comments and test modules cut.
fn sources() -> BTreeMap<String, String> {
    fn walk(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    walk(&root, &mut files);
    files
        .into_iter()
        .filter_map(|p| {
            let rel = p.strip_prefix(&root).unwrap().with_extension("");
            let mut parts: Vec<String> = rel.iter().map(|s| s.to_string_lossy().into()).collect();
            if parts.last().is_some_and(|l| l == "mod") {
                parts.pop();
            }
            let name = parts.join("::");
            if name == "lib" || name == "main" {
                return None;
            }
            let text = std::fs::read_to_string(&p).unwrap();
            let code: String = text
                .split("#[cfg(test)]")
                .next()
                .unwrap()
                .lines()
                .map(|l| l.split("//").next().unwrap())
                .collect::<Vec<_>>()
                .join("\n");
            Some((name, code))
        })
        .collect()
}

/// The paths `prefix::a::b…` in `code`, each as its identifiers; a group
/// (`prefix::{a::b, c}`) gives one path per member.
fn paths(code: &str, prefix: &str) -> Vec<Vec<String>> {
    let ident = |c: char| c.is_alphanumeric() || c == '_' || c == ':';
    let mut out = Vec::new();
    for (i, _) in code.match_indices(prefix) {
        if code[..i].chars().next_back().is_some_and(ident) {
            continue;
        }
        let rest = &code[i + prefix.len()..];
        let members: Vec<&str> = match rest.strip_prefix('{') {
            Some(group) => {
                // The group's members at its top level (a nested group keeps only its head).
                let mut depth = 0;
                let end = group
                    .find(|c| {
                        match c {
                            '{' => depth += 1,
                            '}' if depth == 0 => return true,
                            '}' => depth -= 1,
                            _ => {}
                        }
                        false
                    })
                    .unwrap_or(group.len());
                group[..end].split(',').collect()
            }
            None => vec![rest],
        };
        for m in members {
            let m = m.trim_start();
            let end = m.find(|c| !ident(c)).unwrap_or(m.len());
            let p: Vec<String> = m[..end]
                .split("::")
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect();
            if !p.is_empty() && p[0] != "self" {
                out.push(p);
            }
        }
    }
    out
}

#[test]
fn no_module_imports_one_above_it() {
    let src = sources();
    let mut bad = BTreeSet::new();
    for (name, code) in &src {
        let top = name.split("::").next().unwrap();
        let mine = level(top).unwrap_or_else(|| panic!("src/{top} is on no layer of LAYERS"));
        for prefix in ["crate::", "vae_gpu::"] {
            for p in paths(code, prefix) {
                let used = p[0].as_str();
                if used == top || level(used).is_none() {
                    continue;
                }
                if level(used).unwrap() >= mine {
                    bad.insert(format!("{name} uses {used}"));
                }
            }
        }
    }
    assert!(bad.is_empty(), "upward or sideways imports:\n{bad:#?}");
}

#[test]
fn no_two_modules_import_each_other() {
    let src = sources();
    let mut edges: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    for (name, code) in &src {
        let parent = name.rsplit_once("::").map(|(p, _)| p);
        let mut uses = BTreeSet::new();
        let mut all = paths(code, "crate::");
        all.extend(paths(code, "vae_gpu::"));
        for p in all {
            // The longest prefix of the path that is a module file.
            let target = (1..=p.len())
                .rev()
                .map(|k| p[..k].join("::"))
                .find(|m| src.contains_key(m));
            uses.extend(target);
        }
        if let Some(parent) = parent {
            for p in paths(code, "super::") {
                let child = format!("{parent}::{}", p[0]);
                uses.insert(if src.contains_key(&child) {
                    child
                } else {
                    parent.to_string()
                });
            }
        }
        // A module using its own ancestors' items is how Rust nests; what counts is a module
        // reaching back to itself through others.
        uses.retain(|u| u != name && !name.starts_with(&format!("{u}::")));
        edges.insert(name, uses);
    }
    for start in edges.keys() {
        let mut seen = BTreeSet::new();
        let mut stack: Vec<String> = edges[start].iter().cloned().collect();
        while let Some(m) = stack.pop() {
            assert!(
                m != *start,
                "{start} imports itself around a cycle through {seen:?}"
            );
            if seen.insert(m.clone()) {
                stack.extend(edges.get(m.as_str()).into_iter().flatten().cloned());
            }
        }
    }
}
