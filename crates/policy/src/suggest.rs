//! "Did you mean …?": the nearest valid name for a misspelt one, so a privacy officer sees the
//! fix next to the mistake. Distance is the optimal string alignment distance (Levenshtein with
//! the swap of two neighbouring letters as one edit), over characters, not bytes.

/// The candidate nearest to `word`, if one is near enough to be a misspelling of it: at most one
/// edit per four characters (at least one, at most three). Ties go to the first candidate.
pub fn nearest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (word.chars().count() / 4).clamp(1, 3);
    let mut best: Option<(usize, &str)> = None;
    for candidate in candidates {
        if candidate == word {
            continue;
        }
        let d = distance(word, candidate);
        if d <= limit && best.is_none_or(|(b, _)| d < b) {
            best = Some((d, candidate));
        }
    }
    best.map(|(_, c)| c)
}

/// `; did you mean `x`?` for the nearest candidate, or nothing.
pub fn did_you_mean<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    nearest(word, candidates)
        .map(|c| format!("; did you mean `{c}`?"))
        .unwrap_or_default()
}

/// Optimal string alignment distance between `a` and `b`.
fn distance(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    // Three rows: two back (for swaps), one back, and the current one.
    let mut before: Vec<usize> = vec![0; b.len() + 1];
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    let mut current = vec![0; b.len() + 1];
    for i in 1..=a.len() {
        current[0] = i;
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut d = (previous[j] + 1)
                .min(current[j - 1] + 1)
                .min(previous[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d = d.min(before[j - 2] + 1);
            }
            current[j] = d;
        }
        std::mem::swap(&mut before, &mut previous);
        std::mem::swap(&mut previous, &mut current);
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances() {
        assert_eq!(distance("vorm_uitbuitng", "vorm_uitbuiting"), 1);
        assert_eq!(distance("retention_hist", "retention_hits"), 1);
        assert_eq!(distance("", "abc"), 3);
        assert_eq!(distance("kitten", "sitting"), 3);
        assert_eq!(distance("adres", "address"), 2);
    }

    #[test]
    fn the_nearest_close_candidate_or_none() {
        let ids = ["vorm_uitbuiting", "sector", "gemeente", "minderjarig"];
        assert_eq!(nearest("vorm_uitbuitng", ids), Some("vorm_uitbuiting"));
        assert_eq!(nearest("gemeent", ids), Some("gemeente"));
        // Too far from anything to be a misspelling.
        assert_eq!(nearest("nationaliteit", ids), None);
        assert_eq!(
            nearest("sector", ids),
            None,
            "the word itself is no suggestion"
        );
        assert_eq!(nearest("bns", ["bsn", "iban"]), Some("bsn"));
    }
}
