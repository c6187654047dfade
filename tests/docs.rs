//! The docs stay true: every schema file shown in README.md and docs/
//! loads, and every relative link between them resolves.

use std::path::{Path, PathBuf};

use tally::event::Schema;

fn pages() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut pages = vec![root.join("README.md")];
    for entry in std::fs::read_dir(root.join("docs")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "md") {
            pages.push(path);
        }
    }
    pages.sort();
    pages
}

/// The contents of every ```json block of a page.
fn json_blocks(text: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        match (&mut current, line.trim_start()) {
            (None, l) if l.starts_with("```json") => current = Some(String::new()),
            (Some(_), l) if l.starts_with("```") => blocks.extend(current.take()),
            (Some(block), _) => {
                block.push_str(line);
                block.push('\n');
            }
            _ => {}
        }
    }
    blocks
}

#[test]
fn every_schema_in_the_docs_loads() {
    let dir = tempfile::tempdir().unwrap();
    let mut loaded = Vec::new();
    for page in pages() {
        let text = std::fs::read_to_string(&page).unwrap();
        for block in json_blocks(&text) {
            let Ok(serde_json::Value::Object(o)) = serde_json::from_str(&block) else {
                continue;
            };
            // A schema names itself and its time; an event line does not.
            if !(o.contains_key("name") && o.contains_key("time")) {
                continue;
            }
            let path = dir.path().join(format!("schema{}.json", loaded.len()));
            std::fs::write(&path, &block).unwrap();
            let schema = Schema::load(path.to_str().unwrap()).unwrap_or_else(|e| {
                panic!("{}: a schema is refused: {e}\n{block}", page.display())
            });
            tally::Engine::start(tally::Config::new(schema.clone()))
                .unwrap_or_else(|e| panic!("{}: {e}", page.display()));
            loaded.push(schema.name);
        }
    }
    assert!(loaded.contains(&"orders".to_string()), "{loaded:?}");
    assert!(loaded.len() >= 2, "{loaded:?}");
}

#[test]
fn relative_links_between_pages_resolve() {
    let mut broken = Vec::new();
    for page in pages() {
        let text = std::fs::read_to_string(&page).unwrap();
        let dir = page.parent().unwrap();
        for (i, _) in text.match_indices("](") {
            let rest = &text[i + 2..];
            let Some(end) = rest.find(')') else { continue };
            let target = &rest[..end];
            if target.contains("://") || target.starts_with('#') || target.starts_with("mailto:") {
                continue;
            }
            let file = target.split('#').next().unwrap_or("");
            if !file.is_empty() && !dir.join(file).exists() {
                broken.push(format!("{}: {target}", page.display()));
            }
        }
    }
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}
