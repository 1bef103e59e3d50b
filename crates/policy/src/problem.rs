//! What is wrong with a policy set, located by file and line.

use std::fmt;

/// One problem in a policy set: where, which rule, and what to do about it. In JSON
/// (`policy check --json`) an object with these four fields.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Problem {
    /// Path relative to the policy directory, e.g. `partners/gemeente-groningen.toml`.
    pub file: String,
    /// 1-based line; 0 when the problem concerns the file as a whole.
    pub line: usize,
    /// Stable identifier of the rule, e.g. `basis.sensitivity`.
    pub rule: &'static str,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line > 0 {
            write!(
                f,
                "{}:{}: {} [{}]",
                self.file, self.line, self.message, self.rule
            )
        } else {
            write!(f, "{}: {} [{}]", self.file, self.message, self.rule)
        }
    }
}

/// Every problem found in a policy set that could not be loaded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct PolicyProblems(pub Vec<Problem>);

impl fmt::Display for PolicyProblems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "the policy set has {} problem(s):", self.0.len())?;
        for p in &self.0 {
            writeln!(f, "  {p}")?;
        }
        Ok(())
    }
}

/// One source file of a policy set, with a helper to turn byte offsets into lines.
#[derive(Debug, Clone)]
pub struct Source {
    pub path: String,
    pub content: String,
}

impl Source {
    pub fn line_of(&self, offset: usize) -> usize {
        let end = offset.min(self.content.len());
        self.content.as_bytes()[..end]
            .iter()
            .filter(|b| **b == b'\n')
            .count()
            + 1
    }
}
