//! `docs/configuration.md` against the code: every variable the programs read has a row in one
//! of the document's checked tables, and every row there names a variable some program reads.
//!
//! The names come from the code, not from a list kept beside it: every settings constructor of
//! `image_upload::config` runs with a lookup that records each name it asks for, once with
//! nothing set and once with each set of variables that opens another branch. Two checks keep
//! that complete: `src/config/` declares no constructor this test does not run, and nothing in
//! `src/` outside `src/config/` reads the environment, but the two pieces of test plumbing named
//! below.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use image_upload::config::{DemoUser, Endpoints, Settings, SmokeSignIn};

const DOC: &str = "docs/configuration.md";

/// The first heading after the checked part of the document: what follows (variables read by the
/// libraries, the harness's and the recipes') is not compared with the code.
const UNCHECKED_HEADING: &str = "## Variables the programs do not read";

/// A checked table is one whose header starts with this; its first column names the variables.
const TABLE_HEADER: &str = "| variable |";

type Lookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// A constructor run through a lookup: `true` when it accepted what it read (a constructor that
/// refuses stops reading, and would hide the names after).
type Run = fn(Lookup) -> bool;

/// Every `from_lookup*` of `src/config/`.
const CONSTRUCTORS: [(&str, Run); 6] = [
    ("Settings::from_lookup", |lookup| {
        Settings::from_lookup(lookup).is_ok()
    }),
    ("Settings::from_lookup_for_local_server", |lookup| {
        Settings::from_lookup_for_local_server(lookup).is_ok()
    }),
    ("Settings::from_lookup_for_tools", |lookup| {
        Settings::from_lookup_for_tools(lookup).is_ok()
    }),
    ("Endpoints::from_lookup", |lookup| {
        Endpoints::from_lookup(lookup);
        true
    }),
    ("DemoUser::from_lookup", |lookup| {
        DemoUser::from_lookup(lookup);
        true
    }),
    ("SmokeSignIn::from_lookup", |lookup| {
        SmokeSignIn::from_lookup(lookup).is_ok()
    }),
];

/// What each constructor is run with: nothing, then each set of variables that makes some
/// constructor read variables it does not read otherwise.
const SCENARIOS: [&[(&str, &str)]; 4] = [
    &[],
    // An anonymous local server asks whether it may listen beyond loopback only when it would.
    &[
        ("LISTEN_ADDR", "0.0.0.0:3000"),
        ("ANONYMOUS_BEYOND_LOOPBACK", "true"),
    ],
    // The window of the CDN's URLs is read only once the CDN is configured.
    &[
        ("CDN_URL", "https://d111111abcdef8.cloudfront.net"),
        ("CDN_KEY_PAIR_ID", "K2JCJMDEHXQW5F"),
        ("CDN_PRIVATE_KEY_FILE", "/keys/cdn.pem"),
    ],
    // The smoke client asks where Cognito is only for a whole Cognito user.
    &[
        ("COGNITO_CLIENT_ID", "client"),
        ("COGNITO_USERNAME", "demo@example.com"),
        ("COGNITO_PASSWORD", "Secret-123"),
        ("AWS_REGION", "eu-west-1"),
    ],
];

/// Reads of the environment in `src/` outside `src/config/` that are not settings: each call, as
/// written, and why it may stay.
const TEST_PLUMBING: [(&str, &str); 2] = [
    (
        "std::env::var_os(CHILD)",
        "src/aws/tls.rs: the TLS test runs itself again in a child process whose system store \
         trusts the test CA; the variable tells the child it is the child",
    ),
    (
        "std::env::var(ALONE_VAR)",
        "src/test_alloc.rs: a memory measurement runs its test again alone in a child process; \
         the variable tells the child which test it is",
    ),
];

/// Every variable the code reads, with the constructors that read it.
fn read_by_the_code() -> BTreeMap<String, BTreeSet<&'static str>> {
    let mut read: BTreeMap<String, BTreeSet<&'static str>> = BTreeMap::new();
    for (constructor, run) in CONSTRUCTORS {
        for vars in SCENARIOS {
            let asked = RefCell::new(BTreeSet::new());
            let lookup = |name: &str| {
                asked.borrow_mut().insert(name.to_owned());
                vars.iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, v)| (*v).to_owned())
            };
            assert!(
                run(&lookup),
                "{constructor} refused {vars:?}: it would stop reading, so the names it reads \
                 after would go unnoticed; give the scenario values it accepts"
            );
            for name in asked.into_inner() {
                read.entry(name).or_default().insert(constructor);
            }
        }
    }
    read
}

/// The variables the checked tables of the document name.
fn documented(doc: &str) -> BTreeSet<String> {
    let (checked, _) = doc.split_once(UNCHECKED_HEADING).unwrap_or_else(|| {
        panic!("{DOC} has no heading {UNCHECKED_HEADING:?}, where its checked part ends")
    });
    let mut names = BTreeSet::new();
    let mut in_table = false;
    for line in checked.lines().map(str::trim) {
        if line.starts_with(TABLE_HEADER) {
            in_table = true;
            continue;
        }
        if !line.starts_with('|') {
            in_table = false;
            continue;
        }
        if !in_table || line.starts_with("| ---") || line.starts_with("|---") {
            continue;
        }
        let first_cell = line.split('|').nth(1).unwrap_or_default();
        names.extend(
            first_cell
                .split('`')
                .skip(1)
                .step_by(2)
                .filter(|word| is_variable_name(word))
                .map(str::to_owned),
        );
    }
    names
}

fn is_variable_name(word: &str) -> bool {
    word.starts_with(|c: char| c.is_ascii_uppercase())
        && word
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every `.rs` file under `dir`, as a path relative to the repository.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut dirs = vec![dir.to_owned()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|ext| ext == "rs") {
                files.push(
                    path.strip_prefix(root())
                        .expect("under the root")
                        .to_owned(),
                );
            }
        }
    }
    files.sort();
    files
}

#[test]
fn every_variable_the_code_reads_is_documented_and_every_documented_one_is_read() {
    let read = read_by_the_code();
    let doc = std::fs::read_to_string(root().join(DOC)).expect("docs/configuration.md");
    let documented = documented(&doc);
    assert!(
        !documented.is_empty(),
        "no variable found in {DOC}'s checked tables (tables headed {TABLE_HEADER:?} before \
         {UNCHECKED_HEADING:?}): this test would prove nothing"
    );

    let undocumented: Vec<String> = read
        .iter()
        .filter(|(name, _)| !documented.contains(*name))
        .map(|(name, by)| {
            let by: Vec<&str> = by.iter().copied().collect();
            format!("{name} (read by {})", by.join(", "))
        })
        .collect();
    let unread: Vec<&String> = documented
        .iter()
        .filter(|name| !read.contains_key(*name))
        .collect();
    let mut problems = Vec::new();
    if !undocumented.is_empty() {
        problems.push(format!(
            "read by the code, missing from the checked tables of {DOC}:\n  {}",
            undocumented.join("\n  ")
        ));
    }
    if !unread.is_empty() {
        let unread: Vec<&str> = unread.iter().map(|name| name.as_str()).collect();
        problems.push(format!(
            "in the checked tables of {DOC}, read by no program (gone from the code, or \
             belongs under {UNCHECKED_HEADING:?}):\n  {}",
            unread.join("\n  ")
        ));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn every_settings_constructor_is_run_by_this_test() {
    let mut declared = Vec::new();
    for file in rust_files(&root().join("src/config")) {
        let text = std::fs::read_to_string(root().join(&file)).expect("a source file");
        for (number, line) in text.lines().enumerate() {
            if line.trim_start().starts_with("pub fn from_lookup") {
                declared.push(format!(
                    "{}:{}: {}",
                    file.display(),
                    number + 1,
                    line.trim()
                ));
            }
        }
    }
    assert_eq!(
        declared.len(),
        CONSTRUCTORS.len(),
        "src/config/ declares these constructors, and this test runs {:?}: add the new one to \
         CONSTRUCTORS (and a scenario if it reads more when something is set)\n  {}",
        CONSTRUCTORS.map(|(name, _)| name),
        declared.join("\n  ")
    );
}

#[test]
fn only_src_config_reads_the_environment() {
    let mut stray = Vec::new();
    let mut plumbing_seen = vec![0; TEST_PLUMBING.len()];
    for file in rust_files(&root().join("src")) {
        if file.starts_with("src/config") {
            continue;
        }
        let text = std::fs::read_to_string(root().join(&file)).expect("a source file");
        for (number, line) in text.lines().enumerate() {
            if !line.contains("env::var") {
                continue;
            }
            match TEST_PLUMBING
                .iter()
                .position(|(call, _)| line.contains(call))
            {
                Some(i) => plumbing_seen[i] += 1,
                None => stray.push(format!(
                    "{}:{}: {}",
                    file.display(),
                    number + 1,
                    line.trim()
                )),
            }
        }
    }
    assert!(
        stray.is_empty(),
        "settings are read in src/config/ only (typed, read once in main, passed in); these read \
         the environment elsewhere:\n  {}",
        stray.join("\n  ")
    );
    for ((call, why), seen) in TEST_PLUMBING.iter().zip(plumbing_seen) {
        assert_eq!(
            seen, 1,
            "{call} ({why}) is allowed once and found {seen} times: update TEST_PLUMBING"
        );
    }
}
