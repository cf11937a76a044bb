//! The shape of `imaging`, read from its source: imports run one way.
//!
//! - no module imports, directly or through others, a module that imports it back;
//! - only the pipeline (`inspect`) imports a format's decoder (`png`, `gif`, `webp`, `jpeg`,
//!   `heif`)
//!   from outside that format's own modules;
//! - the contract and the leaves the decoders share (`contract`, `reduce`, `output`, `sniff`)
//!   import nothing of `imaging`.
//!
//! Test code counts for the first rule only: a test may reach across, never back.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use regex_lite::Regex;

/// A module's path from the crate root, `["imaging", "jpeg", "dc"]`.
type Module = Vec<String>;

/// The formats: only the pipeline, and their own modules, may import them.
const FORMATS: [&str; 5] = ["png", "gif", "webp", "jpeg", "heif"];

/// Modules that import nothing of `imaging`.
const LEAVES: [&str; 4] = ["contract", "reduce", "output", "sniff"];

/// Every module of `imaging` (inline test modules as `<module>::tests`) and the modules of
/// `imaging` each one's code names: in a `use`, or in a `crate::imaging::…`, `self::…` or
/// `super::…` path anywhere in its code.
fn import_graph() -> BTreeMap<Module, BTreeSet<Module>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    collect_rust_files(&root.join("imaging"), &mut files);
    let module_of = |file: &Path| -> Module {
        let relative = file.strip_prefix(&root).unwrap().with_extension("");
        let mut parts: Module = relative
            .iter()
            .map(|p| p.to_string_lossy().into_owned())
            .collect();
        if parts.last().is_some_and(|last| last == "mod") {
            parts.pop();
        }
        parts
    };
    let mut modules: BTreeSet<Module> = files.iter().map(|f| module_of(f)).collect();
    let test_module = Regex::new(r"\n(pub\([^)]*\) )?mod tests \{").unwrap();
    let sources: Vec<(Module, String)> = files
        .iter()
        .map(|f| (module_of(f), std::fs::read_to_string(f).unwrap()))
        .collect();
    for (module, source) in &sources {
        if test_module.is_match(source) {
            modules.insert(child(module, "tests"));
        }
    }
    let use_statement = Regex::new(r"\buse\s+([^;]+);").unwrap();
    let inline_path = Regex::new(r"\b(crate::imaging|self|super(::super)*)(::\w+)+").unwrap();
    let mut graph: BTreeMap<Module, BTreeSet<Module>> = BTreeMap::new();
    for (module, source) in &sources {
        let code: String = source
            .lines()
            .map(|line| {
                if line.trim_start().starts_with("//") {
                    ""
                } else {
                    line
                }
            })
            .collect::<Vec<_>>()
            .join("\n");
        let tests_at = test_module.find(&code).map_or(usize::MAX, |m| m.start());
        let mut add = |at: usize, path: &str| {
            let from = if at > tests_at {
                child(module, "tests")
            } else {
                module.clone()
            };
            if let Some(to) = resolve(&from, path, &modules).filter(|to| *to != from) {
                graph.entry(from).or_default().insert(to);
            }
        };
        for statement in use_statement.captures_iter(&code) {
            let at = statement.get(0).unwrap().start();
            for path in expand(&statement[1]) {
                add(at, &path);
            }
        }
        for path in inline_path.find_iter(&code) {
            // `pub(in crate::imaging::…)` is a visibility, not a use.
            if !code[..path.start()].ends_with("in ") {
                add(path.start(), path.as_str());
            }
        }
    }
    for module in modules {
        graph.entry(module).or_default();
    }
    graph
}

fn collect_rust_files(dir: &Path, files: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            collect_rust_files(&path, files);
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
}

fn child(module: &Module, name: &str) -> Module {
    let mut child = module.clone();
    child.push(name.to_owned());
    child
}

/// `a::{b, c::{d, e}}` as `a::b`, `a::c::d`, `a::c::e` (`as` renames dropped).
fn expand(tree: &str) -> Vec<String> {
    let renames = Regex::new(r"\s+as\s+\w+").unwrap();
    let tree: String = renames
        .replace_all(tree, "")
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    let Some(open) = tree.find('{') else {
        return vec![tree];
    };
    let (prefix, inner) = (&tree[..open], &tree[open + 1..tree.len() - 1]);
    let (mut parts, mut depth, mut current) = (Vec::new(), 0, String::new());
    for c in inner.chars() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(std::mem::take(&mut current));
                continue;
            }
            _ => {}
        }
        current.push(c);
    }
    parts.push(current);
    parts
        .iter()
        .filter(|p| !p.is_empty())
        .flat_map(|p| expand(&format!("{prefix}{p}")))
        .collect()
}

/// The module of `imaging` that `path`, written in `from`, names: the longest prefix of it that
/// is a module.
fn resolve(from: &Module, path: &str, modules: &BTreeSet<Module>) -> Option<Module> {
    let mut segments: Vec<&str> = path.split("::").collect();
    let mut base: Module = match *segments.first()? {
        "crate" => Vec::new(),
        "self" | "super" => from.clone(),
        // A bare first segment names a child module (`use bits::Bits` in `dc`), or a crate.
        child_name if modules.contains(&child(from, child_name)) => {
            segments.insert(0, "self");
            from.clone()
        }
        _ => return None,
    };
    if segments[0] != "super" {
        segments.remove(0);
    }
    while segments.first() == Some(&"super") {
        base.pop();
        segments.remove(0);
    }
    let full: Module = base
        .into_iter()
        .chain(segments.iter().map(|s| (*s).to_owned()))
        .collect();
    (1..=full.len())
        .rev()
        .map(|n| full[..n].to_vec())
        .find(|candidate| modules.contains(candidate))
}

fn is_test(module: &Module) -> bool {
    module.iter().any(|m| m == "tests" || m == "testkit")
}

fn name(module: &Module) -> String {
    module.join("::")
}

/// A cycle through `module`, if there is one: the path back to it.
fn cycle_from(
    graph: &BTreeMap<Module, BTreeSet<Module>>,
    module: &Module,
    path: &mut Vec<Module>,
) -> Option<Vec<Module>> {
    if let Some(at) = path.iter().position(|m| m == module) {
        let mut cycle = path[at..].to_vec();
        cycle.push(module.clone());
        return Some(cycle);
    }
    path.push(module.clone());
    for next in &graph[module] {
        if let Some(cycle) = cycle_from(graph, next, path) {
            return Some(cycle);
        }
    }
    path.pop();
    None
}

#[test]
fn imports_in_imaging_run_one_way() {
    let graph = import_graph();
    assert!(
        graph.len() > 30,
        "the source was read: {} modules",
        graph.len()
    );
    for module in graph.keys() {
        if let Some(cycle) = cycle_from(&graph, module, &mut Vec::new()) {
            let cycle: Vec<String> = cycle.iter().map(name).collect();
            panic!("an import cycle: {}", cycle.join(" -> "));
        }
    }
    let format_of = |module: &Module| {
        FORMATS
            .into_iter()
            .find(|format| module.get(1).is_some_and(|m| m == format))
    };
    let mut wrong = Vec::new();
    for (from, imports) in graph.iter().filter(|(from, _)| !is_test(from)) {
        for to in imports {
            let crosses_into_format = format_of(to).is_some() && format_of(to) != format_of(from);
            if crosses_into_format && name(from) != "imaging::inspect" {
                wrong.push(format!("{} imports the decoder {}", name(from), name(to)));
            }
        }
        if LEAVES
            .iter()
            .any(|leaf| name(from) == format!("imaging::{leaf}"))
            && !imports.is_empty()
        {
            let imports: Vec<String> = imports.iter().map(name).collect();
            wrong.push(format!("{} imports {}", name(from), imports.join(", ")));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn the_layout_check_finds_a_cycle_and_a_wrong_import() {
    // The graph of a made-up layout, checked by the same rules.
    let module = |path: &str| -> Module { path.split("::").map(str::to_owned).collect() };
    let mut graph: BTreeMap<Module, BTreeSet<Module>> = BTreeMap::new();
    for (from, to) in [
        ("imaging::inspect", "imaging::jpeg"),
        ("imaging::jpeg", "imaging::contract"),
        ("imaging::contract", "imaging::inspect"),
    ] {
        graph.entry(module(from)).or_default().insert(module(to));
        graph.entry(module(to)).or_default();
    }
    let cycle = cycle_from(&graph, &module("imaging::inspect"), &mut Vec::new());
    assert_eq!(
        cycle.map(|c| c.iter().map(name).collect::<Vec<_>>()),
        Some(vec![
            "imaging::inspect".to_owned(),
            "imaging::jpeg".to_owned(),
            "imaging::contract".to_owned(),
            "imaging::inspect".to_owned(),
        ])
    );
    // And the parsing: braces expanded, `super` and `self` resolved, visibilities skipped.
    assert_eq!(
        expand("super::{gif, jpeg::{self, dc::DcError as E}}"),
        [
            "super::gif",
            "super::jpeg::self",
            "super::jpeg::dc::DcError"
        ]
    );
    let modules: BTreeSet<Module> = [
        "imaging",
        "imaging::jpeg",
        "imaging::jpeg::dc",
        "imaging::gif",
    ]
    .map(module)
    .into_iter()
    .collect();
    let from = module("imaging::jpeg::dc");
    assert_eq!(
        resolve(&from, "super::super::gif::decode", &modules),
        Some(module("imaging::gif"))
    );
    assert_eq!(
        resolve(&from, "crate::imaging::jpeg::dc::x", &modules),
        Some(module("imaging::jpeg::dc"))
    );
    assert_eq!(resolve(&from, "std::io::Cursor", &modules), None);
    let from = module("imaging::jpeg");
    assert_eq!(
        resolve(&from, "dc::DcError", &modules),
        Some(module("imaging::jpeg::dc")),
        "a child module, named bare"
    );
}
