//! The shape of the source tree, checked: imports point one way.
//!
//! Top-level modules sit in layers, from the tools down to the plain types
//! (the order `docs/architecture.md` draws). A module may name modules of
//! its own layer or below, never above; no two modules import each other,
//! even within a layer; and no two files of one folder import each other.
//! Tests (`#[cfg(test)]` and after) and comments are not imports.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Lowest first. A module of layer i may use any module of layers 0..=i.
const LAYERS: &[&[&str]] = &[
    &["error", "value", "time", "hash", "count", "files", "codec"],
    &["event"],
    &["window"],
    &["ingest"],
    &["query"],
    &["rules"],
    &["storage"],
    &["engine"],
    &["generator", "shell", "bench", "server"],
    &["cli"],
];

/// One source file: its module path (`["query", "raw"]`) and its code.
struct Source {
    module: Vec<String>,
    is_facade: bool,
    code: String,
}

fn sources() -> Vec<Source> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut out = Vec::new();
    let mut stack = vec![root.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(source(&root, path));
            }
        }
    }
    out
}

fn source(root: &Path, path: PathBuf) -> Source {
    let rel = path.strip_prefix(root).unwrap();
    let mut module: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().trim_end_matches(".rs").to_string())
        .collect();
    let is_facade = module.last().is_some_and(|m| m == "mod");
    if is_facade {
        module.pop();
    }
    let text = std::fs::read_to_string(&path).unwrap();
    let text = match text.find("#[cfg(test)]") {
        Some(i) => &text[..i],
        None => &text[..],
    };
    let code = text
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n");
    Source {
        module,
        is_facade,
        code,
    }
}

/// Every path a piece of code names after `prefix` (`crate::`, `super::`),
/// with a `a::{b, c::d}` group expanded to one path per item, each ending
/// at the item's first segment (`a::b`, `a::c`).
fn named_after(code: &str, prefix: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let mut rest = code;
    while let Some(i) = rest.find(prefix) {
        let before = rest[..i].chars().last();
        rest = &rest[i + prefix.len()..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
            continue;
        }
        let path: String = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
            .collect();
        let mut segments: Vec<String> = path
            .split("::")
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect();
        let after = &rest[path.len()..];
        if (path.is_empty() || path.ends_with("::")) && after.starts_with('{') {
            for item in top_level_items(after) {
                let first = item.trim().split("::").next().unwrap_or("").trim();
                if !first.is_empty() {
                    let mut p = segments.clone();
                    p.push(first.to_string());
                    out.push(p);
                }
            }
            segments.clear();
        }
        if !segments.is_empty() {
            out.push(segments);
        }
    }
    out
}

/// The comma-separated items of the `{...}` group `text` starts with.
fn top_level_items(text: &str) -> Vec<&str> {
    let mut items = Vec::new();
    let (mut depth, mut start) = (0, 1);
    for (i, c) in text.char_indices() {
        match c {
            '{' => depth += 1,
            '}' | ',' if depth == 1 => {
                items.push(&text[start..i]);
                start = i + 1;
                if c == '}' {
                    break;
                }
            }
            '}' => depth -= 1,
            _ => {}
        }
    }
    items
}

/// `pub use child::{A, B}` in a façade: which child each name comes from.
fn reexports(facade: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for path in named_after(&facade.replace("pub use ", "pub use self::"), "self::") {
        if let [child, item, ..] = &path[..] {
            out.insert(item.clone(), child.clone());
        }
    }
    out
}

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|l| l.contains(&module))
}

/// Cycles of a directed graph (strongly connected components with more
/// than one node), each sorted.
fn cycles(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    let nodes: Vec<&String> = graph.keys().collect();
    let reach = |from: &String| {
        let mut seen = BTreeSet::new();
        let mut todo = vec![from.clone()];
        while let Some(n) = todo.pop() {
            for m in graph.get(&n).into_iter().flatten() {
                if seen.insert(m.clone()) {
                    todo.push(m.clone());
                }
            }
        }
        seen
    };
    let mut out: BTreeSet<Vec<String>> = BTreeSet::new();
    for a in &nodes {
        let from_a = reach(a);
        if !from_a.contains(*a) {
            continue;
        }
        let comp: Vec<String> = from_a
            .iter()
            .filter(|b| reach(b).contains(*a))
            .cloned()
            .collect();
        out.insert(comp);
    }
    out.into_iter().collect()
}

#[test]
fn top_level_modules_import_downwards_only() {
    let sources = sources();
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut upward = Vec::new();
    for s in &sources {
        let Some(top) = s.module.first() else {
            continue;
        };
        if top == "main" || top == "lib" {
            continue;
        }
        let from = layer_of(top).unwrap_or_else(|| {
            panic!("src/{top} is in no layer of tests/layers.rs: place it in one")
        });
        for path in named_after(&s.code, "crate::") {
            let to = &path[0];
            let Some(to_layer) = layer_of(to) else {
                continue;
            };
            if to == top {
                continue;
            }
            graph.entry(top.clone()).or_default().insert(to.clone());
            if to_layer > from {
                upward.push(format!(
                    "{} uses crate::{}",
                    s.module.join("/"),
                    path.join("::")
                ));
            }
        }
    }
    assert!(
        upward.is_empty(),
        "imports pointing up the layers:\n{}",
        upward.join("\n")
    );
    let loops = cycles(&graph);
    assert!(loops.is_empty(), "modules importing each other: {loops:?}");
}

#[test]
fn files_of_one_folder_do_not_import_each_other() {
    let sources = sources();
    let facades: BTreeMap<Vec<String>, &Source> = sources
        .iter()
        .filter(|s| s.is_facade)
        .map(|s| (s.module.clone(), s))
        .collect();
    let mut graphs: BTreeMap<Vec<String>, BTreeMap<String, BTreeSet<String>>> = BTreeMap::new();
    for s in sources
        .iter()
        .filter(|s| !s.is_facade && s.module.len() >= 2)
    {
        let folder = s.module[..s.module.len() - 1].to_vec();
        let me = s.module.last().unwrap().clone();
        let siblings: BTreeSet<String> = sources
            .iter()
            .filter(|o| !o.is_facade && o.module.len() == s.module.len())
            .filter(|o| o.module[..o.module.len() - 1] == folder[..])
            .map(|o| o.module.last().unwrap().clone())
            .collect();
        let exported = facades
            .get(&folder)
            .map(|f| reexports(&f.code))
            .unwrap_or_default();
        let mut uses = Vec::new();
        for path in named_after(&s.code, "super::") {
            uses.push(path[0].clone());
        }
        let crate_prefix: Vec<String> = folder.clone();
        for path in named_after(&s.code, "crate::") {
            if path.len() > folder.len() && path[..folder.len()] == crate_prefix[..] {
                uses.push(path[folder.len()].clone());
            }
        }
        for name in uses {
            let sibling = if siblings.contains(&name) {
                Some(name)
            } else {
                exported.get(&name).cloned()
            };
            if let Some(sib) = sibling.filter(|sib| *sib != me) {
                graphs
                    .entry(folder.clone())
                    .or_default()
                    .entry(me.clone())
                    .or_default()
                    .insert(sib);
            }
        }
    }
    let mut loops = Vec::new();
    for (folder, graph) in &graphs {
        for c in cycles(graph) {
            loops.push(format!("src/{}: {}", folder.join("/"), c.join(" <-> ")));
        }
    }
    assert!(
        loops.is_empty(),
        "files importing each other:\n{}",
        loops.join("\n")
    );
}

#[test]
fn the_checker_sees_groups_and_cycles() {
    let paths = named_after("use crate::{event::Key, time};\nx::crate::no", "crate::");
    assert_eq!(paths, [vec!["event"], vec!["time"]]);
    let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    g.entry("a".into()).or_default().insert("b".into());
    g.entry("b".into()).or_default().insert("a".into());
    g.entry("c".into()).or_default().insert("a".into());
    assert_eq!(cycles(&g), [vec!["a".to_string(), "b".to_string()]]);
}
