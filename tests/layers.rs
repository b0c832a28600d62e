//! The modules of `src/` are layers (see `docs/architecture.md`): each may
//! import from its own layer and the layers below it, never from one
//! above. This test reads the sources and fails on an upward import, so
//! the layering cannot erode unnoticed.

use std::path::{Path, PathBuf};

/// The layers, bottom first: the folders under `src/`.
const LAYERS: &[&str] = &[
    "base", "protocol", "model", "display", "channels", "worker", "server", "capi",
];

/// Layers a layer may not import even though they are below it.
fn also_forbidden(layer: &str) -> &'static [&'static str] {
    match layer {
        // The wire format is pure data: it needs nothing of the library.
        "protocol" => &["base"],
        _ => &[],
    }
}

fn rank(layer: &str) -> Option<usize> {
    LAYERS.iter().position(|l| *l == layer)
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("readable source folder") {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The layers a source text names through `crate::<layer>` or
/// `$crate::<layer>` paths, with the line of each.
fn imported_layers(text: &str) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let code = line.split("//").next().unwrap_or("");
        let mut rest = code;
        while let Some(at) = rest.find("crate::") {
            let after = &rest[at + "crate::".len()..];
            // `crate::{a::B, C}` names several paths.
            let names: Vec<&str> = match after.strip_prefix('{') {
                Some(group) => group.split('}').next().unwrap_or("").split(',').collect(),
                None => vec![after],
            };
            for path in names {
                let name: String = path
                    .trim()
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                // `crate::Server` and the like are the root's re-exports,
                // which only the top layer uses.
                let layer = if name.starts_with(|c: char| c.is_ascii_uppercase()) {
                    "capi".to_string()
                } else {
                    name
                };
                found.push((number + 1, layer));
            }
            rest = after;
        }
    }
    found
}

#[test]
fn no_module_imports_from_a_layer_above_its_own() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut violations = Vec::new();
    let mut checked = 0;
    for file in &files {
        let relative = file.strip_prefix(&src).expect("under src");
        let Some(own) = relative
            .components()
            .next()
            .and_then(|c| c.as_os_str().to_str())
            .filter(|first| relative.components().count() > 1 || !first.ends_with(".rs"))
        else {
            // lib.rs and the crate's own tests sit above every layer.
            continue;
        };
        let own_rank = rank(own).unwrap_or_else(|| panic!("{own}: a folder that is no layer"));
        let text = std::fs::read_to_string(file).expect("readable source");
        for (line, layer) in imported_layers(&text) {
            checked += 1;
            let Some(their_rank) = rank(&layer) else {
                violations.push(format!(
                    "{}:{line}: crate::{layer} is no layer",
                    relative.display()
                ));
                continue;
            };
            if their_rank > own_rank || also_forbidden(own).contains(&layer.as_str()) {
                violations.push(format!(
                    "{}:{line}: the {own} layer imports from {layer}",
                    relative.display()
                ));
            }
        }
    }
    assert!(
        checked > 100,
        "only {checked} imports found: is the scan broken?"
    );
    assert!(
        violations.is_empty(),
        "upward imports:\n{}",
        violations.join("\n")
    );
}

#[test]
fn the_scan_sees_imports_and_ignores_comments() {
    let found = imported_layers(
        "use crate::model::channel::Channel;\n// crate::server in a comment\nlet x = $crate::base::log::log; crate::Server::new();\nuse crate::{worker::Worker, Client};",
    );
    let layers: Vec<_> = found.iter().map(|(_, l)| l.as_str()).collect();
    assert_eq!(layers, ["model", "base", "capi", "worker", "capi"]);
}
