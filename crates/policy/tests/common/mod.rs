//! A temporary copy of the example policy set to break, and how to expect a problem in it.
#![allow(clippy::unwrap_used, dead_code)] // test fixtures; each test binary uses part of them

use signaalnet_policy::{PolicySet, Problem};
use std::path::{Path, PathBuf};

pub fn example_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../policies")
}

/// A temporary copy of the example set.
pub struct Copy {
    dir: tempfile::TempDir,
}

impl Copy {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        copy_dir(&example_dir(), dir.path());
        Self { dir }
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn path(&self, file: &str) -> PathBuf {
        self.dir.path().join(file)
    }

    /// Replaces the first occurrence of `from` by `to` in `file`; returns the 1-based line
    /// where `to` starts.
    pub fn edit(&self, file: &str, from: &str, to: &str) -> usize {
        let content = std::fs::read_to_string(self.path(file)).unwrap();
        let at = content
            .find(from)
            .unwrap_or_else(|| panic!("{from:?} not in {file}"));
        let edited = format!("{}{to}{}", &content[..at], &content[at + from.len()..]);
        std::fs::write(self.path(file), edited).unwrap();
        content[..at].matches('\n').count() + 1
    }

    pub fn problems(&self) -> Vec<Problem> {
        match PolicySet::load(self.dir.path()) {
            Ok(_) => panic!("the broken set was accepted"),
            Err(p) => p.0,
        }
    }
}

pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// Asserts that `problems` contains one at `file:line` with `rule`, whose message mentions
/// every word in `mentions`.
pub fn expect(problems: &[Problem], file: &str, line: usize, rule: &str, mentions: &[&str]) {
    let found = problems
        .iter()
        .find(|p| p.file == file && p.line == line && p.rule == rule);
    let Some(p) = found else {
        panic!(
            "no {rule} at {file}:{line}; got:\n{}",
            problems
                .iter()
                .map(|p| p.to_string())
                .collect::<Vec<_>>()
                .join("\n")
        );
    };
    for word in mentions {
        assert!(p.message.contains(word), "{p} does not mention {word}");
    }
    let location = if line == 0 {
        format!("{file}: ")
    } else {
        format!("{file}:{line}: ")
    };
    assert!(p.to_string().starts_with(&location), "{p}");
}
